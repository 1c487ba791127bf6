# Deliberate violations: `make deploy` runs checkov here and expects every custom policy to
# fail exactly once, which proves the policies are evaluated at all.
resource "juju_model" "nowhere" {
  name = "nowhere"
}

resource "juju_application" "depot" {
  name       = "depot"
  model_uuid = juju_model.nowhere.uuid
  trust      = true

  charm {
    name = "depot-k8s"
  }
}

resource "juju_application" "postgresql" {
  name       = "postgresql"
  model_uuid = juju_model.nowhere.uuid
  trust      = true

  charm {
    name    = "postgresql-k8s"
    channel = "16/stable"
  }
}

resource "juju_integration" "database" {
  application {
    name     = juju_application.depot.name
    endpoint = "database"
  }

  application {
    name     = juju_application.postgresql.name
    endpoint = "database"
  }
}

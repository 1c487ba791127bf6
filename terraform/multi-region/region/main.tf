# One region: a model with depot, its PostgreSQL cluster, an ingress and S3 credentials,
# integrated with each other and with the COS offers. The primary region's PostgreSQL is the
# replication source; a replica region's is a standby the caller attaches to it.

resource "juju_model" "region" {
  name = var.model_name

  cloud {
    name   = var.cloud
    region = var.cloud_region
  }
}

module "depot" {
  source = "../.."

  model_uuid         = juju_model.region.uuid
  app_name           = "depot"
  channel            = var.depot.channel
  revision           = var.depot.revision
  base               = var.depot.base
  units              = var.depot.units
  storage_directives = { data = var.depot.storage }
  resources          = var.depot.resources
  config             = merge(var.depot.config, local.signing_keys_config, { replica = tostring(var.replica) })
}

# The signing keys: a user secret the operator added to this region's model (the same keys
# in every region, so that devices see one authority wherever they are served). Terraform
# only looks it up by name and grants it to depot; the key material never enters its state.
data "juju_secret" "signing_keys" {
  count      = var.signing_keys_secret == null ? 0 : 1
  model_uuid = juju_model.region.uuid
  name       = var.signing_keys_secret
}

resource "juju_access_secret" "signing_keys" {
  count        = var.signing_keys_secret == null ? 0 : 1
  model_uuid   = juju_model.region.uuid
  secret_id    = data.juju_secret.signing_keys[0].secret_id
  applications = [module.depot.app_name]
}

locals {
  signing_keys_config = var.signing_keys_secret == null ? {} : {
    signing-keys-secret = "secret:${data.juju_secret.signing_keys[0].secret_id}"
  }
}

resource "juju_application" "postgresql" {
  name       = "postgresql"
  model_uuid = juju_model.region.uuid
  trust      = true
  units      = var.postgresql.units

  charm {
    name     = "postgresql-k8s"
    channel  = var.postgresql.channel
    revision = var.postgresql.revision
    base     = var.postgresql.base
  }

  storage_directives = { pgdata = var.postgresql.storage_size }
}

resource "juju_application" "traefik" {
  name       = "traefik"
  model_uuid = juju_model.region.uuid
  trust      = true
  units      = 1

  charm {
    name     = "traefik-k8s"
    channel  = var.traefik.channel
    revision = var.traefik.revision
  }

  config = {
    external_hostname = var.external_hostname
    routing_mode      = "subdomain"
  }
}

resource "juju_application" "s3" {
  name       = "s3-integrator"
  model_uuid = juju_model.region.uuid
  units      = 1

  charm {
    name    = "s3-integrator"
    channel = var.s3.channel
  }

  config = {
    endpoint     = var.s3.endpoint
    bucket       = var.s3.bucket
    region       = var.s3.region
    s3-uri-style = var.s3.uri_style
  }
}

resource "juju_integration" "database" {
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.requires.database
  }

  application {
    name     = juju_application.postgresql.name
    endpoint = "database"
  }
}

resource "juju_integration" "ingress" {
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.requires.ingress
  }

  application {
    name     = juju_application.traefik.name
    endpoint = "ingress"
  }
}

resource "juju_integration" "s3" {
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.requires.s3
  }

  application {
    name     = juju_application.s3.name
    endpoint = "s3-credentials"
  }
}

resource "juju_integration" "metrics" {
  count      = var.cos_offers.prometheus_metrics == null ? 0 : 1
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.provides.metrics_endpoint
  }

  application {
    offer_url = var.cos_offers.prometheus_metrics
  }
}

resource "juju_integration" "dashboards" {
  count      = var.cos_offers.grafana_dashboards == null ? 0 : 1
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.provides.grafana_dashboard
  }

  application {
    offer_url = var.cos_offers.grafana_dashboards
  }
}

resource "juju_integration" "logging" {
  count      = var.cos_offers.loki_logging == null ? 0 : 1
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.requires.logging
  }

  application {
    offer_url = var.cos_offers.loki_logging
  }
}

resource "juju_integration" "tracing" {
  count      = var.cos_offers.tempo_tracing == null ? 0 : 1
  model_uuid = juju_model.region.uuid

  application {
    name     = module.depot.app_name
    endpoint = module.depot.requires.tracing
  }

  application {
    offer_url = var.cos_offers.tempo_tracing
  }
}

# One depot deployment: the depot-k8s charm in an existing Kubernetes model. The caller
# integrates it with PostgreSQL (required), an ingress, S3 and observability, using the
# endpoint names this module publishes in its outputs.
resource "juju_application" "depot" {
  name       = var.app_name
  model_uuid = var.model_uuid
  trust      = false

  charm {
    name     = "depot-k8s"
    channel  = var.channel
    revision = var.revision
    base     = var.base
  }

  config             = var.config
  constraints        = var.constraints
  units              = var.units
  storage_directives = var.storage_directives
  resources          = var.resources
}

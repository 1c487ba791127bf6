# depot in several regions: one primary region that takes writes, and read replica regions
# whose depot units follow the primary's change log through an asynchronous PostgreSQL
# standby. Every region serves device reads from its own units; see README.md.

module "primary" {
  source = "./region"

  model_name        = "${var.model_prefix}-${var.primary.name}"
  cloud             = var.primary.cloud
  cloud_region      = var.primary.cloud_region
  replica           = false
  external_hostname = var.primary.external_hostname
  cos_offers        = var.cos_offers
  traefik           = var.traefik

  signing_keys_secret = var.signing_keys_secret

  depot = {
    channel   = var.depot.channel
    revision  = var.depot.revision
    base      = var.depot.base
    units     = var.primary.depot_units
    storage   = var.depot.storage
    config    = var.depot.config
    resources = var.depot.resources
  }

  postgresql = var.postgresql

  s3 = merge(var.primary.s3, { channel = var.s3_integrator_channel })
}

module "replica" {
  source   = "./region"
  for_each = var.replicas

  model_name        = "${var.model_prefix}-${each.key}"
  cloud             = each.value.cloud
  cloud_region      = each.value.cloud_region
  replica           = true
  external_hostname = each.value.external_hostname
  cos_offers        = var.cos_offers
  traefik           = var.traefik

  signing_keys_secret = var.signing_keys_secret

  depot = {
    channel   = var.depot.channel
    revision  = var.depot.revision
    base      = var.depot.base
    units     = each.value.depot_units
    storage   = var.depot.storage
    config    = var.depot.config
    resources = var.depot.resources
  }

  postgresql = var.postgresql

  s3 = merge(each.value.s3, { channel = var.s3_integrator_channel })
}

# Without shared signing keys every region's depot is its own authority: a device that trusts
# one region's assertions cannot verify another's.
check "one_signing_authority" {
  assert {
    condition     = var.signing_keys_secret != null || length(var.replicas) == 0
    error_message = "With replica regions, set signing_keys_secret: otherwise each region's depot signs with keys of its own (see README.md, \"Signing keys\")."
  }
}

# The primary's PostgreSQL offers asynchronous replication; each replica region's cluster
# consumes it as a standby. `create-replication` on the primary's leader then starts it (a
# day-2 action, see README.md).
resource "juju_offer" "postgresql_replication" {
  count = length(var.replicas) > 0 ? 1 : 0

  model_uuid       = module.primary.model_uuid
  application_name = module.primary.postgresql_app_name
  endpoints        = ["replication-offer"]
  name             = "${var.model_prefix}-postgresql-replication"
}

resource "juju_integration" "postgresql_replication" {
  for_each = var.replicas

  model_uuid = module.replica[each.key].model_uuid

  application {
    name     = module.replica[each.key].postgresql_app_name
    endpoint = "replication"
  }

  application {
    offer_url = juju_offer.postgresql_replication[0].url
  }
}

output "primary" {
  description = "The primary region: model, applications and the host name publishers use."
  value = {
    model_uuid      = module.primary.model_uuid
    model_name      = module.primary.model_name
    depot_app_name  = module.primary.depot_app_name
    public_hostname = module.primary.public_hostname
  }
}

output "replicas" {
  description = "Each replica region: model, applications and the host name devices there use."
  value = {
    for name, region in module.replica : name => {
      model_uuid      = region.model_uuid
      model_name      = region.model_name
      depot_app_name  = region.depot_app_name
      public_hostname = region.public_hostname
    }
  }
}

output "postgresql_replication_offer_url" {
  description = "Offer URL of the primary PostgreSQL's replication-offer endpoint (null without replicas)."
  value       = length(var.replicas) > 0 ? juju_offer.postgresql_replication[0].url : null
}

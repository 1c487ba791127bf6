output "model_uuid" {
  description = "UUID of the region's model."
  value       = juju_model.region.uuid
}

output "model_name" {
  description = "Name of the region's model."
  value       = juju_model.region.name
}

output "depot_app_name" {
  description = "Name of the depot application in the region."
  value       = module.depot.app_name
}

output "postgresql_app_name" {
  description = "Name of the region's PostgreSQL application (replication source or standby)."
  value       = juju_application.postgresql.name
}

output "public_hostname" {
  description = "Host name depot is published on by the region's ingress."
  value       = "${juju_model.region.name}-${module.depot.app_name}.${var.external_hostname}"
}

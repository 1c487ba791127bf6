output "app_name" {
  description = "Name of the deployed depot application."
  value       = juju_application.depot.name
}

output "requires" {
  description = "Endpoints depot requires, by name, for juju_integration blocks."
  value = {
    database = "database"
    ingress  = "ingress"
    s3       = "s3"
    logging  = "logging"
    tracing  = "tracing"
  }
}

output "provides" {
  description = "Endpoints depot provides, by name, for juju_integration blocks."
  value = {
    metrics_endpoint  = "metrics-endpoint"
    grafana_dashboard = "grafana-dashboard"
  }
}

# terraform apply -var-file=example.tfvars
model_prefix = "depot"

primary = {
  name              = "eu-west"
  cloud             = "k8s-eu-west"
  external_hostname = "store.example.com"
  depot_units       = 3
  s3 = {
    endpoint = "https://s3.eu-west.example.com"
    bucket   = "depot-blobs"
    region   = "eu-west"
  }
}

replicas = {
  us-east = {
    cloud             = "k8s-us-east"
    external_hostname = "us.store.example.com"
    s3 = {
      endpoint = "https://s3.us-east.example.com"
      bucket   = "depot-blobs-replica"
      region   = "us-east"
    }
  }
  ap-south = {
    cloud             = "k8s-ap-south"
    external_hostname = "ap.store.example.com"
    depot_units       = 1
    s3 = {
      endpoint = "https://s3.ap-south.example.com"
      bucket   = "depot-blobs-replica"
      region   = "ap-south"
    }
  }
}

# A user secret with this name and the same keys in every region's model (juju add-secret):
# every region's depot signs as one authority.
signing_keys_secret = "depot-signing-keys"

depot = {
  channel = "latest/edge"
  config = {
    log-format = "json"
  }
}

cos_offers = {
  prometheus_metrics = "admin/cos.prometheus-metrics-endpoint"
  grafana_dashboards = "admin/cos.grafana-dashboards"
  loki_logging       = "admin/cos.loki-logging"
  tempo_tracing      = "admin/cos.tempo-tracing"
}

variable "model_name" {
  description = "Name of the Juju model this region's applications live in."
  type        = string
}

variable "cloud" {
  description = "Juju cloud (a Kubernetes cluster known to the controller) hosting the region."
  type        = string
}

variable "cloud_region" {
  description = "Region of the Juju cloud; null for the cloud's default."
  type        = string
  default     = null
}

variable "replica" {
  description = "True for a read replica region: depot serves reads from a standby PostgreSQL and never migrates it."
  type        = bool
}

variable "external_hostname" {
  description = "DNS name the region's ingress answers on; depot is published at depot-<model>.<external_hostname>."
  type        = string
}

variable "signing_keys_secret" {
  description = "Name of the user secret in this region's model with depot's signing keys (root-key, store-key, optionally authority-id and authority-assertions); granted to depot and set as its signing-keys-secret. null: depot generates keys of its own."
  type        = string
  default     = null
}

variable "depot" {
  description = "depot-k8s charm settings for this region."
  type = object({
    channel   = string
    revision  = optional(number)
    base      = string
    units     = number
    storage   = string
    config    = map(string)
    resources = map(string)
  })
}

variable "postgresql" {
  description = "postgresql-k8s charm settings for this region's database cluster."
  type = object({
    channel      = string
    revision     = optional(number)
    base         = string
    units        = number
    storage_size = string
  })
}

variable "traefik" {
  description = "traefik-k8s charm settings for this region's ingress."
  type = object({
    channel  = string
    revision = optional(number)
  })
}

variable "s3" {
  description = "Object storage for this region's blobs: the bucket s3-integrator hands to depot. Keys are set with the s3-integrator action, never in Terraform state."
  type = object({
    channel   = string
    endpoint  = string
    bucket    = string
    region    = optional(string, "")
    uri_style = optional(string, "path")
  })
}

variable "cos_offers" {
  description = "Offer URLs of the COS model: prometheus_metrics, grafana_dashboards, loki_logging, tempo_tracing; null skips one."
  type = object({
    prometheus_metrics = optional(string)
    grafana_dashboards = optional(string)
    loki_logging       = optional(string)
    tempo_tracing      = optional(string)
  })
  default = {}
}

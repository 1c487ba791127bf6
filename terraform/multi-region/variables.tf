variable "primary" {
  description = "The primary region: it runs the PostgreSQL primary and is the only region publishers write to."
  type = object({
    name              = string
    cloud             = string
    cloud_region      = optional(string)
    external_hostname = string
    depot_units       = optional(number, 2)
    s3 = object({
      endpoint  = string
      bucket    = string
      region    = optional(string, "")
      uri_style = optional(string, "path")
    })
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.primary.name))
    error_message = "primary.name must be a short lower-case model-name part, e.g. \"eu-west\"."
  }
}

variable "replicas" {
  description = "Read replica regions, keyed by region name: depot read units against an asynchronous standby of the primary's PostgreSQL."
  type = map(object({
    cloud             = string
    cloud_region      = optional(string)
    external_hostname = string
    depot_units       = optional(number, 2)
    s3 = object({
      endpoint  = string
      bucket    = string
      region    = optional(string, "")
      uri_style = optional(string, "path")
    })
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.replicas) : can(regex("^[a-z][a-z0-9-]{0,29}$", name))])
    error_message = "Replica region names must be short lower-case model-name parts, e.g. \"us-east\"."
  }
}

variable "model_prefix" {
  description = "Prefix of the per-region model names: <prefix>-<region>."
  type        = string
  default     = "depot"
}

variable "depot" {
  description = "depot-k8s charm settings shared by every region; config is merged under each region's own."
  type = object({
    channel   = optional(string, "latest/stable")
    revision  = optional(number)
    base      = optional(string, "ubuntu@24.04")
    storage   = optional(string, "10G")
    config    = optional(map(string), {})
    resources = optional(map(string), {})
  })
  default = {}
}

variable "signing_keys_secret" {
  description = "Name of the user secret with depot's signing keys that the operator added (juju add-secret, same name and content) to every region's model. Each region's depot is granted it and signs with those keys, so devices see one authority in every region. null: each region generates its own authority."
  type        = string
  default     = null
}

variable "postgresql" {
  description = "postgresql-k8s charm settings shared by every region."
  type = object({
    channel      = optional(string, "16/stable")
    revision     = optional(number)
    base         = optional(string, "ubuntu@24.04")
    units        = optional(number, 3)
    storage_size = optional(string, "50G")
  })
  default = {}
}

variable "traefik" {
  description = "traefik-k8s charm settings shared by every region."
  type = object({
    channel  = optional(string, "latest/stable")
    revision = optional(number)
  })
  default = {}
}

variable "s3_integrator_channel" {
  description = "Channel of the s3-integrator charm."
  type        = string
  default     = "latest/stable"
}

variable "cos_offers" {
  description = "Offer URLs published by the COS model (cos-lite offers.tf): prometheus_metrics, grafana_dashboards, loki_logging, tempo_tracing. Leave one null to skip it."
  type = object({
    prometheus_metrics = optional(string)
    grafana_dashboards = optional(string)
    loki_logging       = optional(string)
    tempo_tracing      = optional(string)
  })
  default = {}
}

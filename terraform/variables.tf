variable "app_name" {
  description = "Name of the depot application in the model."
  type        = string
  default     = "depot"
}

variable "model_uuid" {
  description = "UUID of the Kubernetes model to deploy depot into."
  type        = string
}

variable "channel" {
  description = "Charmhub channel of the depot-k8s charm, [track/]risk[/branch]."
  type        = string
  default     = "latest/stable"
}

variable "revision" {
  description = "Revision of the depot-k8s charm; null follows the channel."
  type        = number
  default     = null
}

variable "base" {
  description = "Base the charm runs on."
  type        = string
  default     = "ubuntu@24.04"
}

variable "config" {
  description = "Charm config options (see docs/reference/charm.md), e.g. { public-url = \"https://store.example.com\" }."
  type        = map(string)
  default     = {}
}

variable "constraints" {
  description = "Juju constraints for the application, e.g. \"arch=amd64 mem=2G\"."
  type        = string
  default     = "arch=amd64"
}

variable "units" {
  description = "Number of depot units. More than one needs the s3 integration for blobs."
  type        = number
  default     = 1

  validation {
    condition     = var.units >= 1 && floor(var.units) == var.units
    error_message = "units must be a whole number, at least 1."
  }
}

variable "storage_directives" {
  description = "Storage directives, e.g. { data = \"10G\" } for the server's data storage."
  type        = map(string)
  default     = {}
}

variable "resources" {
  description = "Charm resources: depot-image as a Charmhub revision or an OCI image reference built from rockcraft.yaml."
  type        = map(string)
  default     = {}
}

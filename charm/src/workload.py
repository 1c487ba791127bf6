"""What the charm tells the depot server: environment, Pebble layer, database URL.

Pure functions over plain data, so the mapping from Juju's world (config options, relation
data) to depot's configuration keys can be read, and tested, in one place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.parse
from collections.abc import Mapping
from typing import Any

CONTAINER = "depot"
SERVICE = "depot"
PORT = 8080
BINARY = "/usr/local/bin/depot"
# The `data` storage is mounted here; Juju mounts it owned by root, so the server (which runs
# as _daemon_) gets a directory below it that the charm creates with the right owner.
STORAGE_MOUNT = "/var/lib/depot"
DATA_DIR = f"{STORAGE_MOUNT}/data"
CONFIG_DIR = "/etc/depot"
DATABASE_CA_PATH = f"{CONFIG_DIR}/postgresql-ca.pem"
# The signing keys every unit serves with, written from the application's Juju secret. On the
# container's own filesystem, not the storage: the secret is the copy that lasts.
KEYS_DIR = f"{CONFIG_DIR}/keys"
ROOT_KEY_PATH = f"{KEYS_DIR}/root.asc"
STORE_KEY_PATH = f"{KEYS_DIR}/store.asc"
# Where depot generates its own keys when no key file is configured (`{data_dir}/keys/`): the
# leader lets `depot admin export-trust` create them there once, then shares them.
GENERATED_ROOT_KEY = f"{DATA_DIR}/keys/root.asc"
GENERATED_STORE_KEY = f"{DATA_DIR}/keys/store.asc"
# Not a depot key (depot reads only the DEPOT_* variables it knows): a digest of the key files,
# so that new keys change the Pebble layer and `replan` restarts the server.
KEYS_DIGEST_ENV = "CHARM_SIGNING_KEYS_DIGEST"
DAEMON_USER = "_daemon_"
DAEMON_UID = 584792  # rockcraft's shared _daemon_ user and group

READY_CHECK = "depot-ready"
ALIVE_CHECK = "depot-alive"


class ConfigError(ValueError):
    """A charm config option has a value depot would refuse."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One charm config option that maps straight onto a depot configuration key."""

    name: str  # the charm option, e.g. "max-upload-size"
    key: str  # depot's key, e.g. "max_upload_size"
    minimum: int | None = None  # for integers: smallest accepted value

    @property
    def env(self) -> str:
        return "DEPOT_" + self.key.upper()


# Every tunable the charm passes through. The keys the charm owns itself (listen, data_dir,
# database_url, public_url, migrate_on_start, the blob store, the signing key files) are set in
# `environment()`.
PASSTHROUGH_OPTIONS: tuple[Option, ...] = (
    Option("max-upload-size", "max_upload_size", minimum=1),
    Option("log-format", "log_format"),
    Option("database-max-connections", "database_max_connections", minimum=1),
    Option("follower-poll-interval-ms", "follower_poll_interval_ms", minimum=1),
    Option("branch-lifetime-secs", "branch_lifetime_secs", minimum=1),
    Option("request-timeout-secs", "request_timeout_secs", minimum=1),
    Option("shutdown-grace-secs", "shutdown_grace_secs", minimum=0),
    Option("publisher-rate-limit-per-minute", "publisher_rate_limit_per_minute", minimum=0),
    Option("search-rate-limit-per-minute", "search_rate_limit_per_minute", minimum=0),
    Option("trust-forwarded-for", "trust_forwarded_for"),
)

# depot configuration keys the charm sets from something other than a config option.
CHARM_OWNED_KEYS = frozenset(
    {
        "listen",
        "public_url",
        "data_dir",
        "database_url",
        "migrate_on_start",
        "blob_backend",
        "s3_endpoint",
        "s3_bucket",
        "s3_region",
        "s3_access_key",
        "s3_secret_key",
        # The signing keys: the leader creates them once and shares them in an application
        # secret; every unit writes them to ROOT_KEY_PATH and STORE_KEY_PATH.
        "root_key_file",
        "store_key_file",
        # Left at depot's defaults on purpose: the scrape job reads /metrics on the main port,
        # and the authority is depot's own ("depot", its assertions signed with the shared
        # root key; the export-trust action prints them). Bringing another authority's keys
        # or assertions is not supported by the charm.
        "metrics_listen",
        "authority_id",
        "authority_assertions_file",
    }
)

LOG_FORMATS = ("json", "text")


def validate_public_url(url: str) -> str:
    """Returns the URL without a trailing slash, or raises ConfigError."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"public-url must be an http:// or https:// URL, not {url!r}")
    if parsed.query or parsed.fragment:
        raise ConfigError("public-url must not have a query or fragment")
    return url.rstrip("/")


def tunables(config: Mapping[str, Any]) -> dict[str, str]:
    """The DEPOT_* variables for the pass-through options; raises ConfigError on a bad value."""
    env: dict[str, str] = {}
    for option in PASSTHROUGH_OPTIONS:
        value = config[option.name]
        if isinstance(value, bool):
            env[option.env] = "true" if value else "false"
            continue
        if isinstance(value, int):
            if option.minimum is not None and value < option.minimum:
                raise ConfigError(f"{option.name} must be at least {option.minimum}, not {value}")
            env[option.env] = str(value)
            continue
        if option.name == "log-format" and value not in LOG_FORMATS:
            raise ConfigError(f"log-format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
        env[option.env] = str(value)
    return env


@dataclasses.dataclass(frozen=True)
class DatabaseInfo:
    """What the postgresql_client relation provides, once the database exists."""

    endpoints: str  # "host:port[,host:port]": the first is the primary
    database: str
    username: str
    password: str
    tls: bool = False
    tls_ca: str | None = None

    def url(self) -> str:
        host = self.endpoints.split(",")[0].strip()
        user = urllib.parse.quote(self.username, safe="")
        password = urllib.parse.quote(self.password, safe="")
        database = urllib.parse.quote(self.database, safe="")
        url = f"postgres://{user}:{password}@{host}/{database}"
        if self.tls_ca:
            return f"{url}?sslmode=verify-full&sslrootcert={DATABASE_CA_PATH}"
        if self.tls:
            return f"{url}?sslmode=require"
        return url

    def fingerprint(self) -> str:
        """Identifies the database (not the credentials): a new one needs migrating."""
        host = self.endpoints.split(",")[0].strip()
        return f"{host}/{self.database}"


@dataclasses.dataclass(frozen=True)
class S3Info:
    """What the s3 relation provides (s3-integrator's keys)."""

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str

    @classmethod
    def from_relation(cls, data: Mapping[str, Any]) -> S3Info | None:
        """None until the provider has shared the bucket and both keys."""
        access_key = data.get("access-key")
        secret_key = data.get("secret-key")
        bucket = data.get("bucket")
        if not (access_key and secret_key and bucket):
            return None
        return cls(
            endpoint=str(data.get("endpoint") or ""),
            bucket=str(bucket),
            region=str(data.get("region") or ""),
            access_key=str(access_key),
            secret_key=str(secret_key),
        )


ARMORED_PRIVATE_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----"


class KeysError(ValueError):
    """Signing keys that are missing or not in the format depot reads."""


@dataclasses.dataclass(frozen=True, repr=False)
class SigningKeys:
    """depot's root and store keys (ASCII-armored OpenPGP private key blocks), as the leader
    shares them in the application's secret. Never printed: `repr` shows only a digest."""

    root: str
    store: str

    ROOT_FIELD = "root-key"
    STORE_FIELD = "store-key"

    def __repr__(self) -> str:
        return f"SigningKeys(digest={self.digest()})"

    def digest(self) -> str:
        """A short fingerprint of both keys (SHA-256), safe to show."""
        h = hashlib.sha256()
        for part in (self.root, self.store):
            data = part.encode()
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()[:16]

    def content(self) -> dict[str, str]:
        """The secret's content."""
        return {self.ROOT_FIELD: self.root, self.STORE_FIELD: self.store}

    @classmethod
    def from_content(cls, content: Mapping[str, str]) -> SigningKeys:
        """The keys of a secret's (or pulled files') content; raises KeysError if either
        key is missing or is not an armored private key block (the message names no key
        material)."""
        keys = {}
        for field in (cls.ROOT_FIELD, cls.STORE_FIELD):
            value = str(content.get(field) or "")
            if ARMORED_PRIVATE_KEY not in value:
                raise KeysError(f"{field} is not an ASCII-armored OpenPGP private key block")
            keys[field] = value
        if keys[cls.ROOT_FIELD].strip() == keys[cls.STORE_FIELD].strip():
            raise KeysError("root-key and store-key are the same key")
        return cls(root=keys[cls.ROOT_FIELD], store=keys[cls.STORE_FIELD])


def environment(
    *,
    tunable_env: Mapping[str, str],
    public_url: str,
    database: DatabaseInfo,
    s3: S3Info | None,
    tracing_endpoint: str | None,
    service_name: str,
    juju_topology: Mapping[str, str],
    log_filter: str,
    signing_keys: SigningKeys | None = None,
) -> dict[str, str]:
    """The complete environment of `depot serve` (and of the admin commands the charm runs).

    With `signing_keys`, depot reads its keys from the files the charm writes (ROOT_KEY_PATH,
    STORE_KEY_PATH) instead of generating its own into the data directory.
    """
    env = dict(tunable_env)
    env.update(
        {
            "DEPOT_LISTEN": f"0.0.0.0:{PORT}",
            "DEPOT_PUBLIC_URL": public_url,
            "DEPOT_DATA_DIR": DATA_DIR,
            "DEPOT_DATABASE_URL": database.url(),
            # The leader runs `depot migrate` once, before any unit serves.
            "DEPOT_MIGRATE_ON_START": "false",
        }
    )
    if s3 is None:
        env["DEPOT_BLOB_BACKEND"] = "fs"
    else:
        env["DEPOT_BLOB_BACKEND"] = "s3"
        env["DEPOT_S3_BUCKET"] = s3.bucket
        env["DEPOT_S3_ACCESS_KEY"] = s3.access_key
        env["DEPOT_S3_SECRET_KEY"] = s3.secret_key
        if s3.endpoint:
            env["DEPOT_S3_ENDPOINT"] = s3.endpoint
        if s3.region:
            env["DEPOT_S3_REGION"] = s3.region
    if signing_keys is not None:
        env["DEPOT_ROOT_KEY_FILE"] = ROOT_KEY_PATH
        env["DEPOT_STORE_KEY_FILE"] = STORE_KEY_PATH
        env[KEYS_DIGEST_ENV] = signing_keys.digest()
    if tracing_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = tracing_endpoint
        env["OTEL_SERVICE_NAME"] = service_name
        env["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(
            f"{key}={value}" for key, value in sorted(juju_topology.items())
        )
    if log_filter:
        env["RUST_LOG"] = log_filter
    return env


def layer(env: Mapping[str, str]) -> dict[str, Any]:
    """The Pebble layer: the server, and the checks Juju and the ingress rely on."""
    return {
        "summary": "depot store server",
        "description": "Pebble layer written by the depot-k8s charm",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "depot serve",
                "command": f"{BINARY} serve",
                "startup": "enabled",
                "user": DAEMON_USER,
                "group": DAEMON_USER,
                "working-dir": DATA_DIR,
                "environment": dict(env),
                "on-check-failure": {ALIVE_CHECK: "restart"},
            }
        },
        "checks": {
            READY_CHECK: {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{PORT}/readyz"},
            },
            ALIVE_CHECK: {
                "override": "replace",
                "level": "alive",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{PORT}/healthz"},
            },
        },
    }


def split_list(value: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']: the comma-separated action parameters."""
    return [item.strip() for item in value.split(",") if item.strip()]

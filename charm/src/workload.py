"""What the charm tells the depot server: environment, Pebble layer, database URL.

Pure functions over plain data, so the mapping from Juju's world (config options, relation
data) to depot's configuration keys can be read, and tested, in one place.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
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
# The signing keys every unit serves with, written from the application's Juju secret (or the
# user secret `signing-keys-secret` names). On the container's own filesystem, not the storage:
# the secret is the copy that lasts.
KEYS_DIR = f"{CONFIG_DIR}/keys"
ROOT_KEY_PATH = f"{KEYS_DIR}/root.asc"
STORE_KEY_PATH = f"{KEYS_DIR}/store.asc"
# The authority's assertions made elsewhere, from the user secret's `authority-assertions`.
AUTHORITY_ASSERTIONS_PATH = f"{KEYS_DIR}/authority.assert"
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
    Option("download-flush-interval-secs", "download_flush_interval_secs", minimum=1),
    Option("search-checkpoint-interval-secs", "search_checkpoint_interval_secs", minimum=0),
    Option("branch-lifetime-secs", "branch_lifetime_secs", minimum=1),
    Option("request-timeout-secs", "request_timeout_secs", minimum=1),
    Option("shutdown-grace-secs", "shutdown_grace_secs", minimum=0),
    Option("render-cache-mib", "render_cache_mib", minimum=0),
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
        # secret, or the operator brings them in the user secret `signing-keys-secret` names
        # (with the authority's id and assertions, if another authority's); every unit writes
        # them to ROOT_KEY_PATH, STORE_KEY_PATH and AUTHORITY_ASSERTIONS_PATH.
        "root_key_file",
        "store_key_file",
        "authority_id",
        "authority_assertions_file",
        # Left at depot's default on purpose: the scrape job reads /metrics on the main port.
        "metrics_listen",
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
DEFAULT_AUTHORITY_ID = "depot"  # depot's authority_id when none is configured


class KeysError(ValueError):
    """Signing keys that are missing or not in the format depot reads."""


def valid_account_id(value: str) -> bool:
    """depot's (and snapd's) account ids: 2 to 28 of a-z, 0-9 and '-', or 32 letters and
    digits."""
    return bool(
        re.fullmatch(r"[a-z0-9-]{2,28}", value) or re.fullmatch(r"[A-Za-z0-9]{32}", value)
    )


# ---- snapd's key id of an OpenPGP private key, as depot computes it (assertions/openpgp.rs) ----

_V1_FIXED_TIMESTAMP = 1_451_606_400  # the creation time snapd hashes public keys with
_TAG_SECRET_KEY = 5
_TAG_PUBLIC_KEY = 6
_ALGO_RSA = 1


def _dearmor(text: str) -> bytes:
    lines = [line.rstrip() for line in text.splitlines()]
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(ARMORED_PRIVATE_KEY))
    except StopIteration:
        raise KeysError("not an ASCII-armored OpenPGP private key block") from None
    body: list[str] = []
    in_headers = True
    for line in lines[start + 1 :]:
        if line.startswith("-----END PGP PRIVATE KEY BLOCK-----"):
            break
        if in_headers:
            in_headers = bool(line) and ": " in line  # armor headers end at an empty line
            if in_headers or not line:
                continue
        if not line.startswith("="):  # "=XXXX" is the armor checksum
            body.append(line.strip())
    try:
        return base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        raise KeysError("the key block is not valid base64") from None


def _packets(data: bytes):
    """(tag, body) of each OpenPGP packet (old or new format headers)."""
    while data:
        ctb = data[0]
        if not ctb & 0x80:
            raise KeysError("the key block holds no OpenPGP packets")
        if ctb & 0x40:
            tag, first = ctb & 0x3F, data[1] if len(data) > 1 else 0
            if first < 192:
                length, header = first, 2
            elif first < 224 and len(data) > 2:
                length, header = ((first - 192) << 8) + data[2] + 192, 3
            elif first == 255:
                length, header = int.from_bytes(data[2:6], "big"), 6
            else:
                raise KeysError("unsupported OpenPGP packet length")
        else:
            tag, size = (ctb >> 2) & 0x0F, {0: 1, 1: 2, 2: 4}.get(ctb & 3)
            if size is None:
                raise KeysError("unsupported OpenPGP packet length")
            length, header = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
        if len(data) < header + length:
            raise KeysError("truncated OpenPGP packet")
        yield tag, data[header : header + length]
        data = data[header + length :]


def _mpi(value: bytes) -> bytes:
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


def _packet(tag: int, body: bytes) -> bytes:
    """A new-format packet header, as depot (and Go's openpgp) writes it."""
    length = len(body)
    if length < 192:
        header = bytes([length])
    elif length < 8384:
        header = bytes([((length - 192) >> 8) + 192, (length - 192) & 0xFF])
    else:
        header = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + header + body


def key_id(armored: str) -> str:
    """snapd's id of a key (`public-key-sha3-384` of its account-key): base64url of the
    SHA3-384 of 0x01 and the RSA public-key packet with snapd's fixed creation time."""
    for tag, body in _packets(_dearmor(armored)):
        if tag != _TAG_SECRET_KEY:
            continue
        if len(body) < 6 or body[0] != 4 or body[5] != _ALGO_RSA:
            raise KeysError("not a version 4 RSA key (snapd's assertions need one)")
        numbers, pos = [], 6
        for _ in range(2):  # the modulus n and the exponent e
            bits = int.from_bytes(body[pos : pos + 2], "big")
            size = (bits + 7) // 8
            if bits == 0 or len(body) < pos + 2 + size:
                raise KeysError("truncated RSA public key")
            numbers.append(body[pos + 2 : pos + 2 + size])
            pos += 2 + size
        public = (
            bytes([4])
            + _V1_FIXED_TIMESTAMP.to_bytes(4, "big")
            + bytes([_ALGO_RSA])
            + _mpi(numbers[0])
            + _mpi(numbers[1])
        )
        digest = hashlib.sha3_384(b"\x01" + _packet(_TAG_PUBLIC_KEY, public)).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
    raise KeysError("no secret-key packet in the key block")


def assertion_headers(stream: str) -> list[dict[str, str]]:
    """The (top-level) headers of each assertion in a stream of snapd assertions."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in stream.splitlines():
        if line.startswith("type: ") and current is None:
            current = {}
            found.append(current)
        if current is None:
            continue
        if not line.strip():
            current = None  # the headers end at the first empty line; body and signature follow
            continue
        if not line.startswith(" ") and ": " in line:
            name, value = line.split(": ", 1)
            current.setdefault(name, value.strip())
    return found


@dataclasses.dataclass(frozen=True, repr=False)
class SigningKeys:
    """depot's root and store keys (ASCII-armored OpenPGP private key blocks), as the leader
    shares them in the application's secret or the operator brings them in a user secret, with
    the authority's id and assertions made elsewhere when they are another authority's. Never
    printed: `repr` shows only a digest.

    `root` is None only for an authority brought without its root key: `assertions` then hold
    the store key's account-key (signed offline), and depot needs no root key.
    """

    root: str | None
    store: str
    authority_id: str | None = None
    assertions: str | None = None

    ROOT_FIELD = "root-key"
    STORE_FIELD = "store-key"
    AUTHORITY_FIELD = "authority-id"
    ASSERTIONS_FIELD = "authority-assertions"
    USER_FIELDS = (ROOT_FIELD, STORE_FIELD, AUTHORITY_FIELD, ASSERTIONS_FIELD)

    def __repr__(self) -> str:
        return f"SigningKeys(digest={self.digest()})"

    def digest(self) -> str:
        """A short fingerprint of everything depot signs with (SHA-256), safe to show. The
        same as before authorities could be brought for keys of depot's own authority, so that
        upgrading the charm restarts no server."""
        parts = [self.root or "", self.store]
        if self.authority_id is not None or self.assertions is not None:
            parts += [self.authority_id or "", self.assertions or ""]
        h = hashlib.sha256()
        for part in parts:
            data = part.encode()
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()[:16]

    def content(self) -> dict[str, str]:
        """The application secret's content (depot's own keys)."""
        return {self.ROOT_FIELD: self.root or "", self.STORE_FIELD: self.store}

    @staticmethod
    def _armored(content: Mapping[str, str], field: str) -> str:
        value = str(content.get(field) or "")
        if ARMORED_PRIVATE_KEY not in value:
            raise KeysError(f"{field} is not an ASCII-armored OpenPGP private key block")
        return value

    @classmethod
    def from_content(cls, content: Mapping[str, str]) -> SigningKeys:
        """The keys of the application secret's (or pulled files') content; raises KeysError if
        either key is missing or is not an armored private key block (the message names no key
        material)."""
        root = cls._armored(content, cls.ROOT_FIELD)
        store = cls._armored(content, cls.STORE_FIELD)
        if root.strip() == store.strip():
            raise KeysError("root-key and store-key are the same key")
        return cls(root=root, store=store)

    @classmethod
    def from_user_content(cls, content: Mapping[str, str]) -> SigningKeys:
        """The keys of a user secret: `store-key`, and `root-key` unless `authority-assertions`
        holds the store key's account-key; `authority-id` (depot's "depot" if absent) and
        `authority-assertions` (a stream of the authority's account and account-key
        assertions) optional. Raises KeysError for anything depot would refuse, or for which
        it would generate a key of its own on each unit."""
        unknown = sorted(set(content) - set(cls.USER_FIELDS))
        if unknown:
            raise KeysError(
                f"unknown field {', '.join(unknown)} (expected {cls.ROOT_FIELD}, "
                f"{cls.STORE_FIELD}, {cls.AUTHORITY_FIELD}, {cls.ASSERTIONS_FIELD})"
            )
        store = cls._armored(content, cls.STORE_FIELD)
        root = cls._armored(content, cls.ROOT_FIELD) if content.get(cls.ROOT_FIELD) else None
        if root is not None and root.strip() == store.strip():
            raise KeysError("root-key and store-key are the same key")

        authority_id = str(content.get(cls.AUTHORITY_FIELD) or "").strip() or None
        if authority_id is not None and not valid_account_id(authority_id):
            raise KeysError(
                f"{cls.AUTHORITY_FIELD} {authority_id!r} is not an account id "
                "(2 to 28 of a-z, 0-9 and -, or 32 letters and digits)"
            )
        authority = authority_id or DEFAULT_AUTHORITY_ID

        assertions = str(content.get(cls.ASSERTIONS_FIELD) or "").strip() or None
        headers = assertion_headers(assertions) if assertions is not None else []
        if assertions is not None and not headers:
            raise KeysError(f"{cls.ASSERTIONS_FIELD} holds no assertions")
        for assertion in headers:
            kind = assertion.get("type", "")
            a_kind = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"
            if kind not in ("account", "account-key"):
                raise KeysError(
                    f"{cls.ASSERTIONS_FIELD}: {a_kind} assertion; only account and account-key "
                    "belong there"
                )
            if assertion.get("account-id") != authority:
                raise KeysError(
                    f"{cls.ASSERTIONS_FIELD}: {a_kind} assertion for account "
                    f"{assertion.get('account-id', '')!r}, not the authority {authority!r} "
                    f"({cls.AUTHORITY_FIELD})"
                )
        if root is None:
            # depot would generate a root key on each unit to sign the store key's account-key
            if assertions is None:
                raise KeysError(
                    f"{cls.ROOT_FIELD} is missing: give the root key, or the store key's "
                    f"account-key in {cls.ASSERTIONS_FIELD}"
                )
            try:
                store_id = key_id(store)
            except KeysError as e:
                raise KeysError(f"{cls.STORE_FIELD}: {e}") from None
            if not any(
                a.get("type") == "account-key" and a.get("public-key-sha3-384") == store_id
                for a in headers
            ):
                raise KeysError(
                    f"without {cls.ROOT_FIELD}, {cls.ASSERTIONS_FIELD} must hold the store "
                    f"key's account-key (public-key-sha3-384: {store_id})"
                )
        return cls(root=root, store=store, authority_id=authority_id, assertions=assertions)


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
    STORE_KEY_PATH, AUTHORITY_ASSERTIONS_PATH) instead of generating its own into the data
    directory.
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
        if signing_keys.root is not None:
            env["DEPOT_ROOT_KEY_FILE"] = ROOT_KEY_PATH
        env["DEPOT_STORE_KEY_FILE"] = STORE_KEY_PATH
        if signing_keys.authority_id is not None:
            env["DEPOT_AUTHORITY_ID"] = signing_keys.authority_id
        if signing_keys.assertions is not None:
            env["DEPOT_AUTHORITY_ASSERTIONS_FILE"] = AUTHORITY_ASSERTIONS_PATH
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

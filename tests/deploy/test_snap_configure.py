"""The snap's configure hook, run as a script against a fake `snapctl` and depot's own binary
(the hook has depot read the file it writes before it replaces the previous one)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

HOOK = REPO / "snap/hooks/configure"


@pytest.fixture(scope="session")
def depot_bin() -> Path:
    """depot's binary: DEPOT_BIN, or the debug build (built here when missing)."""
    if given := os.environ.get("DEPOT_BIN"):
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug/depot"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--locked", "-p", "depot", "--bin", "depot"],
                       cwd=REPO, check=True)
    return binary

FAKE_SNAPCTL = r"""#!/bin/bash
# Fake snapctl: options are files in $FAKE/options, every call is logged to $FAKE/calls.
printf '%s\n' "$*" >> "$FAKE/calls"
case "$1" in
  get)
    if [ -f "$FAKE/options/$2" ]; then cat "$FAKE/options/$2"; fi ;;
  services)
    printf 'Service  Startup  Current  Notes\n%s  enabled  %s  -\n' "$2" "$(cat "$FAKE/state")" ;;
  restart) ;;
  *) echo "fake snapctl: unexpected $*" >&2; exit 64 ;;
esac
"""


@dataclass
class Snap:
    root: Path
    data: Path
    common: Path
    fake: Path

    def set(self, **options: str) -> None:
        for key, value in options.items():
            (self.fake / "options" / key.replace("_", "-")).write_text(value)

    def service(self, state: str) -> None:
        (self.fake / "state").write_text(state)

    def configure(self) -> subprocess.CompletedProcess:
        env = {
            "PATH": f"{self.fake / 'bin'}:/usr/bin:/bin",
            "FAKE": str(self.fake),
            "SNAP": str(self.root),
            "SNAP_NAME": "depot",
            "SNAP_INSTANCE_NAME": "depot",
            "SNAP_DATA": str(self.data),
            "SNAP_COMMON": str(self.common),
        }
        return subprocess.run([str(HOOK)], env=env, capture_output=True, text=True, timeout=30)

    @property
    def config_file(self) -> Path:
        return self.data / "depot.toml"

    def config(self) -> dict:
        return tomllib.loads(self.config_file.read_text())

    def calls(self) -> list[str]:
        path = self.fake / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def snap(tmp_path: Path, depot_bin: Path) -> Snap:
    fake = tmp_path / "fake"
    (fake / "bin").mkdir(parents=True)
    (fake / "options").mkdir()
    snapctl = fake / "bin/snapctl"
    snapctl.write_text(FAKE_SNAPCTL)
    snapctl.chmod(0o755)
    s = Snap(root=tmp_path / "snap", data=tmp_path / "data", common=tmp_path / "common", fake=fake)
    s.data.mkdir()
    s.common.mkdir()
    (s.root / "bin").mkdir(parents=True)
    (s.root / "bin/depot").symlink_to(depot_bin.resolve())
    s.service("inactive")
    return s


def test_no_options_give_sqlite_in_snap_common_and_depots_defaults(snap):
    result = snap.configure()
    assert result.returncode == 0, result.stderr
    assert snap.config() == {"data_dir": f"{snap.common}/data"}


def test_every_option_is_mapped_onto_depots_keys(snap):
    snap.set(
        listen="0.0.0.0:8080",
        public_url="https://store.example.com/",
        database_url="postgres://depot:s3cret@db.example.com:5432/depot?sslmode=verify-full",
        max_upload_size="536870912",
        log_format="json",
    )
    result = snap.configure()
    assert result.returncode == 0, result.stderr
    assert snap.config() == {
        "data_dir": f"{snap.common}/data",
        "listen": "0.0.0.0:8080",
        "public_url": "https://store.example.com",
        "database_url": "postgres://depot:s3cret@db.example.com:5432/depot?sslmode=verify-full",
        "max_upload_size": 536870912,
        "log_format": "json",
    }


def hook_options() -> list[str]:
    text = HOOK.read_text()
    table = text[text.index("options=(") : text.index(")", text.index("options=("))]
    return re.findall(r"^  ([a-z0-9-]+):", table, re.M)


def test_every_server_setting_is_an_option_except_the_data_directory():
    documented = re.findall(
        r"^\| `([a-z0-9_]+)` \|", (REPO / "docs/reference/configuration.md").read_text(), re.M
    )
    assert "request_timeout_secs" in documented
    options = hook_options()
    assert len(options) == len(set(options))
    assert {o.replace("-", "_") for o in options} == set(documented) - {"data_dir"}


def test_the_other_settings_are_mapped_with_their_types(snap):
    key = snap.common / "keys/store.asc"
    key.parent.mkdir()
    key.write_text("an armored key\n")
    snap.set(
        metrics_listen="[::]:9100",
        migrate_on_start="false",
        database_max_connections="32",
        follower_poll_interval_ms="250",
        download_flush_interval_secs="30",
        search_checkpoint_interval_secs="0",
        branch_lifetime_secs="86400",
        request_timeout_secs="60",
        shutdown_grace_secs="10",
        render_cache_mib="64",
        publisher_rate_limit_per_minute="0",
        search_rate_limit_per_minute="1200",
        trust_forwarded_for="true",
        blob_backend="s3",
        s3_endpoint="https://s3.example.com:9000/",
        s3_bucket="depot-blobs",
        s3_region="eu-west-1",
        s3_access_key="AKIA0123",
        s3_secret_key='se"cr\\et',
        authority_id="example-store",
        store_key_file=str(key),
    )
    result = snap.configure()
    assert result.returncode == 0, result.stderr
    assert snap.config() == {
        "data_dir": f"{snap.common}/data",
        "metrics_listen": "[::]:9100",
        "migrate_on_start": False,
        "database_max_connections": 32,
        "follower_poll_interval_ms": 250,
        "download_flush_interval_secs": 30,
        "search_checkpoint_interval_secs": 0,
        "branch_lifetime_secs": 86400,
        "request_timeout_secs": 60,
        "shutdown_grace_secs": 10,
        "render_cache_mib": 64,
        "publisher_rate_limit_per_minute": 0,
        "search_rate_limit_per_minute": 1200,
        "trust_forwarded_for": True,
        "blob_backend": "s3",
        "s3_endpoint": "https://s3.example.com:9000",
        "s3_bucket": "depot-blobs",
        "s3_region": "eu-west-1",
        "s3_access_key": "AKIA0123",
        "s3_secret_key": 'se"cr\\et',
        "authority_id": "example-store",
        "store_key_file": str(key),
    }


def test_key_files_must_exist_where_the_daemon_can_read_them(snap):
    snap.set(store_key_file=str(snap.common / "keys/missing.asc"))
    result = snap.configure()
    assert result.returncode != 0
    assert "store-key-file: cannot read the file" in result.stderr
    assert not snap.config_file.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # Each setting alone is well formed; depot refuses the combination.
        ({"blob_backend": "s3"}, 'blob_backend = "s3" needs s3_bucket'),
        # A whole number past what the setting holds (a u32), named as the option.
        ({"database_max_connections": "99999999999"}, "option database-max-connections in "),
    ],
)
def test_depot_reads_the_file_before_it_replaces_the_previous_one(snap, options, message):
    snap.set(listen="0.0.0.0:8080")
    assert snap.configure().returncode == 0
    before = snap.config_file.read_text()

    snap.set(**options)
    result = snap.configure()
    assert result.returncode != 0
    assert "depot: the configuration was refused: " in result.stderr
    assert message in result.stderr
    assert "depot.toml.tmp" not in result.stderr
    assert snap.config_file.read_text() == before
    assert not (snap.data / "depot.toml.tmp").exists()


@pytest.mark.parametrize(
    ("value", "bytes_"),
    [("1", 1), ("512K", 512 * 1024), ("64m", 64 * 1024**2), ("2G", 2 * 1024**3), ("1T", 1024**4)],
)
def test_max_upload_size_accepts_binary_suffixes(snap, value, bytes_):
    snap.set(max_upload_size=value)
    assert snap.configure().returncode == 0
    assert snap.config()["max_upload_size"] == bytes_


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:8080", "[::]:8080", "[::1]:443", "10.0.0.1:65535", "0.0.0.0:1"]
)
def test_valid_listen_addresses(snap, listen):
    snap.set(listen=listen)
    assert snap.configure().returncode == 0
    assert snap.config()["listen"] == listen


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("listen", "localhost:8080", "listen must be IPv4:PORT or [IPv6]:PORT"),
        ("listen", "0.0.0.0", "listen must be"),
        ("listen", "0.0.0.0:0", "listen must be"),
        ("listen", "0.0.0.0:70000", "listen must be"),
        ("listen", "256.1.1.1:80", "listen must be"),
        ("listen", "[nope]:80", "listen must be"),
        ("public-url", "store.example.com", "public-url must be an http:// or https:// URL"),
        ("public-url", "https://store.example.com/?x=1", "public-url must be"),
        ("public-url", "https://store example.com", "public-url must be"),
        ("database-url", "mysql://db/depot", "database-url must start with sqlite://"),
        ("database-url", "postgres://", "database-url must start with"),
        ("max-upload-size", "0", "max-upload-size must be a positive number"),
        ("max-upload-size", "-5", "max-upload-size must be"),
        ("max-upload-size", "2GB", "max-upload-size must be"),
        ("max-upload-size", "99999999999999999", "max-upload-size must be"),
        ("log-format", "yaml", "log-format must be text or json, not 'yaml'"),
        ("metrics-listen", "localhost:9100", "metrics-listen must be IPv4:PORT or [IPv6]:PORT"),
        ("request-timeout-secs", "ten", "request-timeout-secs must be a whole number"),
        ("render-cache-mib", "-1", "render-cache-mib must be a whole number"),
        ("render-cache-mib", "1.5", "render-cache-mib must be a whole number"),
        ("trust-forwarded-for", "yes", "trust-forwarded-for must be true or false, not 'yes'"),
        ("blob-backend", "gcs", "blob-backend must be fs or s3, not 'gcs'"),
        ("s3-endpoint", "s3.example.com", "s3-endpoint must be http(s)://HOST[:PORT]"),
        ("s3-endpoint", "https://s3.example.com/bucket", "s3-endpoint must be"),
        ("root-key-file", "keys/root.asc", "root-key-file must be a file under"),
        ("root-key-file", "/etc/depot/root.asc", "root-key-file must be a file under"),
        ("public-url", "http://store\x01.example.com", "public-url must not contain control"),
        ("authority-id", "store\x01", "authority-id must not contain control characters"),
    ],
)
def test_invalid_values_fail_the_hook_and_keep_the_previous_file(snap, option, value, message):
    snap.set(listen="0.0.0.0:8080")
    assert snap.configure().returncode == 0
    before = snap.config_file.read_text()

    snap.set(**{option.replace("-", "_"): value})
    result = snap.configure()
    assert result.returncode != 0
    assert message in result.stderr
    assert snap.config_file.read_text() == before
    assert not [c for c in snap.calls() if c.startswith("restart")]


def test_quotes_and_backslashes_in_the_database_url_survive_toml(snap):
    url = 'postgres://depot:p"a\\ss@db/depot'
    snap.set(database_url=url)
    assert snap.configure().returncode == 0
    assert snap.config()["database_url"] == url


def test_the_file_is_readable_by_root_only(snap):
    snap.set(database_url="postgres://depot:s3cret@db/depot")
    assert snap.configure().returncode == 0
    assert snap.config_file.stat().st_mode & 0o777 == 0o600


def test_a_running_daemon_is_restarted(snap):
    snap.service("active")
    snap.set(public_url="https://store.example.com")
    assert snap.configure().returncode == 0
    assert "restart depot.daemon" in snap.calls()


def test_a_stopped_daemon_is_left_alone(snap):
    snap.service("inactive")
    assert snap.configure().returncode == 0
    assert "services depot.daemon" in snap.calls()
    assert not [c for c in snap.calls() if c.startswith("restart")]


def test_unsetting_an_option_returns_to_the_default(snap):
    snap.set(public_url="https://store.example.com")
    assert snap.configure().returncode == 0
    (snap.fake / "options/public-url").unlink()
    assert snap.configure().returncode == 0
    assert "public_url" not in snap.config()


def test_the_daemon_wrapper_serves_with_the_hooks_file(snap, tmp_path):
    """The wrapper passes the file the hook wrote to `depot serve`."""
    assert snap.configure().returncode == 0
    fake_depot = snap.root / "bin/depot"
    fake_depot.unlink()
    fake_depot.write_text('#!/bin/bash\nprintf "%s\\n" "$PWD" "$@" "${DEPOT_CONFIG:-}"\n')
    fake_depot.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "SNAP": str(snap.root), "SNAP_DATA": str(snap.data),
           "SNAP_COMMON": str(snap.common)}
    daemon = subprocess.run([str(REPO / "snap/local/depot-daemon")], env=env,
                            capture_output=True, text=True, check=True)
    assert daemon.stdout.splitlines() == [
        str(snap.common), "--config", str(snap.config_file), "serve", ""
    ]
    command = subprocess.run([str(REPO / "snap/local/depot-command"), "admin", "create-token"],
                             env=env, capture_output=True, text=True, check=True)
    assert command.stdout.splitlines() == [
        os.getcwd(), "admin", "create-token", str(snap.config_file)
    ]


def test_the_daemon_wrapper_refuses_to_start_without_a_configuration(snap):
    env = {"PATH": "/usr/bin:/bin", "SNAP": str(snap.root), "SNAP_DATA": str(snap.data),
           "SNAP_COMMON": str(snap.common)}
    result = subprocess.run([str(REPO / "snap/local/depot-daemon")], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "depot.toml is missing" in result.stderr

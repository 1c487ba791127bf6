"""The snap's configure hook, run as a script against a fake `snapctl`."""

from __future__ import annotations

import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

HOOK = REPO / "snap/hooks/configure"

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
def snap(tmp_path: Path) -> Snap:
    fake = tmp_path / "fake"
    (fake / "bin").mkdir(parents=True)
    (fake / "options").mkdir()
    snapctl = fake / "bin/snapctl"
    snapctl.write_text(FAKE_SNAPCTL)
    snapctl.chmod(0o755)
    s = Snap(root=tmp_path / "snap", data=tmp_path / "data", common=tmp_path / "common", fake=fake)
    s.data.mkdir()
    s.common.mkdir()
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
    bin_dir = snap.root / "bin"
    bin_dir.mkdir(parents=True)
    fake_depot = bin_dir / "depot"
    fake_depot.write_text('#!/bin/bash\nprintf "%s\\n" "$PWD" "$@" "${DEPOT_CONFIG:-}"\n')
    fake_depot.chmod(0o755)
    assert snap.configure().returncode == 0
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

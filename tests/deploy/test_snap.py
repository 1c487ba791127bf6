"""snap/snapcraft.yaml: schema, parts, apps and the files they point at."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import craft_parts
import pytest
import yaml

from conftest import REPO, load_yaml

SNAPCRAFT = "snap/snapcraft.yaml"


def check_snapcraft_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.snapcraft", str(path)],
        capture_output=True,
        text=True,
    )


def test_snapcraft_yaml_validates_against_the_snapcraft_schema():
    result = check_snapcraft_schema(REPO / SNAPCRAFT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("apps", "daemon", "daemon"), "simpel"),
        (("confinement",), "loose"),
        (("apps", "daemon", "restart-condition"), "sometimes"),
    ],
)
def test_the_schema_check_rejects_a_broken_snapcraft_yaml(tmp_path, path, value):
    snap = copy.deepcopy(load_yaml(SNAPCRAFT))
    node = snap
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    broken = tmp_path / "snapcraft.yaml"
    broken.write_text(yaml.safe_dump(snap))
    assert check_snapcraft_schema(broken).returncode != 0


@pytest.mark.parametrize("name", sorted(load_yaml(SNAPCRAFT)["parts"]))
def test_each_part_is_valid_for_its_plugin(name):
    craft_parts.validate_part(copy.deepcopy(load_yaml(SNAPCRAFT)["parts"][name]))


def test_strict_core24_daemon_with_network_plugs():
    snap = load_yaml(SNAPCRAFT)
    assert snap["base"] == "core24"
    assert snap["confinement"] == "strict"
    daemon = snap["apps"]["daemon"]
    assert daemon["daemon"] == "simple"
    assert {"network", "network-bind"} <= set(daemon["plugs"])
    cli = snap["apps"]["depot"]
    assert "daemon" not in cli
    assert {"network", "home"} <= set(cli["plugs"])


def staged_files(snap: dict) -> set[str]:
    files: set[str] = set()
    for part in snap["parts"].values():
        files.update(part.get("stage", []))
    return files


def test_every_app_command_is_staged_by_a_part_and_exists_as_an_executable():
    snap = load_yaml(SNAPCRAFT)
    staged = staged_files(snap)
    for name, app in snap["apps"].items():
        command = app["command"].split()[0]
        assert command in staged, f"app {name} runs {command}, which no part stages"
    wrappers = snap["parts"]["wrappers"]
    for source, target in wrappers["organize"].items():
        script = REPO / wrappers["source"] / source
        assert script.is_file() and os.access(script, os.X_OK), script
        assert target in staged


def test_the_rust_part_builds_the_depot_binary_of_the_workspace():
    part = load_yaml(SNAPCRAFT)["parts"]["depot"]
    assert part["plugin"] == "rust"
    assert part["rust-path"] == ["app"]
    cargo = (REPO / "app/Cargo.toml").read_text()
    assert 'name = "depot"' in cargo
    assert "bin/depot" in part["stage"]


def test_the_configure_hook_is_an_executable_script():
    hook = REPO / "snap/hooks/configure"
    assert os.access(hook, os.X_OK)
    assert hook.read_text().startswith("#!/bin/bash\n")


def test_shell_scripts_pass_shellcheck():
    scripts = [REPO / "snap/hooks/configure", *sorted((REPO / "snap/local").iterdir())]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), *map(str, scripts)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""rockcraft.yaml: schema, parts, Pebble service and checks, agreement with the charm."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import craft_parts
import pytest
import yaml

from conftest import REPO, load_yaml

SCHEMA = REPO / "tests/deploy/schemas/rockcraft.schema.json"


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(path)],
        capture_output=True,
        text=True,
    )


def test_rockcraft_yaml_validates_against_the_schema():
    result = check(REPO / "rockcraft.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update({"run-user": "nobody"}),
        lambda r: r.pop("build-base"),
        lambda r: r.update({"entrypoint": ["/usr/local/bin/depot"]}),
        lambda r: r["services"]["depot"].update({"startup": "sometimes"}),
        lambda r: r["checks"]["depot-ready"].update({"level": "dead"}),
        lambda r: r["checks"]["depot-ready"].update({"tcp": {"port": 8080}}),
        lambda r: r["checks"]["depot-alive"].update({"period": "ten seconds"}),
    ],
    ids=["run-user", "bare-without-build-base", "docker-entrypoint", "startup", "level", "two-probes", "period"],
)
def test_the_schema_rejects_broken_rocks(tmp_path, mutate):
    rock = copy.deepcopy(load_yaml("rockcraft.yaml"))
    mutate(rock)
    broken = tmp_path / "rockcraft.yaml"
    broken.write_text(yaml.safe_dump(rock))
    assert check(broken).returncode != 0


@pytest.mark.parametrize("name", sorted(load_yaml("rockcraft.yaml")["parts"]))
def test_each_part_is_valid_for_its_plugin(name):
    craft_parts.validate_part(copy.deepcopy(load_yaml("rockcraft.yaml")["parts"][name]))


def test_a_misspelt_rust_property_is_caught_by_craft_parts():
    part = copy.deepcopy(load_yaml("rockcraft.yaml")["parts"]["depot"])
    part["rust-chanel"] = part.pop("rust-channel")
    with pytest.raises(Exception, match="rust-chanel"):
        craft_parts.validate_part(part)


def test_bare_base_with_the_runtime_slices_a_rust_binary_needs():
    rock = load_yaml("rockcraft.yaml")
    assert rock["base"] == "bare"
    assert rock["build-base"] == "ubuntu@24.04"
    assert rock["run-user"] == "_daemon_"
    slices = rock["parts"]["runtime"]["stage-packages"]
    assert {"ca-certificates_data", "libc6_libs", "libgcc-s1_libs"} <= set(slices)
    assert all("_" in s for s in slices), "slices and packages cannot be mixed"


def test_the_service_runs_the_binary_the_rust_part_installs():
    rock = load_yaml("rockcraft.yaml")
    part = rock["parts"]["depot"]
    installed = part["organize"]["bin/depot"]
    assert installed in part["stage"]
    service = rock["services"]["depot"]
    assert service["command"].split()[0] == "/" + installed
    assert service["command"].split()[1:] == ["serve"]
    assert service["user"] == "_daemon_"
    assert service["on-check-failure"] == {"depot-alive": "restart"}


def test_checks_probe_readyz_and_healthz_on_the_listen_port():
    rock = load_yaml("rockcraft.yaml")
    port = rock["environment"]["DEPOT_LISTEN"].rsplit(":", 1)[1]
    assert rock["checks"]["depot-ready"]["level"] == "ready"
    assert rock["checks"]["depot-ready"]["http"]["url"] == f"http://localhost:{port}/readyz"
    assert rock["checks"]["depot-alive"]["level"] == "alive"
    assert rock["checks"]["depot-alive"]["http"]["url"] == f"http://localhost:{port}/healthz"


def test_the_data_directory_belongs_to_the_service_user():
    rock = load_yaml("rockcraft.yaml")
    data_dir = rock["environment"]["DEPOT_DATA_DIR"].lstrip("/")
    [permission] = rock["parts"]["data-dir"]["permissions"]
    assert permission["path"] == data_dir
    assert permission["owner"] == permission["group"] == 584792


def test_the_charm_layer_matches_the_rock(repo):
    """The charm replaces the rock's service; paths, user and checks must be the same."""
    sys.path.insert(0, str(repo / "charm/src"))
    try:
        import workload
    finally:
        sys.path.pop(0)
    rock = load_yaml("rockcraft.yaml")
    layer = workload.layer({})
    assert layer["services"]["depot"]["command"] == rock["services"]["depot"]["command"]
    assert layer["services"]["depot"]["user"] == rock["run-user"]
    for name, check_ in rock["checks"].items():
        assert layer["checks"][name]["http"] == check_["http"]
        assert layer["checks"][name]["level"] == check_["level"]
    charm = load_yaml("charm/charmcraft.yaml")
    assert charm["containers"]["depot"]["mounts"][0]["location"] == "/" + rock["environment"][
        "DEPOT_DATA_DIR"
    ].lstrip("/")

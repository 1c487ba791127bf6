"""Terraform, checked offline: every file parses, modules keep their contract, module calls
pass what modules need, and the endpoint names agree with charm/charmcraft.yaml."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from conftest import REPO, load_yaml

TERRAFORM = REPO / "terraform"
MODULE = TERRAFORM
COMPOSITION = TERRAFORM / "multi-region"
REGION = COMPOSITION / "region"
ALL_TF = sorted(TERRAFORM.rglob("*.tf")) + sorted((REPO / "tests/deploy/checkov").rglob("*.tf"))

# Endpoints of the other charms the composition deploys (their charmcraft/metadata files):
# (application charm, endpoint) -> interface.
OTHER_CHARMS = {
    ("postgresql-k8s", "database"): "postgresql_client",
    ("postgresql-k8s", "replication-offer"): "postgresql_async",
    ("postgresql-k8s", "replication"): "postgresql_async",
    ("traefik-k8s", "ingress"): "ingress",
    ("s3-integrator", "s3-credentials"): "s3",
}


def unquote(value: Any) -> Any:
    """python-hcl2 8 keeps HCL quoting: '"depot"' -> 'depot'; drops its bookkeeping keys."""
    if isinstance(value, dict):
        return {
            unquote(k): unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")
        }
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)
    return value


def parse(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return unquote(hcl2.load(f))


def module_blocks(directory: Path, kind: str) -> dict[str, Any]:
    """All blocks of one kind (variable, output, module) in a directory, by name."""
    blocks: dict[str, Any] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in parse(path).get(kind, []):
            blocks.update(entry)
    return blocks


def resources(directory: Path, type_: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in parse(path).get("resource", []):
            for name, body in entry.get(type_, {}).items():
                found[name] = body
    return found


def charm() -> dict[str, Any]:
    return load_yaml("charm/charmcraft.yaml")


@pytest.mark.parametrize("path", ALL_TF, ids=lambda p: str(p.relative_to(REPO)))
def test_every_tf_file_parses(path):
    assert isinstance(parse(path), dict)


@pytest.mark.parametrize("directory", [MODULE, COMPOSITION, REGION], ids=lambda p: p.name)
def test_variables_are_typed_and_described(directory):
    variables = module_blocks(directory, "variable")
    assert variables
    for name, body in variables.items():
        assert body.get("type"), f"{directory.name}: variable {name} has no type"
        assert len(body.get("description", "")) > 10, f"{directory.name}: {name} undescribed"


@pytest.mark.parametrize("directory", [MODULE, COMPOSITION, REGION], ids=lambda p: p.name)
def test_outputs_are_described(directory):
    for name, body in module_blocks(directory, "output").items():
        assert body.get("description"), f"{directory.name}: output {name} undescribed"


@pytest.mark.parametrize("directory", [MODULE, COMPOSITION, REGION], ids=lambda p: p.name)
def test_versions_pin_the_juju_provider(directory):
    [terraform] = parse(directory / "versions.tf")["terraform"]
    [providers] = terraform["required_providers"]
    assert providers["juju"]["source"] == "juju/juju"
    assert re.fullmatch(r"~> \d+\.\d+", providers["juju"]["version"])
    assert terraform["required_version"].startswith(">=")


def test_the_module_takes_the_canonical_inputs():
    variables = module_blocks(MODULE, "variable")
    assert {
        "app_name", "channel", "revision", "base", "config", "constraints", "units", "model_uuid",
    } <= set(variables)
    assert "default" not in variables["model_uuid"], "model_uuid must be given by the caller"
    assert variables["revision"]["type"] == "number"
    assert variables["config"]["type"] == "${map(string)}"


def test_the_module_deploys_this_charm():
    [app] = resources(MODULE, "juju_application").values()
    [charm_block] = app["charm"]
    assert charm_block["name"] == charm()["name"]
    assert app["model_uuid"] == "${var.model_uuid}"
    assert app["trust"] is False
    for variable in ("channel", "revision", "base"):
        assert charm_block[variable] == f"${{var.{variable}}}"


def test_module_outputs_name_exactly_the_charms_endpoints():
    outputs = module_blocks(MODULE, "output")
    assert {"app_name", "requires", "provides"} <= set(outputs)
    meta = charm()
    requires = outputs["requires"]["value"]
    provides = outputs["provides"]["value"]
    assert sorted(requires.values()) == sorted(meta["requires"])
    assert sorted(provides.values()) == sorted(meta["provides"])
    # keys are the endpoint names with dashes as underscores, so callers can guess them
    for mapping in (requires, provides):
        for key, endpoint in mapping.items():
            assert key == endpoint.replace("-", "_")


def test_storage_directives_name_the_charms_storage():
    region = resources(REGION, "juju_application")
    calls = module_blocks(REGION, "module")
    assert set(calls["depot"]["storage_directives"]) <= set(charm()["storage"])
    assert "pgdata" in region["postgresql"]["storage_directives"]


def module_source(directory: Path, call: dict) -> Path:
    return (directory / call["source"]).resolve()


@pytest.mark.parametrize("directory", [COMPOSITION, REGION], ids=lambda p: p.name)
def test_module_calls_pass_every_required_variable_and_nothing_unknown(directory):
    calls = module_blocks(directory, "module")
    assert calls
    for name, call in calls.items():
        target = module_source(directory, call)
        variables = module_blocks(target, "variable")
        passed = set(call) - {"source", "for_each", "count", "depends_on", "providers"}
        required = {v for v, body in variables.items() if "default" not in body}
        assert required <= passed, f"module {name} misses {required - passed}"
        assert passed <= set(variables), f"module {name} passes unknown {passed - set(variables)}"


def referenced_outputs(directory: Path, module_name: str) -> set[str]:
    text = "".join(p.read_text() for p in directory.glob("*.tf"))
    refs = re.findall(rf"module\.{module_name}(?:\[[^\]]+\])?\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?", text)
    return {f"{a}.{b}" if b else a for a, b in refs}


@pytest.mark.parametrize(
    ("directory", "module_name", "target"),
    [(REGION, "depot", MODULE), (COMPOSITION, "primary", REGION), (COMPOSITION, "replica", REGION)],
)
def test_references_to_module_outputs_exist(directory, module_name, target):
    outputs = module_blocks(target, "output")
    for ref in referenced_outputs(directory, module_name):
        output, _, key = ref.partition(".")
        assert output in outputs, f"module.{module_name}.{output} is not an output of {target}"
        if key and isinstance(outputs[output]["value"], dict):
            assert key in outputs[output]["value"], f"module.{module_name}.{ref} does not exist"


def application_charms(directory: Path) -> dict[str, str]:
    """Resource name -> charm name of the juju_applications in a directory."""
    return {name: body["charm"][0]["name"] for name, body in resources(directory, "juju_application").items()}


def test_integrations_join_two_compatible_endpoints():
    meta = charm()
    depot_interfaces = {
        **{e: spec["interface"] for e, spec in meta["requires"].items()},
        **{e: spec["interface"] for e, spec in meta["provides"].items()},
    }
    outputs = module_blocks(MODULE, "output")
    endpoint_of = {**outputs["requires"]["value"], **outputs["provides"]["value"]}
    charms = application_charms(REGION)
    integrations = resources(REGION, "juju_integration")
    assert {"database", "ingress", "s3", "metrics", "dashboards", "logging", "tracing"} <= set(
        integrations
    )
    for name, body in integrations.items():
        sides = body["application"]
        assert len(sides) == 2, name
        depot_side = [s for s in sides if s.get("name") == "${module.depot.app_name}"]
        assert len(depot_side) == 1, f"{name}: one side must be depot"
        key = re.fullmatch(r"\$\{module\.depot\.(?:requires|provides)\.([a-z0-9_]+)\}", depot_side[0]["endpoint"])
        assert key, f"{name}: depot's endpoint must come from the module outputs"
        interface = depot_interfaces[endpoint_of[key.group(1)]]
        [other] = [s for s in sides if s is not depot_side[0]]
        if "offer_url" in other:
            assert set(other) == {"offer_url"}, name
            continue
        resource = re.fullmatch(r"\$\{juju_application\.([a-z0-9_]+)\.name\}", other["name"]).group(1)
        assert OTHER_CHARMS[(charms[resource], other["endpoint"])] == interface, name


def test_replication_offer_and_consumer_use_postgresqls_async_endpoints():
    [offer] = resources(COMPOSITION, "juju_offer").values()
    assert offer["endpoints"] == ["replication-offer"]
    assert offer["model_uuid"] == "${module.primary.model_uuid}"
    [integration] = resources(COMPOSITION, "juju_integration").values()
    assert integration["for_each"] == "${var.replicas}"
    local, remote = integration["application"]
    assert local["endpoint"] == "replication"
    assert remote == {"offer_url": "${juju_offer.postgresql_replication[0].url}"}
    assert ("postgresql-k8s", "replication") in OTHER_CHARMS


def test_regions_set_only_config_options_the_charm_has():
    options = set(charm()["config"]["options"])
    region_text = (REGION / "main.tf").read_text()
    set_here = set(re.findall(r"\{\s*([a-z-]+)\s*=\s*(?:tostring|\"secret:)", region_text))
    assert set_here == {"replica", "signing-keys-secret"}
    assert set_here <= options
    assert charm()["config"]["options"]["signing-keys-secret"]["type"] == "secret"
    example = parse(COMPOSITION / "example.tfvars")
    assert set(example["depot"]["config"]) <= options


def test_replica_regions_are_marked_replica_and_the_primary_is_not():
    calls = module_blocks(COMPOSITION, "module")
    assert calls["primary"]["replica"] is False
    assert calls["replica"]["replica"] is True
    assert calls["replica"]["for_each"] == "${var.replicas}"


def test_example_tfvars_uses_only_declared_variables_and_region_fields():
    variables = module_blocks(COMPOSITION, "variable")
    example = parse(COMPOSITION / "example.tfvars")
    assert set(example) <= set(variables)
    primary_type = variables["primary"]["type"]
    for field in example["primary"]:
        assert re.search(rf"\b{field}\s*=", primary_type), f"primary.{field} is not declared"
    for region, fields in example["replicas"].items():
        for field in fields:
            assert re.search(rf"\b{field}\s*=", variables["replicas"]["type"]), f"{region}.{field}"


def test_cos_offers_match_the_region_variables():
    composition = module_blocks(COMPOSITION, "variable")["cos_offers"]["type"]
    region = module_blocks(REGION, "variable")["cos_offers"]["type"]
    keys = lambda t: set(re.findall(r"\b([a-z_]+)\s*=\s*\$?\{?optional", t))  # noqa: E731
    assert keys(composition) == keys(region) == {
        "prometheus_metrics", "grafana_dashboards", "loki_logging", "tempo_tracing",
    }


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_is_clean():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def data_sources(directory: Path, type_: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in parse(path).get("data", []):
            found.update(entry.get(type_, {}))
    return found


def test_every_region_gets_the_same_signing_keys_secret():
    """One authority in every region: each region's model holds a user secret of the name the
    composition passes to every region."""
    calls = module_blocks(COMPOSITION, "module")
    for name in ("primary", "replica"):
        assert calls[name]["signing_keys_secret"] == "${var.signing_keys_secret}", name
    variable = module_blocks(COMPOSITION, "variable")["signing_keys_secret"]
    assert variable["type"] == "string" and variable["default"] is None
    region_variable = module_blocks(REGION, "variable")["signing_keys_secret"]
    assert region_variable["type"] == "string" and region_variable["default"] is None
    [check] = [c for p in COMPOSITION.glob("*.tf") for c in parse(p).get("check", [])]
    [assertion] = check["one_signing_authority"]["assert"]
    assert "var.signing_keys_secret != null" in assertion["condition"]
    assert "length(var.replicas) == 0" in assertion["condition"]


def test_the_region_grants_the_signing_keys_secret_to_depot_and_configures_it():
    [secret] = data_sources(REGION, "juju_secret").values()
    assert secret["model_uuid"] == "${juju_model.region.uuid}"
    assert secret["name"] == "${var.signing_keys_secret}"
    assert secret["count"] == "${var.signing_keys_secret == null ? 0 : 1}"
    [access] = resources(REGION, "juju_access_secret").values()
    assert access["model_uuid"] == "${juju_model.region.uuid}"
    assert access["secret_id"] == "${data.juju_secret.signing_keys[0].secret_id}"
    assert access["applications"] == ["${module.depot.app_name}"]
    assert access["count"] == secret["count"]
    config = module_blocks(REGION, "module")["depot"]["config"]
    assert "local.signing_keys_config" in config
    [local] = [b for p in REGION.glob("*.tf") for b in parse(p).get("locals", [])]
    assert 'signing-keys-secret = "secret:${data.juju_secret.signing_keys[0].secret_id}"' in (
        local["signing_keys_config"]
    )


def test_no_key_material_goes_through_terraform_state():
    """Signing keys are user secrets the operator adds; Terraform only looks them up."""
    for directory in (MODULE, COMPOSITION, REGION):
        assert not resources(directory, "juju_secret"), directory.name

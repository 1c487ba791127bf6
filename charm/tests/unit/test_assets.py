"""The charm's data files agree with depot: metric names, configuration keys, dashboards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

import workload

CHARM = Path(__file__).resolve().parents[2]
REPO = CHARM.parent
METRIC = re.compile(r"\b(depot_[a-z0-9_]+|process_[a-z0-9_]+)\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def documented_metrics() -> set[str]:
    text = (REPO / "docs/reference/metrics.md").read_text()
    return set(re.findall(r"^\| `(depot_[a-z0-9_]+)` \|", text, re.MULTILINE))


def base_name(metric: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if metric.endswith(suffix) and metric[: -len(suffix)] in documented_metrics():
            return metric[: -len(suffix)]
    return metric


def used_metrics(expressions: list[str]) -> set[str]:
    return {base_name(m) for expr in expressions for m in METRIC.findall(expr)}


def alert_rules() -> list[dict]:
    rules = yaml.safe_load((CHARM / "src/prometheus_alert_rules/depot.rules").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads((CHARM / "src/grafana_dashboards/depot.json").read_text())


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_metrics_reference_is_readable():
    assert {"depot_http_requests_total", "depot_change_follower_lag"} <= documented_metrics()


def test_alert_rules_use_only_documented_metrics():
    exprs = [rule["expr"] for rule in alert_rules()]
    unknown = {m for m in used_metrics(exprs) if not m.startswith("process_")} - documented_metrics()
    assert not unknown, f"alert rules use metrics depot does not export: {unknown}"


def test_alert_rules_cover_errors_follower_lag_and_readiness():
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    assert 'status=~"5.."' in by_name["DepotHigh5xxRatio"]["expr"]
    assert "depot_change_follower_lag" in by_name["DepotFollowerLagging"]["expr"]
    assert "up" in by_name["DepotUnitNotReady"]["expr"]
    for rule in by_name.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+m", rule["for"])


def test_dashboard_uses_only_documented_metrics_and_covers_the_core_ones():
    used = used_metrics(dashboard_queries())
    assert used - documented_metrics() <= {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    }
    core = {
        "depot_http_requests_total",
        "depot_http_request_duration_seconds",
        "depot_http_requests_in_flight",
        "depot_catalog_packages",
        "depot_catalog_applied_seq",
        "depot_change_follower_lag",
        "depot_change_follower_errors_total",
        "depot_uploads_total",
        "depot_downloads_total",
        "depot_db_pool_connections",
        "depot_build_info",
    }
    assert core - used == set(), f"core metrics without a panel: {core - used}"


def test_dashboard_panels_have_unique_ids_and_do_not_overlap():
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['title']!r} overlaps another"
                cells.add((x, y))


def test_dashboard_queries_use_the_prometheus_datasource_variable_and_topology():
    for p in dashboard()["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${prometheusds}"
        for target in p["targets"]:
            assert 'juju_application=~"$juju_application"' in target["expr"], p["title"]


def documented_config_keys() -> set[str]:
    text = (REPO / "docs/reference/configuration.md").read_text()
    section = text.split("## Keys", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.MULTILINE))


def test_every_depot_configuration_key_is_set_by_the_charm_or_an_option():
    passthrough = {option.key for option in workload.PASSTHROUGH_OPTIONS}
    # The blob store's keys (s3_*) come from the s3 relation, which the charm owns as a whole.
    missing = {
        key
        for key in documented_config_keys() - passthrough - workload.CHARM_OWNED_KEYS
        if not key.startswith("s3_")
    }
    assert not missing, (
        f"depot has configuration keys the charm neither sets nor exposes: {sorted(missing)}; "
        "add them to PASSTHROUGH_OPTIONS and charmcraft.yaml, or to CHARM_OWNED_KEYS"
    )


def test_every_passthrough_option_is_declared_with_depots_default():
    options = yaml.safe_load((CHARM / "charmcraft.yaml").read_text())["config"]["options"]
    text = (REPO / "docs/reference/configuration.md").read_text()
    for option in workload.PASSTHROUGH_OPTIONS:
        assert option.name in options, option.name
        assert option.key in documented_config_keys(), option.key
        if option.key in ("log_format", "trust_forwarded_for"):
            continue  # the charm deliberately differs: JSON for Loki, behind an ingress
        row = next(line for line in text.splitlines() if line.startswith(f"| `{option.key}` |"))
        default = row.split("|")[3].strip().strip("`").split(" ")[0].strip('"`')
        assert str(options[option.name]["default"]) == default, option.name

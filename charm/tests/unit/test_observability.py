"""metrics-endpoint, grafana-dashboard, logging and tracing relations."""

from __future__ import annotations

import dataclasses
import json

from cosl import LZMABase64
from ops import testing

from conftest import env_of, ready_state


def test_metrics_endpoint_publishes_a_scrape_job_for_every_unit_and_the_alert_rules(ctx):
    relation = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        ready_state(relations=(relation,), model=testing.Model(name="store")),
    )
    data = out.get_relation(relation.id).local_app_data
    [job] = json.loads(data["scrape_jobs"])
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["*:8080"]
    metadata = json.loads(data["scrape_metadata"])
    assert metadata["application"] == "depot" and metadata["model"] == "store"
    rules = json.loads(data["alert_rules"])
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"DepotHigh5xxRatio", "DepotFollowerLagging", "DepotUnitNotReady"} <= alerts
    # the unit tells Prometheus where to find it
    unit = out.get_relation(relation.id).local_unit_data
    assert unit["prometheus_scrape_unit_name"] == "depot/0"


def test_grafana_dashboard_ships_the_depot_dashboard(ctx):
    relation = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(ctx.on.relation_created(relation), ready_state(relations=(relation,)))
    dashboards = json.loads(out.get_relation(relation.id).local_app_data["dashboards"])
    [template] = dashboards["templates"].values()
    dashboard = json.loads(LZMABase64.decompress(template["content"]))
    assert dashboard["title"] == "depot"
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert any("depot_http_requests_total" in q for q in queries)
    assert any("depot_change_follower_lag" in q for q in queries)


def test_logging_forwards_the_workload_logs_to_every_loki_unit(ctx):
    relation = testing.Relation(
        "logging",
        remote_app_name="loki",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki-0.loki:3100/loki/api/v1/push"})}
        },
    )
    running = ctx.run(ctx.on.config_changed(), ready_state(relations=(relation,)))
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), running)
    targets = out.get_container("depot").plan.log_targets
    target = targets["loki/0"]
    assert target.type == "loki"
    assert target.location == "http://loki-0.loki:3100/loki/api/v1/push"
    assert target.services == ["all"]
    assert target.labels["juju_application"] == "depot"
    # logs are JSON for Loki by default
    assert env_of(out)["DEPOT_LOG_FORMAT"] == "json"


def tracing(receivers: list[dict] | None = None) -> testing.Relation:
    data = {"receivers": json.dumps(receivers)} if receivers is not None else {}
    return testing.Relation("tracing", remote_app_name="tempo", remote_app_data=data)


OTLP_HTTP = [{"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://tempo.cos:4318"}]


def test_tracing_requests_the_otlp_http_receiver(ctx):
    relation = tracing()
    running = ctx.run(ctx.on.config_changed(), ready_state(relations=(relation,)))
    out = ctx.run(ctx.on.relation_created(running.get_relation(relation.id)), running)
    assert json.loads(out.get_relation(relation.id).local_app_data["receivers"]) == ["otlp_http"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(out)


def test_the_tracing_endpoint_reaches_the_server_with_the_juju_topology(ctx):
    relation = tracing(OTLP_HTTP)
    out = ctx.run(
        ctx.on.relation_changed(relation),
        ready_state(relations=(relation,), model=testing.Model(name="store")),
    )
    env = env_of(out)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo.cos:4318"
    assert env["OTEL_SERVICE_NAME"] == "depot"
    assert "juju_application=depot" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert "juju_model=store" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")


def test_a_tempo_without_otlp_http_gives_no_endpoint(ctx):
    grpc_only = [{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "tempo.cos:4317"}]
    relation = tracing(grpc_only)
    out = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(out)


def test_removing_tracing_stops_exporting(ctx):
    relation = tracing(OTLP_HTTP)
    first = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in env_of(first)
    out = ctx.run(ctx.on.relation_broken(first.get_relation(relation.id)), first)
    assert not any(key.startswith("OTEL_") for key in env_of(out))


def test_non_leader_reads_the_tracing_endpoint_too(ctx):
    relation = tracing(OTLP_HTTP)
    base = ready_state(leader=False, relations=(relation,))
    peers = next(r for r in base.relations if r.endpoint == "depot-peers")
    migrated_peer = dataclasses.replace(peers, local_app_data={"schema": "0.3.1@" + _db(base)})
    state_in = dataclasses.replace(
        base, relations={*(r for r in base.relations if r.id != peers.id), migrated_peer}
    )
    out = ctx.run(ctx.on.relation_changed(relation), state_in)
    assert env_of(out)["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo.cos:4318"


def _db(state_in: testing.State) -> str:
    relation = next(r for r in state_in.relations if r.endpoint == "database")
    return f"{relation.remote_app_data['endpoints']}/depot"


def test_non_leader_with_a_tempo_without_otlp_http_gets_no_endpoint(ctx):
    grpc_only = [{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "tempo.cos:4317"}]
    relation = tracing(grpc_only)
    base = ready_state(leader=False, relations=(relation,))
    peers = next(r for r in base.relations if r.endpoint == "depot-peers")
    migrated_peer = dataclasses.replace(peers, local_app_data={"schema": "0.3.1@" + _db(base)})
    state_in = dataclasses.replace(
        base, relations={*(r for r in base.relations if r.id != peers.id), migrated_peer}
    )
    out = ctx.run(ctx.on.relation_changed(relation), state_in)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(out)

"""The Pebble layer: service, checks, environment from config, readiness in the status."""

from __future__ import annotations

import dataclasses

import ops
import pytest
from ops import testing

from conftest import container, env_of, execs, ready_state

CONFIG_TO_ENV = {
    "max-upload-size": ("DEPOT_MAX_UPLOAD_SIZE", 1048576, "1048576"),
    "log-format": ("DEPOT_LOG_FORMAT", "text", "text"),
    "database-max-connections": ("DEPOT_DATABASE_MAX_CONNECTIONS", 40, "40"),
    "follower-poll-interval-ms": ("DEPOT_FOLLOWER_POLL_INTERVAL_MS", 250, "250"),
    "branch-lifetime-secs": ("DEPOT_BRANCH_LIFETIME_SECS", 86400, "86400"),
    "request-timeout-secs": ("DEPOT_REQUEST_TIMEOUT_SECS", 10, "10"),
    "shutdown-grace-secs": ("DEPOT_SHUTDOWN_GRACE_SECS", 0, "0"),
    "render-cache-mib": ("DEPOT_RENDER_CACHE_MIB", 64, "64"),
    "publisher-rate-limit-per-minute": ("DEPOT_PUBLISHER_RATE_LIMIT_PER_MINUTE", 0, "0"),
    "search-rate-limit-per-minute": ("DEPOT_SEARCH_RATE_LIMIT_PER_MINUTE", 1200, "1200"),
    "trust-forwarded-for": ("DEPOT_TRUST_FORWARDED_FOR", False, "false"),
    "log-filter": ("RUST_LOG", "info,depot=debug", "info,depot=debug"),
}


def test_layer_runs_depot_serve_as_the_daemon_user_with_ready_and_alive_checks(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state())
    plan = out.get_container("depot").plan
    service = plan.services["depot"]
    assert service.command == "/usr/local/bin/depot serve"
    assert service.startup == "enabled"
    assert service.user == "_daemon_"
    assert service.on_check_failure == {"depot-alive": "restart"}
    ready, alive = plan.checks["depot-ready"], plan.checks["depot-alive"]
    assert ready.level == ops.pebble.CheckLevel.READY
    assert ready.http == {"url": "http://localhost:8080/readyz"}
    assert alive.level == ops.pebble.CheckLevel.ALIVE
    assert alive.http == {"url": "http://localhost:8080/healthz"}


def test_layer_environment_defaults(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state(model=testing.Model(name="store")))
    env = env_of(out)
    assert env["DEPOT_LISTEN"] == "0.0.0.0:8080"
    assert env["DEPOT_DATA_DIR"] == "/var/lib/depot/data"
    assert env["DEPOT_PUBLIC_URL"] == "http://depot.store.svc.cluster.local:8080"
    assert env["DEPOT_LOG_FORMAT"] == "json"
    assert env["DEPOT_MAX_UPLOAD_SIZE"] == "2147483648"
    assert env["DEPOT_TRUST_FORWARDED_FOR"] == "true"
    assert env["DEPOT_BLOB_BACKEND"] == "fs"
    assert "RUST_LOG" not in env
    assert not any(key.startswith("OTEL_") for key in env)


@pytest.mark.parametrize("option", sorted(CONFIG_TO_ENV))
def test_each_option_reaches_the_server(ctx, option):
    variable, value, expected = CONFIG_TO_ENV[option]
    out = ctx.run(ctx.on.config_changed(), ready_state(config={option: value}))
    assert env_of(out)[variable] == expected


def test_a_config_change_replans_the_running_service(ctx):
    first = ctx.run(ctx.on.config_changed(), ready_state())
    changed = dataclasses.replace(first, config={"max-upload-size": 4096})
    out = ctx.run(ctx.on.config_changed(), changed)
    assert env_of(out)["DEPOT_MAX_UPLOAD_SIZE"] == "4096"
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"log-format": "yaml"}, "invalid config: log-format must be one of json, text, not 'yaml'"),
        ({"max-upload-size": 0}, "invalid config: max-upload-size must be at least 1, not 0"),
        (
            {"database-max-connections": -3},
            "invalid config: database-max-connections must be at least 1, not -3",
        ),
        (
            {"public-url": "ftp://depot.example.com"},
            "invalid config: public-url must be an http:// or https:// URL, not 'ftp://depot.example.com'",
        ),
        ({"public-url": "https://x.example/?a=b"}, "invalid config: public-url must not have a query or fragment"),
    ],
)
def test_invalid_config_blocks_and_keeps_the_running_layer(ctx, config, message):
    good = ctx.run(ctx.on.config_changed(), ready_state())
    before = env_of(good)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config=config))
    assert out.unit_status == ops.BlockedStatus(message)
    assert env_of(out) == before


def test_public_url_config_wins_and_loses_its_trailing_slash(ctx):
    out = ctx.run(
        ctx.on.config_changed(), ready_state(config={"public-url": "https://store.example.com/"})
    )
    assert env_of(out)["DEPOT_PUBLIC_URL"] == "https://store.example.com"


def test_the_data_directory_is_created_for_the_daemon_user(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state())
    root = out.get_container("depot").get_filesystem(ctx)
    assert (root / "var/lib/depot/data").is_dir()


def test_the_port_is_opened(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state())
    assert out.opened_ports == {testing.TCPPort(8080)}


def test_a_failing_ready_check_is_reported_and_recovery_returns_to_active(ctx):
    running = ctx.run(ctx.on.config_changed(), ready_state())
    failing = testing.CheckInfo(
        "depot-ready",
        level=ops.pebble.CheckLevel.READY,
        status=ops.pebble.CheckStatus.DOWN,
        failures=3,
        threshold=3,
    )
    workload = dataclasses.replace(running.get_container("depot"), check_infos={failing})
    out = ctx.run(
        ctx.on.pebble_check_failed(workload, failing),
        dataclasses.replace(running, containers={workload}),
    )
    assert out.unit_status == ops.WaitingStatus("depot is not ready: /readyz is failing")

    up = dataclasses.replace(failing, status=ops.pebble.CheckStatus.UP, failures=0)
    healthy = dataclasses.replace(workload, check_infos={up})
    out = ctx.run(
        ctx.on.pebble_check_recovered(healthy, up),
        dataclasses.replace(out, containers={healthy}),
    )
    assert out.unit_status == ops.ActiveStatus()


def test_pebble_ready_on_a_restarted_pod_brings_the_service_back(ctx):
    workload = container()
    out = ctx.run(ctx.on.pebble_ready(workload), ready_state(containers=(workload,)))
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE
    assert execs(ctx, "/usr/local/bin/depot", "--version")

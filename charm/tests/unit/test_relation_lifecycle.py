"""Every relation's joined, changed and broken events on a running unit.

Whatever the remote side does, a unit that is serving keeps serving (except for the
database, whose loss stops it), and the status says what is missing.
"""

from __future__ import annotations

import json

import ops
import pytest
from ops import testing

from conftest import db_relation, migrated, peer, state

REMOTE_DATA = {
    "ingress": ({"ingress": json.dumps({"url": "http://ingress.example.com/store-depot"})}, {}),
    "s3": ({"access-key": "a", "secret-key": "s", "bucket": "b"}, {}),
    "logging": ({}, {0: {"endpoint": json.dumps({"url": "http://loki-0:3100/loki/api/v1/push"})}}),
    "tracing": (
        {"receivers": json.dumps([{"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://tempo:4318"}])},
        {},
    ),
    "metrics-endpoint": ({}, {}),
    "grafana-dashboard": ({}, {}),
}


def running(ctx, relation: testing.Relation, leader: bool = True) -> testing.State:
    return ctx.run(
        ctx.on.config_changed(),
        state(leader=leader, relations=(db_relation(), peer(migrated()), relation)),
    )


def relation_for(endpoint: str) -> testing.Relation:
    app_data, units_data = REMOTE_DATA[endpoint]
    return testing.Relation(
        endpoint,
        remote_app_name="loki" if endpoint == "logging" else "remote",
        remote_app_data=app_data,
        remote_units_data=units_data or {0: {}},
    )


@pytest.mark.parametrize("leader", [True, False], ids=["leader", "follower"])
@pytest.mark.parametrize("endpoint", sorted(REMOTE_DATA))
def test_joined_changed_broken_keep_the_unit_serving(ctx, endpoint, leader):
    relation = relation_for(endpoint)
    out = running(ctx, relation, leader)
    for event in (ctx.on.relation_joined, ctx.on.relation_changed):
        out = ctx.run(event(out.get_relation(relation.id), remote_unit=0), out)
        assert out.unit_status == ops.ActiveStatus(), (endpoint, event)
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    assert out.unit_status == ops.ActiveStatus()
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE


def test_losing_loki_stops_forwarding_logs_to_it(ctx):
    relation = relation_for("logging")
    out = running(ctx, relation)
    out = ctx.run(ctx.on.relation_changed(out.get_relation(relation.id), remote_unit=0), out)
    assert out.get_container("depot").plan.log_targets["loki/0"].services == ["all"]
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    targets = out.get_container("depot").plan.log_targets
    assert "loki/0" not in targets or targets["loki/0"].services == ["-all"]


def test_a_peer_leaving_does_not_disturb_the_others(ctx):
    peers = testing.PeerRelation(
        "depot-peers", local_app_data={"schema": migrated()}, peers_data={1: {}, 2: {}}
    )
    out = ctx.run(ctx.on.config_changed(), state(relations=(db_relation(), peers)))
    out = ctx.run(ctx.on.relation_departed(out.get_relation(peers.id), remote_unit=2, departing_unit=2), out)
    assert out.unit_status == ops.ActiveStatus()
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE


def test_the_database_relation_joining_before_credentials_waits(ctx):
    relation = testing.Relation("database", remote_app_name="postgresql-k8s")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0), state(relations=(relation, peer()))
    )
    assert out.unit_status == ops.WaitingStatus("waiting for PostgreSQL to create the database")


def test_a_new_loki_after_the_old_one_left_gets_the_logs(ctx):
    relation = relation_for("logging")
    out = running(ctx, relation)
    out = ctx.run(ctx.on.relation_changed(out.get_relation(relation.id), remote_unit=0), out)
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    again = relation_for("logging")
    out = ctx.run(
        ctx.on.relation_changed(again, remote_unit=0),
        testing.State(
            leader=True,
            relations={*(r for r in out.relations if r.id != relation.id), again},
            containers=out.containers,
            storages=out.storages,
            stored_states=out.stored_states,
            secrets=out.secrets,
        ),
    )
    assert out.get_container("depot").plan.log_targets["loki/0"].services == ["all"]

"""Migrations run once, by the leader, before any unit serves; scaling out."""

from __future__ import annotations

import ops
from ops import testing

from conftest import (
    DEPOT,
    VERSION,
    container,
    db_relation,
    env_of,
    execs,
    migrated,
    peer,
    planned,
    ready_state,
    state,
)


def schema_of(out: testing.State) -> str | None:
    relation = next(r for r in out.relations if r.endpoint == "depot-peers")
    return relation.local_app_data.get("schema")


def test_leader_migrates_then_records_it_then_serves(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state())
    [migrate] = execs(ctx, DEPOT, "migrate")
    # `depot migrate` gets the same database as the server will.
    assert migrate.environment["DEPOT_DATABASE_URL"] == env_of(out)["DEPOT_DATABASE_URL"]
    assert schema_of(out) == migrated()
    assert planned(out)
    assert out.unit_status == ops.ActiveStatus()


def test_leader_does_not_migrate_twice_for_the_same_version_and_database(ctx):
    out = ctx.run(ctx.on.update_status(), state(relations=(db_relation(), peer(migrated()))))
    assert not execs(ctx, DEPOT, "migrate")
    assert planned(out)


def test_a_new_server_version_is_migrated_by_the_leader(ctx):
    out = ctx.run(
        ctx.on.upgrade_charm(),
        state(
            relations=(db_relation(), peer(migrated("0.2.0"))),
            containers=(container(version="0.3.1"),),
        ),
    )
    assert len(execs(ctx, DEPOT, "migrate")) == 1
    assert schema_of(out) == migrated("0.3.1")


def test_non_leader_waits_for_the_leader_and_does_not_start(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state(leader=False))
    assert not execs(ctx, DEPOT, "migrate")
    assert not planned(out)
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to migrate the database")


def test_non_leader_with_an_older_schema_waits_for_the_upgraded_leader(ctx):
    workload = container()
    out = ctx.run(
        ctx.on.pebble_ready(workload),
        state(
            leader=False,
            relations=(db_relation(), peer(migrated("0.2.0"))),
            containers=(workload,),
        ),
    )
    assert not execs(ctx, DEPOT, "migrate")
    assert not planned(out)


def test_non_leader_starts_when_the_leader_records_the_migration(ctx):
    waiting = ctx.run(ctx.on.config_changed(), ready_state(leader=False))
    relation = next(r for r in waiting.relations if r.endpoint == "depot-peers")
    recorded = testing.PeerRelation(
        "depot-peers", id=relation.id, local_app_data={"schema": migrated()}
    )
    others = {r for r in waiting.relations if r.id != relation.id}
    out = ctx.run(
        ctx.on.relation_changed(recorded, remote_unit=1),
        testing.State(
            leader=False,
            relations={*others, recorded},
            containers=waiting.containers,
            storages=waiting.storages,
            stored_states=waiting.stored_states,
            secrets=waiting.secrets,
        ),
    )
    assert planned(out)
    assert out.unit_status == ops.ActiveStatus()
    assert not execs(ctx, DEPOT, "migrate")


def test_a_failed_migration_blocks_with_the_error_and_is_retried(ctx):
    failing = container(migrate_rc=1, migrate_stderr="error: relation \"changes\" is locked\n")
    out = ctx.run(ctx.on.config_changed(), ready_state(containers=(failing,)))
    assert out.unit_status == ops.BlockedStatus(
        'database migration failed: error: relation "changes" is locked'
    )
    assert schema_of(out) is None
    assert not planned(out)

    # The next hook tries again; this time the database lets it through.
    retried = ctx.run(
        ctx.on.update_status(),
        testing.State(
            leader=True,
            relations=out.relations,
            containers={container()},
            storages=out.storages,
            stored_states=out.stored_states,
            secrets=out.secrets,
        ),
    )
    assert schema_of(retried) == migrated()
    assert planned(retried)
    assert retried.unit_status == ops.ActiveStatus()


def test_replica_regions_never_migrate_their_standby_database(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state(config={"replica": True}))
    assert not execs(ctx, DEPOT, "migrate")
    assert planned(out)
    assert env_of(out)["DEPOT_MIGRATE_ON_START"] == "false"
    assert out.unit_status == ops.ActiveStatus("read replica")


def test_replica_non_leader_serves_without_a_recorded_migration(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state(leader=False, config={"replica": True}))
    assert planned(out)


def test_scaling_out_without_s3_is_blocked_because_blobs_would_not_be_shared(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state(planned_units=3))
    assert out.unit_status == ops.BlockedStatus(
        "more than one unit needs the s3 integration to share blobs"
    )
    # The first unit keeps serving: the block is about the new units, not this one.
    assert planned(out)


def test_scaling_out_with_s3_is_active(ctx):
    s3 = testing.Relation(
        "s3",
        remote_app_data={"access-key": "a", "secret-key": "s", "bucket": "depot"},
    )
    out = ctx.run(ctx.on.config_changed(), ready_state(planned_units=3, relations=(s3,)))
    assert out.unit_status == ops.ActiveStatus()


def test_the_workload_version_is_the_servers(ctx):
    out = ctx.run(ctx.on.config_changed(), ready_state())
    assert out.workload_version == VERSION

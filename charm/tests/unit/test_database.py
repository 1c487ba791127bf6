"""The `database` relation (postgresql_client): request, credentials, URL, loss."""

from __future__ import annotations

import dataclasses
import json

import ops
from ops import testing

from conftest import (
    DB_ENDPOINTS,
    DEPOT,
    container,
    db_relation,
    env_of,
    execs,
    migrated,
    peer,
    planned,
    state,
    with_relation,
)

ENCODED_PASSWORD = "pa55%2Fword%3F%26"


def test_leader_requests_the_depot_database_when_the_relation_is_created(ctx):
    relation = testing.Relation("database", remote_app_name="postgresql-k8s")
    out = ctx.run(ctx.on.relation_created(relation), state(relations=(relation, peer())))
    sent = out.get_relation(relation.id).local_app_data
    assert sent["database"] == "depot"
    assert "password" in json.loads(sent["requested-secrets"])


def test_without_a_database_the_charm_is_blocked_and_serves_nothing(ctx):
    out = ctx.run(ctx.on.config_changed(), state(relations=(peer(),)))
    assert out.unit_status == ops.BlockedStatus(
        "needs a database: juju integrate depot postgresql-k8s"
    )
    assert not planned(out)
    assert not execs(ctx, DEPOT, "migrate")


def test_waits_while_postgresql_has_not_created_the_database(ctx):
    relation = testing.Relation("database", remote_app_name="postgresql-k8s")
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert out.unit_status == ops.WaitingStatus("waiting for PostgreSQL to create the database")
    assert not planned(out)


def test_credentials_become_the_database_url_with_the_password_percent_encoded(ctx):
    relation = db_relation()
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    env = env_of(out)
    assert env["DEPOT_DATABASE_URL"] == (
        f"postgres://relation_id_7:{ENCODED_PASSWORD}@{DB_ENDPOINTS}/depot"
    )
    assert env["DEPOT_MIGRATE_ON_START"] == "false"
    assert out.unit_status == ops.ActiveStatus()


def test_credentials_shared_through_a_juju_secret_are_read(ctx):
    secret = testing.Secret({"username": "secret-user", "password": "from-the-secret"})
    relation = testing.Relation(
        "database",
        remote_app_name="postgresql-k8s",
        remote_app_data={
            "database": "depot",
            "endpoints": "10.0.0.5:5432",
            "secret-user": secret.id,
        },
    )
    out = ctx.run(
        ctx.on.relation_changed(relation), state(relations=(relation, peer()), secrets={secret})
    )
    assert env_of(out)["DEPOT_DATABASE_URL"] == (
        "postgres://secret-user:from-the-secret@10.0.0.5:5432/depot"
    )


def test_only_the_first_endpoint_is_used_as_the_primary(ctx):
    relation = db_relation(endpoints="pg-0:5432,pg-1:5432")
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert "@pg-0:5432/depot" in env_of(out)["DEPOT_DATABASE_URL"]


def test_tls_without_a_ca_requires_tls(ctx):
    relation = db_relation(tls="True")
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert env_of(out)["DEPOT_DATABASE_URL"].endswith("/depot?sslmode=require")


def test_tls_with_a_ca_verifies_the_server_against_the_ca_written_into_the_container(ctx):
    ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    relation = db_relation(tls="True", **{"tls-ca": ca})
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert env_of(out)["DEPOT_DATABASE_URL"].endswith(
        "/depot?sslmode=verify-full&sslrootcert=/etc/depot/postgresql-ca.pem"
    )
    root = out.get_container("depot").get_filesystem(ctx)
    assert (root / "etc/depot/postgresql-ca.pem").read_text() == ca


def test_a_rotated_password_restarts_with_the_new_url_without_migrating_again(ctx):
    relation = db_relation()
    first = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert len(execs(ctx, DEPOT, "migrate")) == 1
    rotated = dataclasses.replace(
        first.get_relation(relation.id),
        remote_app_data={**relation.remote_app_data, "password": "rotated"},
    )
    out = ctx.run(ctx.on.relation_changed(rotated), with_relation(first, rotated))
    assert ":rotated@" in env_of(out)["DEPOT_DATABASE_URL"]
    assert len(execs(ctx, DEPOT, "migrate")) == 1


def test_a_different_database_host_is_migrated_again(ctx):
    relation = db_relation()
    first = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    moved = dataclasses.replace(
        first.get_relation(relation.id),
        remote_app_data={**relation.remote_app_data, "endpoints": "new-primary:5432"},
    )
    out = ctx.run(ctx.on.relation_changed(moved), with_relation(first, moved))
    assert len(execs(ctx, DEPOT, "migrate")) == 2
    schema = out.get_relation(next(r.id for r in out.relations if r.endpoint == "depot-peers"))
    assert schema.local_app_data["schema"] == migrated(endpoints="new-primary:5432")
    assert "@new-primary:5432/" in env_of(out)["DEPOT_DATABASE_URL"]


def test_losing_the_database_stops_the_server_and_blocks(ctx):
    relation = db_relation()
    running = ctx.run(ctx.on.relation_changed(relation), state(relations=(relation, peer())))
    assert running.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE
    out = ctx.run(ctx.on.relation_broken(running.get_relation(relation.id)), running)
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.INACTIVE
    assert out.unit_status == ops.BlockedStatus(
        "needs a database: juju integrate depot postgresql-k8s"
    )


def test_non_leader_reads_credentials_but_does_not_write_the_request(ctx):
    relation = db_relation()
    out = ctx.run(
        ctx.on.relation_changed(relation),
        state(leader=False, relations=(relation, peer(migrated()))),
        )
    assert "database" not in out.get_relation(relation.id).local_app_data
    assert env_of(out)["DEPOT_DATABASE_URL"].startswith("postgres://relation_id_7:")


def test_the_container_not_being_up_yet_is_waited_for(ctx):
    relation = db_relation()
    out = ctx.run(
        ctx.on.relation_changed(relation),
        state(relations=(relation, peer()), containers=(container(can_connect=False),)),
    )
    assert out.unit_status == ops.WaitingStatus("waiting for the depot container")
    assert not execs(ctx, DEPOT)


def test_a_password_rotated_in_the_secret_reaches_the_server(ctx):
    secret = testing.Secret(
        tracked_content={"username": "u", "password": "old"},
        latest_content={"username": "u", "password": "new"},
    )
    relation = testing.Relation(
        "database",
        remote_app_name="postgresql-k8s",
        remote_app_data={"database": "depot", "endpoints": "pg:5432", "secret-user": secret.id},
    )
    out = ctx.run(
        ctx.on.secret_changed(secret),
        state(relations=(relation, peer(migrated(endpoints="pg:5432"))), secrets={secret}),
    )
    assert env_of(out)["DEPOT_DATABASE_URL"] == "postgres://u:new@pg:5432/depot"
    assert not execs(ctx, DEPOT, "migrate")

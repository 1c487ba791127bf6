"""The `s3` relation: blob storage in S3-compatible object storage."""

from __future__ import annotations

import ops
from ops import testing

from conftest import env_of, ready_state

CREDENTIALS = {
    "access-key": "AKIADEPOT",
    "secret-key": "s3cr3t",
    "bucket": "depot-blobs",
    "endpoint": "https://s3.eu-west-1.example.com",
    "region": "eu-west-1",
    "s3-uri-style": "path",
}


def s3(data: dict[str, str] | None = None) -> testing.Relation:
    return testing.Relation("s3", remote_app_name="s3-integrator", remote_app_data=data or {})


def test_leader_asks_for_a_bucket_named_after_the_application(ctx):
    relation = s3()
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), ready_state(relations=(relation,)))
    assert out.get_relation(relation.id).local_app_data["bucket"] == "depot"


def test_credentials_switch_the_server_to_the_s3_blob_backend(ctx):
    relation = s3(CREDENTIALS)
    out = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    env = env_of(out)
    assert env["DEPOT_BLOB_BACKEND"] == "s3"
    assert env["DEPOT_S3_ENDPOINT"] == "https://s3.eu-west-1.example.com"
    assert env["DEPOT_S3_BUCKET"] == "depot-blobs"
    assert env["DEPOT_S3_REGION"] == "eu-west-1"
    assert env["DEPOT_S3_ACCESS_KEY"] == "AKIADEPOT"
    assert env["DEPOT_S3_SECRET_KEY"] == "s3cr3t"
    assert out.unit_status == ops.ActiveStatus()


def test_aws_style_credentials_without_endpoint_leave_it_unset(ctx):
    data = {"access-key": "a", "secret-key": "s", "bucket": "b"}
    relation = s3(data)
    env = env_of(ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,))))
    assert env["DEPOT_BLOB_BACKEND"] == "s3"
    assert "DEPOT_S3_ENDPOINT" not in env and "DEPOT_S3_REGION" not in env


def test_incomplete_credentials_wait_and_keep_the_filesystem_backend(ctx):
    relation = s3({"bucket": "depot-blobs", "access-key": "a"})
    out = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    assert out.unit_status == ops.WaitingStatus("waiting for S3 credentials")
    assert env_of(out)["DEPOT_BLOB_BACKEND"] == "fs"
    assert "DEPOT_S3_SECRET_KEY" not in env_of(out)


def test_removing_s3_goes_back_to_the_filesystem_backend(ctx):
    relation = s3(CREDENTIALS)
    first = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    out = ctx.run(ctx.on.relation_broken(first.get_relation(relation.id)), first)
    env = env_of(out)
    assert env["DEPOT_BLOB_BACKEND"] == "fs"
    assert not any(key.startswith("DEPOT_S3_") for key in env)

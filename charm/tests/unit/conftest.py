"""Shared builders for the charm's state-transition tests (ops.testing)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from ops import testing

from charm import DepotCharm

DEPOT = "/usr/local/bin/depot"
VERSION = "0.3.1"
DB_ENDPOINTS = "postgresql-k8s-primary.db.svc.cluster.local:5432"
DB_PASSWORD = "pa55/word?&"
KEYS_LABEL = "signing-keys"


def armored(body: str) -> str:
    """A stand-in for an ASCII-armored OpenPGP private key block (the charm never parses one)."""
    return f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----\n"


ROOT_KEY = armored("xcZYBGf0root" + "R00tK3yM4t3r14l" * 20)
STORE_KEY = armored("xcZYBGf0store" + "St0r3K3yM4t3r14l" * 20)


@pytest.fixture
def ctx() -> testing.Context:
    return testing.Context(DepotCharm, app_name="depot")


def container(
    *,
    can_connect: bool = True,
    version: str = VERSION,
    migrate_rc: int = 0,
    migrate_stderr: str = "",
    extra_execs: tuple[testing.Exec, ...] = (),
    **kwargs: Any,
) -> testing.Container:
    """The workload container, with `depot --version` and `depot migrate` answered."""
    execs = {
        testing.Exec([DEPOT, "--version"], stdout=f"depot {version}\n"),
        testing.Exec([DEPOT, "migrate"], return_code=migrate_rc, stderr=migrate_stderr),
        *extra_execs,
    }
    return testing.Container("depot", can_connect=can_connect, execs=execs, **kwargs)


def db_relation(*, endpoints: str = DB_ENDPOINTS, **extra: str) -> testing.Relation:
    """A postgresql_client relation whose provider has created the database."""
    data = {
        "database": "depot",
        "endpoints": endpoints,
        "username": "relation_id_7",
        "password": DB_PASSWORD,
        "version": "16.6",
    }
    data.update(extra)
    return testing.Relation("database", remote_app_name="postgresql-k8s", remote_app_data=data)


def peer(schema: str | None = None) -> testing.PeerRelation:
    data = {"schema": schema} if schema is not None else {}
    return testing.PeerRelation("depot-peers", local_app_data=data)


def keys_secret(root: str = ROOT_KEY, store: str = STORE_KEY, **kwargs: Any) -> testing.Secret:
    """The application secret in which the leader shares the signing keys."""
    return testing.Secret(
        {"root-key": root, "store-key": store}, owner="app", label=KEYS_LABEL, **kwargs
    )


def migrated(version: str = VERSION, endpoints: str = DB_ENDPOINTS) -> str:
    return f"{version}@{endpoints}/depot"


def state(
    *,
    leader: bool = True,
    relations: tuple[testing.RelationBase, ...] = (),
    containers: tuple[testing.Container, ...] | None = None,
    config: dict[str, Any] | None = None,
    keys: bool = True,
    secrets: tuple[testing.Secret, ...] | set[testing.Secret] = (),
    **kwargs: Any,
) -> testing.State:
    """keys: the leader has already shared the signing keys (the application secret exists)."""
    return testing.State(
        leader=leader,
        relations=set(relations),
        containers=set(containers if containers is not None else (container(),)),
        config=config or {},
        storages={testing.Storage("data")},
        secrets={*secrets, *((keys_secret(),) if keys else ())},
        **kwargs,
    )


def ready_state(**kwargs: Any) -> testing.State:
    """Leader with a created database and a peer relation, nothing migrated yet."""
    relations = kwargs.pop("relations", ())
    return state(relations=(db_relation(), peer(), *relations), **kwargs)


def env_of(out: testing.State) -> dict[str, str]:
    """The environment of the depot service in the container's Pebble plan."""
    plan = out.get_container("depot").plan
    return dict(plan.services["depot"].environment)


def planned(out: testing.State) -> bool:
    return "depot" in out.get_container("depot").plan.services


def execs(ctx: testing.Context, *prefix: str) -> list[Any]:
    return [a for a in ctx.exec_history.get("depot", []) if a.command[: len(prefix)] == list(prefix)]


def with_relation(out: testing.State, relation: testing.RelationBase) -> testing.State:
    """`out` with one relation replaced (same id), e.g. to change the remote side's data."""
    others = {r for r in out.relations if r.id != relation.id}
    return dataclasses.replace(out, relations={*others, relation})


def loads(data: dict[str, str]) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in data.items()}

"""Signing keys: the leader creates them once, every unit serves with the same ones.

depot signs snap assertions with a root key and a store key. Left alone, each unit would
generate its own into its data directory, and devices would see a different authority
depending on which unit answers. The leader has its workload create the keys once, shares
them in an application secret, and every unit (the leader included) writes them to fixed
files that its Pebble layer points depot at. A unit without the secret does not serve.
"""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path

import ops
import pytest
from ops import testing

import workload
from conftest import (
    DEPOT,
    KEYS_LABEL,
    ROOT_KEY,
    STORE_KEY,
    armored,
    container,
    db_relation,
    env_of,
    execs,
    keys_secret,
    migrated,
    peer,
    planned,
    state,
)

ASSERTIONS = "type: account\nauthority-id: depot\n\nAcJ...signature\n"
KEYGEN = testing.Exec([DEPOT, "admin", "export-trust"], stdout=ASSERTIONS)
# What the key stand-ins in conftest are made of: none of it may leave the secret and the files.
KEY_MATERIAL = ("R00tK3yM4t3r14l", "St0r3K3yM4t3r14l", "N3wR00t", "N3wSt0r3")


def data_storage(tmp_path: Path, root: str = ROOT_KEY, store: str = STORE_KEY) -> testing.Mount:
    """The `data` storage as `depot admin export-trust` leaves it: keys in {data_dir}/keys
    (generated there, or already there from a depot that served with its own keys)."""
    keys = tmp_path / "storage" / "data" / "keys"
    keys.mkdir(parents=True)
    (keys / "root.asc").write_text(root)
    (keys / "store.asc").write_text(store)
    return testing.Mount(location="/var/lib/depot", source=tmp_path / "storage")


def leader_without_keys(tmp_path: Path, *execs_: testing.Exec, **kwargs) -> testing.State:
    """A fresh leader: migrated database, no secret yet; its storage is where depot puts keys."""
    workload_ = container(extra_execs=execs_ or (KEYGEN,), mounts={"data": data_storage(tmp_path)})
    return state(
        relations=(db_relation(), peer(migrated())),
        containers=(workload_,),
        keys=False,
        **kwargs,
    )


def shared_secrets(out: testing.State) -> list[testing.Secret]:
    return [s for s in out.secrets if s.label == KEYS_LABEL]


def key_files(ctx: testing.Context, out: testing.State) -> dict[str, str]:
    root = out.get_container("depot").get_filesystem(ctx)
    return {
        path: (root / path.lstrip("/")).read_text()
        for path in (workload.ROOT_KEY_PATH, workload.STORE_KEY_PATH)
        if (root / path.lstrip("/")).exists()
    }


def announced(out: testing.State, digest: str) -> tuple[testing.PeerRelation, testing.State]:
    """`out` after the leader recorded a keys digest in the peer relation."""
    relation = next(r for r in out.relations if r.endpoint == "depot-peers")
    changed = dataclasses.replace(
        relation, local_app_data={**relation.local_app_data, "signing-keys": digest}
    )
    return changed, dataclasses.replace(
        out, relations={*(r for r in out.relations if r.id != relation.id), changed}
    )


def with_execs(out: testing.State, *answers: testing.Exec) -> testing.State:
    """`out` with the workload answering `answers` (besides --version and migrate)."""
    workload_ = out.get_container("depot")
    return dataclasses.replace(
        out,
        containers={
            dataclasses.replace(workload_, execs=frozenset({*container().execs, *answers}))
        },
    )


def serving_env(out: testing.State) -> dict[str, str]:
    assert planned(out)
    return env_of(out)


# ---- the leader ------------------------------------------------------------------------------


def test_the_leader_lets_depot_create_the_keys_and_shares_them_in_an_app_secret(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))

    [call] = execs(ctx, DEPOT, "admin", "export-trust")
    assert call.environment == {"DEPOT_DATA_DIR": "/var/lib/depot/data"}
    assert call.user == call.group == "_daemon_"  # the key files belong to the server's user
    [secret] = shared_secrets(out)
    assert secret.owner == "app"
    assert secret.tracked_content == {"root-key": ROOT_KEY, "store-key": STORE_KEY}
    assert out.unit_status == ops.ActiveStatus()


def test_the_leader_serves_with_the_shared_keys_not_its_data_directory(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))
    env = serving_env(out)
    assert env["DEPOT_ROOT_KEY_FILE"] == "/etc/depot/keys/root.asc"
    assert env["DEPOT_STORE_KEY_FILE"] == "/etc/depot/keys/store.asc"
    assert key_files(ctx, out) == {
        "/etc/depot/keys/root.asc": ROOT_KEY,
        "/etc/depot/keys/store.asc": STORE_KEY,
    }


def test_the_leader_creates_the_secret_once_not_on_every_event(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))
    for event in (ctx.on.update_status(), ctx.on.config_changed(), ctx.on.leader_elected()):
        out = ctx.run(event, out)
    assert len(execs(ctx, DEPOT, "admin", "export-trust")) == 1
    assert len(shared_secrets(out)) == 1
    assert out.unit_status == ops.ActiveStatus()


def test_a_leader_with_the_secret_never_generates_keys(ctx):
    out = ctx.run(
        ctx.on.leader_elected(),
        state(
            relations=(db_relation(), peer(migrated())),
            containers=(container(extra_execs=(KEYGEN,)),),
        ),
    )
    assert not execs(ctx, DEPOT, "admin")
    assert [s.tracked_content for s in shared_secrets(out)] == [
        {"root-key": ROOT_KEY, "store-key": STORE_KEY}
    ]
    assert key_files(ctx, out)["/etc/depot/keys/root.asc"] == ROOT_KEY


def test_the_keys_are_created_before_the_database_exists(ctx, tmp_path):
    """Nothing about the keys needs the database: they are ready when it arrives."""
    fresh = leader_without_keys(tmp_path)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(fresh, relations={peer()}))
    assert len(shared_secrets(out)) == 1
    assert not planned(out)
    assert out.unit_status == ops.BlockedStatus(
        "needs a database: juju integrate depot postgresql-k8s"
    )


def test_the_leader_records_the_keys_digest_so_that_the_other_units_wake_up(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))
    digest = serving_env(out)[workload.KEYS_DIGEST_ENV]
    assert digest == workload.SigningKeys(ROOT_KEY, STORE_KEY).digest()
    [relation] = [r for r in out.relations if r.endpoint == "depot-peers"]
    assert relation.local_app_data["signing-keys"] == digest


def test_a_failure_to_create_the_keys_blocks_and_is_retried(ctx, tmp_path):
    failing = testing.Exec(
        [DEPOT, "admin", "export-trust"],
        return_code=1,
        stderr="error: cannot load the signing keys: "
        "cannot write /var/lib/depot/data/keys: Permission denied\n",
    )
    out = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path, failing))
    assert out.unit_status == ops.BlockedStatus(
        "cannot create the signing keys: error: cannot load the signing keys: "
        "cannot write /var/lib/depot/data/keys: Permission denied"
    )
    assert not shared_secrets(out)
    assert not planned(out)

    retried = ctx.run(ctx.on.update_status(), with_execs(out, KEYGEN))
    assert len(shared_secrets(retried)) == 1
    assert retried.unit_status == ops.ActiveStatus()


def test_keys_depot_did_not_write_in_its_own_format_are_not_shared(ctx, tmp_path):
    workload_ = container(
        extra_execs=(KEYGEN,), mounts={"data": data_storage(tmp_path, root="not a key")}
    )
    out = ctx.run(
        ctx.on.config_changed(),
        state(relations=(db_relation(), peer(migrated())), containers=(workload_,), keys=False),
    )
    assert out.unit_status == ops.BlockedStatus(
        "cannot create the signing keys: root-key is not an ASCII-armored OpenPGP private key block"
    )
    assert not shared_secrets(out)
    assert not planned(out)


# ---- the other units -------------------------------------------------------------------------


def test_a_unit_without_the_secret_waits_and_does_not_serve(ctx):
    out = ctx.run(
        ctx.on.config_changed(),
        state(
            leader=False,
            relations=(db_relation(), peer(migrated())),
            containers=(container(extra_execs=(KEYGEN,)),),
            keys=False,
        ),
    )
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to share the signing keys")
    assert not planned(out)
    assert not execs(ctx, DEPOT, "admin")  # it never makes keys of its own
    assert not shared_secrets(out)
    assert key_files(ctx, out) == {}


def test_a_unit_that_served_with_its_own_keys_stops_until_the_keys_are_shared(ctx):
    """After an upgrade from a charm that let every unit keep its own keys."""
    running = ctx.run(
        ctx.on.config_changed(),
        state(leader=False, relations=(db_relation(), peer(migrated()))),
    )
    assert running.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE
    out = ctx.run(ctx.on.upgrade_charm(), dataclasses.replace(running, secrets=frozenset()))
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.INACTIVE
    assert out.unit_status == ops.WaitingStatus("waiting for the leader to share the signing keys")


def test_a_unit_with_the_secret_writes_the_same_keys_and_points_depot_at_them(ctx):
    out = ctx.run(
        ctx.on.config_changed(),
        state(leader=False, relations=(db_relation(), peer(migrated()))),
    )
    assert key_files(ctx, out) == {
        "/etc/depot/keys/root.asc": ROOT_KEY,
        "/etc/depot/keys/store.asc": STORE_KEY,
    }
    root = out.get_container("depot").get_filesystem(ctx)
    for name in ("root.asc", "store.asc"):
        assert stat.S_IMODE((root / "etc/depot/keys" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/depot/keys").stat().st_mode) == 0o700
    env = serving_env(out)
    assert env["DEPOT_ROOT_KEY_FILE"] == workload.ROOT_KEY_PATH
    assert env["DEPOT_STORE_KEY_FILE"] == workload.STORE_KEY_PATH
    assert out.unit_status == ops.ActiveStatus()
    assert not execs(ctx, DEPOT, "admin")


def test_every_unit_serves_with_what_the_leader_created(ctx, tmp_path):
    leader = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))
    [secret] = shared_secrets(leader)
    # Juju shows the other units the same application secret: they read it, only the leader
    # may change it.
    other = ctx.run(
        ctx.on.config_changed(),
        state(
            leader=False,
            relations=(db_relation(), peer(migrated())),
            keys=False,
            secrets=(secret,),
        ),
    )
    assert key_files(ctx, other) == key_files(ctx, leader)
    key_env = ("DEPOT_ROOT_KEY_FILE", "DEPOT_STORE_KEY_FILE", workload.KEYS_DIGEST_ENV)
    assert [serving_env(other)[k] for k in key_env] == [serving_env(leader)[k] for k in key_env]


def test_a_waiting_unit_starts_when_the_leader_announces_the_keys(ctx):
    """Creating a secret wakes no other unit; the leader's record in the peer relation does."""
    waiting = ctx.run(
        ctx.on.config_changed(),
        state(leader=False, relations=(db_relation(), peer(migrated())), keys=False),
    )
    assert not planned(waiting)
    relation, changed = announced(waiting, workload.SigningKeys(ROOT_KEY, STORE_KEY).digest())
    out = ctx.run(
        ctx.on.relation_changed(relation, remote_unit=0),
        dataclasses.replace(changed, secrets={keys_secret()}),
    )
    assert planned(out)
    assert out.unit_status == ops.ActiveStatus()


def test_new_keys_in_the_secret_are_rewritten_and_restart_the_server(ctx, tmp_path):
    """A new revision of the secret reaches every unit: the files are rewritten, and the
    layer changes (the keys' digest is in its environment), so replan restarts depot.

    Juju sends secret-changed to a secret's observers, not to the units of the application
    that owns it: these learn of new keys from the digest the leader records in the peer
    relation (relation-changed), and every hook reads the latest revision anyway.
    """
    new_root, new_store = armored("N3wR00t" * 30), armored("N3wSt0r3" * 30)
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    workload_ = container(mounts={"keys": testing.Mount(location="/etc/depot/keys", source=keys_dir)})
    running = ctx.run(
        ctx.on.config_changed(),
        state(leader=False, relations=(db_relation(), peer(migrated())), containers=(workload_,)),
    )
    before = serving_env(running)
    assert (keys_dir / "root.asc").read_text() == ROOT_KEY

    [old] = shared_secrets(running)
    rotated = dataclasses.replace(
        old, latest_content={"root-key": new_root, "store-key": new_store}
    )
    new = workload.SigningKeys(root=new_root, store=new_store)
    relation, changed = announced(dataclasses.replace(running, secrets={rotated}), new.digest())
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), changed)

    assert (keys_dir / "root.asc").read_text() == new_root
    assert (keys_dir / "store.asc").read_text() == new_store
    after = serving_env(out)
    assert after["DEPOT_ROOT_KEY_FILE"] == before["DEPOT_ROOT_KEY_FILE"]
    assert after["DEPOT_STORE_KEY_FILE"] == before["DEPOT_STORE_KEY_FILE"]
    assert after[workload.KEYS_DIGEST_ENV] == new.digest() != before[workload.KEYS_DIGEST_ENV]
    assert {k: v for k, v in after.items() if k != workload.KEYS_DIGEST_ENV} == {
        k: v for k, v in before.items() if k != workload.KEYS_DIGEST_ENV
    }
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE
    [tracked] = shared_secrets(out)
    assert tracked.tracked_content == {"root-key": new_root, "store-key": new_store}


def test_any_secret_changed_event_brings_the_latest_keys(ctx):
    """secret-changed (here for the database credentials) reconciles, reading the latest keys."""
    credentials = testing.Secret({"username": "u", "password": "p"})
    database = testing.Relation(
        "database",
        remote_app_name="postgresql-k8s",
        remote_app_data={"database": "depot", "endpoints": "pg:5432", "secret-user": credentials.id},
    )
    new_root = armored("N3wR00t" * 30)
    rotated = keys_secret(latest_content={"root-key": new_root, "store-key": STORE_KEY})
    out = ctx.run(
        ctx.on.secret_changed(credentials),
        state(
            leader=False,
            relations=(database, peer(migrated(endpoints="pg:5432"))),
            keys=False,
            secrets=(credentials, rotated),
        ),
    )
    assert key_files(ctx, out)[workload.ROOT_KEY_PATH] == new_root
    assert planned(out)


def test_a_secret_without_usable_keys_blocks_and_does_not_serve(ctx):
    broken = keys_secret(store="")
    out = ctx.run(
        ctx.on.config_changed(),
        state(
            leader=False,
            relations=(db_relation(), peer(migrated())),
            keys=False,
            secrets=(broken,),
        ),
    )
    assert out.unit_status == ops.BlockedStatus(
        "the signing-keys secret is unusable: store-key is not an ASCII-armored OpenPGP private key block"
    )
    assert not planned(out)


# ---- export-trust ----------------------------------------------------------------------------


def test_export_trust_prints_the_authority_of_the_shared_keys(ctx):
    out = ctx.run(
        ctx.on.action("export-trust"),
        state(
            leader=False,
            relations=(db_relation(), peer(migrated())),
            containers=(container(extra_execs=(KEYGEN,)),),
        ),
    )
    assert ctx.action_results == {"assertions": ASSERTIONS.strip()}
    [call] = execs(ctx, DEPOT, "admin")
    assert call.environment["DEPOT_ROOT_KEY_FILE"] == workload.ROOT_KEY_PATH
    assert call.environment["DEPOT_STORE_KEY_FILE"] == workload.STORE_KEY_PATH
    assert key_files(ctx, out)[workload.STORE_KEY_PATH] == STORE_KEY


def test_export_trust_refuses_before_the_keys_are_shared(ctx):
    """Otherwise depot would generate and print an authority no unit serves with."""
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(
            ctx.on.action("export-trust"),
            state(
                leader=False,
                relations=(db_relation(), peer(migrated())),
                containers=(container(extra_execs=(KEYGEN,)),),
                keys=False,
            ),
        )
    assert failed.value.message == "the signing keys are not shared yet; wait for the units to be active"
    assert not execs(ctx, DEPOT, "admin")


# ---- the key material stays in the secret and the files -------------------------------------


def test_key_material_never_reaches_logs_status_or_the_pebble_plan(ctx, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    leader = ctx.run(ctx.on.config_changed(), leader_without_keys(tmp_path))
    other = ctx.run(
        ctx.on.config_changed(),
        state(leader=False, relations=(db_relation(), peer(migrated()))),
    )
    [old] = shared_secrets(other)
    new = {"root-key": armored("N3wR00t" * 30), "store-key": armored("N3wSt0r3" * 30)}
    rotated = dataclasses.replace(old, latest_content=new)
    relation, changed = announced(dataclasses.replace(other, secrets={rotated}), "0123456789abcdef")
    other = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), changed)
    ctx.run(ctx.on.action("export-trust"), with_execs(other, KEYGEN))

    shown = [
        caplog.text,
        *(line.message for line in ctx.juju_log),
        *(str(s) for s in (*ctx.unit_status_history, *ctx.app_status_history)),
        str(leader.unit_status),
        str(other.unit_status),
        repr(leader.get_container("depot").plan.to_dict()),
        repr(other.get_container("depot").plan.to_dict()),
        repr(ctx.action_results),
        *(repr(r.local_app_data) for r in (*leader.relations, *other.relations)),
        repr(workload.SigningKeys(root=ROOT_KEY, store=STORE_KEY)),
    ]
    assert all(m in ROOT_KEY + STORE_KEY + "".join(new.values()) for m in KEY_MATERIAL)
    for text in shown:
        for material in KEY_MATERIAL:
            assert material not in text
        assert "PRIVATE KEY" not in text


# ---- the keys as the charm handles them ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"store-key": STORE_KEY}, "root-key is not an ASCII-armored OpenPGP private key block"),
        ({"root-key": ROOT_KEY, "store-key": "ssh-rsa AAAA"}, "store-key is not an ASCII-armored"),
        ({"root-key": ROOT_KEY, "store-key": ROOT_KEY}, "root-key and store-key are the same key"),
    ],
)
def test_only_two_different_armored_private_keys_are_accepted(content, message):
    with pytest.raises(workload.KeysError, match=message):
        workload.SigningKeys.from_content(content)


def test_the_digest_follows_both_keys_and_is_all_that_is_shown():
    keys = workload.SigningKeys(root=ROOT_KEY, store=STORE_KEY)
    assert repr(keys) == f"SigningKeys(digest={keys.digest()})"
    assert keys.digest() != workload.SigningKeys(root=ROOT_KEY, store=armored("other")).digest()
    assert keys.digest() != workload.SigningKeys(root=STORE_KEY, store=ROOT_KEY).digest()
    assert workload.SigningKeys.from_content(keys.content()) == keys


# ---- keys the operator brings (signing-keys-secret) -----------------------------------------
#
# A user secret, granted to the application, that every unit of every application given it
# reads: the regions of a multi-region deployment then sign as one authority, and an operator
# can bring the authority devices already trust. snapd's public test authority (testrootorg,
# app/tests/fixtures) stands in for one.

TESTROOTORG = Path(__file__).resolve().parents[3] / "app/tests/fixtures/testrootorg"
OPTION = "signing-keys-secret"
USER_ROOT, USER_STORE = armored("Us3rR00t" * 30), armored("Us3rSt0r3" * 30)


def fixture(name: str) -> str:
    return (TESTROOTORG / name).read_text()


def user_secret(**content: str) -> testing.Secret:
    """A user secret the operator added with `juju add-secret` and granted to depot."""
    fields = content or {"root-key": USER_ROOT, "store-key": USER_STORE}
    return testing.Secret({k.replace("_", "-"): v for k, v in fields.items()}, owner=None)


def with_user_keys(secret: testing.Secret, *, granted: bool = True, **kwargs) -> testing.State:
    """A unit with a migrated database whose config names `secret` (in the state: granted)."""
    kwargs.setdefault("containers", (container(extra_execs=(KEYGEN,)),))
    return state(
        relations=(db_relation(), peer(migrated())),
        config={OPTION: secret.id},
        keys=kwargs.pop("keys", False),
        secrets=(secret,) if granted else (),
        **kwargs,
    )


def assertion_stream(*names: str) -> str:
    return "\n".join(fixture(name).strip() + "\n" for name in names)


@pytest.mark.parametrize("leader", [True, False], ids=["leader", "non-leader"])
def test_a_user_secret_gives_every_unit_its_keys_and_nothing_is_generated(ctx, leader):
    secret = user_secret()
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret, leader=leader))

    assert not execs(ctx, DEPOT, "admin")  # the leader generates nothing
    assert not shared_secrets(out)  # and creates no application secret
    assert key_files(ctx, out) == {
        workload.ROOT_KEY_PATH: USER_ROOT,
        workload.STORE_KEY_PATH: USER_STORE,
    }
    env = serving_env(out)
    assert env["DEPOT_ROOT_KEY_FILE"] == workload.ROOT_KEY_PATH
    assert env["DEPOT_STORE_KEY_FILE"] == workload.STORE_KEY_PATH
    assert env[workload.KEYS_DIGEST_ENV] == workload.SigningKeys(USER_ROOT, USER_STORE).digest()
    assert "DEPOT_AUTHORITY_ID" not in env and "DEPOT_AUTHORITY_ASSERTIONS_FILE" not in env
    assert out.unit_status == ops.ActiveStatus()


def test_a_user_secret_wins_over_the_application_secret(ctx):
    """An application that generated its keys before it was given the operator's."""
    out = ctx.run(ctx.on.config_changed(), with_user_keys(user_secret(), keys=True))
    assert key_files(ctx, out)[workload.ROOT_KEY_PATH] == USER_ROOT
    assert serving_env(out)[workload.KEYS_DIGEST_ENV] == (
        workload.SigningKeys(USER_ROOT, USER_STORE).digest()
    )
    [kept] = shared_secrets(out)  # left alone: the old authority's backup
    assert kept.tracked_content == {"root-key": ROOT_KEY, "store-key": STORE_KEY}


@pytest.mark.parametrize("leader", [True, False], ids=["leader", "non-leader"])
def test_a_user_secret_not_granted_blocks_with_the_command_that_fixes_it(ctx, leader):
    secret = user_secret()
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret, granted=False, leader=leader))
    assert out.unit_status == ops.BlockedStatus(
        f"signing-keys-secret {secret.id} is not granted or does not exist: "
        f"juju grant-secret {secret.id} depot"
    )
    assert not planned(out)
    assert not execs(ctx, DEPOT, "admin")  # the leader does not fall back to generating keys
    assert not shared_secrets(out)
    assert key_files(ctx, out) == {}


def test_permission_denied_on_the_user_secret_blocks_too(ctx, monkeypatch):
    """What Juju answers a unit of an application the secret was not granted to."""
    secret = user_secret()

    def denied(self, *, id=None, label=None):
        if id is not None:
            raise ops.ModelError(f'ERROR permission denied (unauthorized access) for "{id}"')
        raise ops.SecretNotFoundError(label)

    monkeypatch.setattr(ops.Model, "get_secret", denied)
    out = ctx.run(ctx.on.update_status(), with_user_keys(secret))
    assert out.unit_status == ops.BlockedStatus(
        f"signing-keys-secret {secret.id} is not granted or does not exist: "
        f"juju grant-secret {secret.id} depot"
    )
    assert not planned(out)


def test_a_grant_is_picked_up_at_the_next_update_status(ctx):
    """`juju grant-secret` fires no hook: the charm retries on update-status."""
    secret = user_secret()
    blocked = ctx.run(ctx.on.config_changed(), with_user_keys(secret, granted=False))
    assert isinstance(blocked.unit_status, ops.BlockedStatus)
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(blocked, secrets={secret}))
    assert planned(out)
    assert out.unit_status == ops.ActiveStatus()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"root_key": USER_ROOT}, "store-key is not an ASCII-armored OpenPGP private key block"),
        (
            {"root_key": USER_ROOT, "store_key": USER_ROOT},
            "root-key and store-key are the same key",
        ),
        (
            {"root_key": "ssh-rsa AAAA", "store_key": USER_STORE},
            "root-key is not an ASCII-armored OpenPGP private key block",
        ),
        (
            {"root_key": USER_ROOT, "store_key": USER_STORE, "rootkey": USER_ROOT},
            "unknown field rootkey (expected root-key, store-key, authority-id, "
            "authority-assertions)",
        ),
        (
            {"root_key": USER_ROOT, "store_key": USER_STORE, "authority_id": "My Store"},
            "authority-id 'My Store' is not an account id "
            "(2 to 28 of a-z, 0-9 and -, or 32 letters and digits)",
        ),
        (
            {"root_key": USER_ROOT, "store_key": USER_STORE, "authority_assertions": "hello"},
            "authority-assertions holds no assertions",
        ),
        (
            {
                "root_key": USER_ROOT,
                "store_key": USER_STORE,
                "authority_assertions": "type: snap-declaration\nauthority-id: depot\n\nAcL...",
            },
            "authority-assertions: a snap-declaration assertion; only account and account-key "
            "belong there",
        ),
        (
            {"store_key": USER_STORE},
            "root-key is missing: give the root key, or the store key's account-key in "
            "authority-assertions",
        ),
    ],
    ids=[
        "no-store-key",
        "same-keys",
        "not-a-key",
        "unknown-field",
        "bad-authority-id",
        "no-assertions",
        "foreign-assertion",
        "no-root-key",
    ],
)
@pytest.mark.parametrize("leader", [True, False], ids=["leader", "non-leader"])
def test_a_malformed_user_secret_blocks_and_does_not_serve(ctx, leader, content, message):
    secret = user_secret(**content)
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret, leader=leader))
    assert out.unit_status == ops.BlockedStatus(
        f"signing-keys-secret {secret.id} is unusable: {message}"
    )
    assert not planned(out)
    assert not execs(ctx, DEPOT, "admin")
    assert not shared_secrets(out)


def test_a_malformed_user_secret_stops_a_unit_that_served(ctx):
    running = ctx.run(ctx.on.config_changed(), with_user_keys(user_secret()))
    [secret] = [s for s in running.secrets if s.owner is None]
    broken = dataclasses.replace(secret, latest_content={"root-key": USER_ROOT})
    out = ctx.run(ctx.on.secret_changed(broken), dataclasses.replace(running, secrets={broken}))
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.INACTIVE
    assert isinstance(out.unit_status, ops.BlockedStatus)


@pytest.mark.parametrize("leader", [True, False], ids=["leader", "non-leader"])
def test_a_new_revision_of_the_user_secret_rewrites_the_files_and_restarts(
    ctx, tmp_path, leader
):
    """Juju sends secret-changed to every unit that read the user secret."""
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    workload_ = container(mounts={"keys": testing.Mount(location="/etc/depot/keys", source=keys_dir)})
    secret = user_secret()
    running = ctx.run(
        ctx.on.config_changed(), with_user_keys(secret, leader=leader, containers=(workload_,))
    )
    before = serving_env(running)
    assert (keys_dir / "store.asc").read_text() == USER_STORE

    new_store = armored("N3wSt0r3" * 30)
    [tracked] = [s for s in running.secrets if s.id == secret.id]
    rotated = dataclasses.replace(
        tracked, latest_content={"root-key": USER_ROOT, "store-key": new_store}
    )
    out = ctx.run(ctx.on.secret_changed(rotated), dataclasses.replace(running, secrets={rotated}))

    assert (keys_dir / "root.asc").read_text() == USER_ROOT
    assert (keys_dir / "store.asc").read_text() == new_store
    after = serving_env(out)
    new = workload.SigningKeys(root=USER_ROOT, store=new_store)
    assert after[workload.KEYS_DIGEST_ENV] == new.digest() != before[workload.KEYS_DIGEST_ENV]
    assert {k: v for k, v in after.items() if k != workload.KEYS_DIGEST_ENV} == {
        k: v for k, v in before.items() if k != workload.KEYS_DIGEST_ENV
    }
    assert out.get_container("depot").service_statuses["depot"] == ops.pebble.ServiceStatus.ACTIVE
    assert not execs(ctx, DEPOT, "admin")


def test_unsetting_the_option_goes_back_to_the_application_secret(ctx):
    running = ctx.run(ctx.on.config_changed(), with_user_keys(user_secret(), keys=True))
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(running, config={}))
    assert key_files(ctx, out)[workload.ROOT_KEY_PATH] == ROOT_KEY
    assert serving_env(out)[workload.KEYS_DIGEST_ENV] == (
        workload.SigningKeys(ROOT_KEY, STORE_KEY).digest()
    )


def test_an_authority_of_your_own_with_its_root_key(ctx):
    """authority-id and its account assertion made elsewhere; depot signs the account-keys."""
    assertions = assertion_stream("testrootorg.account")
    secret = user_secret(
        root_key=fixture("testrootorg-root.private.asc"),
        store_key=fixture("testrootorg-store.private.asc"),
        authority_id="testrootorg",
        authority_assertions=assertions,
    )
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret, leader=False))
    env = serving_env(out)
    assert env["DEPOT_AUTHORITY_ID"] == "testrootorg"
    assert env["DEPOT_AUTHORITY_ASSERTIONS_FILE"] == workload.AUTHORITY_ASSERTIONS_PATH
    assert env["DEPOT_ROOT_KEY_FILE"] == workload.ROOT_KEY_PATH
    root = out.get_container("depot").get_filesystem(ctx)
    written = root / workload.AUTHORITY_ASSERTIONS_PATH.lstrip("/")
    assert written.read_text() == assertions.strip()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert out.unit_status == ops.ActiveStatus()


def test_an_authority_whose_root_key_stays_offline(ctx, tmp_path):
    """The store key and its account-key (signed by the root key elsewhere): depot needs no
    root key, and none is left on the unit from before."""
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "root.asc").write_text(ROOT_KEY)  # a root key an earlier revision wrote
    workload_ = container(mounts={"keys": testing.Mount(location="/etc/depot/keys", source=keys_dir)})
    secret = user_secret(
        store_key=fixture("testrootorg-store.private.asc"),
        authority_id="testrootorg",
        authority_assertions=assertion_stream(
            "testrootorg.account", "testrootorg-root.account-key", "testrootorg-store.account-key"
        ),
    )
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret, containers=(workload_,)))
    env = serving_env(out)
    assert "DEPOT_ROOT_KEY_FILE" not in env
    assert env["DEPOT_STORE_KEY_FILE"] == workload.STORE_KEY_PATH
    assert env["DEPOT_AUTHORITY_ID"] == "testrootorg"
    assert not (keys_dir / "root.asc").exists()
    assert (keys_dir / "store.asc").read_text() == fixture("testrootorg-store.private.asc")
    assert out.unit_status == ops.ActiveStatus()
    assert not execs(ctx, DEPOT, "admin")


def test_without_the_root_key_the_store_keys_account_key_is_required(ctx):
    """Otherwise depot would generate a root key on each unit to sign it."""
    secret = user_secret(
        store_key=fixture("testrootorg-store.private.asc"),
        authority_id="testrootorg",
        authority_assertions=assertion_stream(
            "testrootorg.account", "testrootorg-root.account-key"
        ),
    )
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret))
    assert out.unit_status == ops.BlockedStatus(
        f"signing-keys-secret {secret.id} is unusable: without root-key, authority-assertions "
        "must hold the store key's account-key (public-key-sha3-384: "
        "XCIC_Wvj9_hiAt0b10sDon74oGr3a6xGODkMZqrj63ZzNYUD5N87-ojjPoeN7f1Y)"
    )
    assert not planned(out)


def test_assertions_of_another_authority_are_refused(ctx):
    secret = user_secret(
        root_key=USER_ROOT,
        store_key=USER_STORE,
        authority_assertions=assertion_stream("testrootorg.account"),
    )
    out = ctx.run(ctx.on.config_changed(), with_user_keys(secret))
    assert out.unit_status == ops.BlockedStatus(
        f"signing-keys-secret {secret.id} is unusable: authority-assertions: an account assertion "
        "for account 'testrootorg', not the authority 'depot' (authority-id)"
    )


def test_export_trust_prints_the_brought_authority_or_says_what_is_wrong(ctx):
    secret = user_secret()
    ctx.run(ctx.on.action("export-trust"), with_user_keys(secret, leader=False))
    assert ctx.action_results == {"assertions": ASSERTIONS.strip()}
    [call] = execs(ctx, DEPOT, "admin")
    assert call.environment[workload.KEYS_DIGEST_ENV] == (
        workload.SigningKeys(USER_ROOT, USER_STORE).digest()
    )

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("export-trust"), with_user_keys(secret, granted=False))
    assert failed.value.message == (
        f"signing-keys-secret {secret.id} is not granted or does not exist: "
        f"juju grant-secret {secret.id} depot"
    )


def test_brought_key_material_never_reaches_logs_status_or_the_pebble_plan(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    good = ctx.run(ctx.on.config_changed(), with_user_keys(user_secret()))
    bad = ctx.run(
        ctx.on.config_changed(),
        with_user_keys(user_secret(root_key=USER_ROOT, store_key=USER_ROOT, rootkey="Us3rR00t")),
    )
    shown = [
        caplog.text,
        *(line.message for line in ctx.juju_log),
        *(str(s) for s in ctx.unit_status_history),
        str(good.unit_status),
        str(bad.unit_status),
        repr(good.get_container("depot").plan.to_dict()),
    ]
    for text in shown:
        assert "Us3rR00t" not in text and "Us3rSt0r3" not in text
        assert "PRIVATE KEY" not in text


# ---- what the charm checks in brought keys ---------------------------------------------------


@pytest.mark.parametrize("name", ["root", "store"])
def test_key_ids_are_snapds(name):
    """The id the charm computes is the one the authority's account-key names."""
    [headers] = workload.assertion_headers(fixture(f"testrootorg-{name}.account-key"))
    assert workload.key_id(fixture(f"testrootorg-{name}.private.asc")) == (
        headers["public-key-sha3-384"]
    )


def test_a_store_key_that_is_not_an_rsa_key_is_refused_without_a_root_key():
    with pytest.raises(workload.KeysError, match="store-key: the key block is not valid base64"):
        workload.SigningKeys.from_user_content(
            {
                "store-key": armored("not base64 !"),
                "authority-assertions": fixture("testrootorg-store.account-key"),
                "authority-id": "testrootorg",
            }
        )


def test_the_digest_of_depots_own_keys_is_what_it_was():
    """Upgrading the charm must not change the layer of a unit serving with the same keys."""
    import hashlib

    h = hashlib.sha256()
    for part in (ROOT_KEY, STORE_KEY):
        h.update(len(part.encode()).to_bytes(8, "big"))
        h.update(part.encode())
    assert workload.SigningKeys(ROOT_KEY, STORE_KEY).digest() == h.hexdigest()[:16]
    brought = workload.SigningKeys(ROOT_KEY, STORE_KEY, authority_id="testrootorg")
    assert brought.digest() != workload.SigningKeys(ROOT_KEY, STORE_KEY).digest()
    with_assertions = dataclasses.replace(brought, assertions="type: account\n")
    assert with_assertions.digest() != brought.digest()

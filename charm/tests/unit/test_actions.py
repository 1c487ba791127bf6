"""Actions: create-account, create-token, export-trust."""

from __future__ import annotations

import dataclasses

import pytest
from ops import testing

from conftest import DEPOT, container, db_relation, env_of, execs, migrated, peer, ready_state, state

ACCOUNT_ID = "0f8c2a8e-4b7d-4c35-9d6e-7c1f1e0d2a11"
TOKEN = "depot_" + "x" * 43
ASSERTIONS = "type: account-key\nauthority-id: depot\n\nAcJ...signature\n"


def migrated_state(*admin: testing.Exec, **kwargs) -> testing.State:
    return state(
        relations=(db_relation(), peer(migrated())),
        containers=(container(extra_execs=admin),),
        **kwargs,
    )


def test_create_account_runs_the_admin_command_with_the_servers_configuration(ctx):
    answer = testing.Exec([DEPOT, "admin", "create-account"], stdout=ACCOUNT_ID + "\n")
    ctx.run(
        ctx.on.action(
            "create-account",
            params={"username": "alice", "display-name": "Alice Example", "email": "a@example.com"},
        ),
        migrated_state(answer),
    )
    assert ctx.action_results == {"account-id": ACCOUNT_ID, "username": "alice"}
    [call] = execs(ctx, DEPOT, "admin")
    assert call.command == [
        DEPOT, "admin", "create-account",
        "--username", "alice", "--display-name", "Alice Example", "--email", "a@example.com",
    ]
    assert call.environment["DEPOT_DATABASE_URL"].startswith("postgres://relation_id_7:")
    assert call.environment["DEPOT_MIGRATE_ON_START"] == "false"


def test_create_account_with_only_a_username(ctx):
    answer = testing.Exec([DEPOT, "admin", "create-account"], stdout=ACCOUNT_ID)
    ctx.run(ctx.on.action("create-account", params={"username": "bob"}), migrated_state(answer))
    [call] = execs(ctx, DEPOT, "admin")
    assert call.command == [DEPOT, "admin", "create-account", "--username", "bob"]


def test_create_account_failure_fails_the_action_with_depots_message(ctx):
    answer = testing.Exec(
        [DEPOT, "admin", "create-account"],
        return_code=1,
        stderr='error: an account named "alice" already exists\n',
    )
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("create-account", params={"username": "alice"}), migrated_state(answer))
    assert failed.value.message == 'error: an account named "alice" already exists'


def test_create_token_passes_scopes_packages_ttl_and_description(ctx):
    answer = testing.Exec([DEPOT, "admin", "create-token"], stdout=TOKEN + "\n")
    ctx.run(
        ctx.on.action(
            "create-token",
            params={
                "username": "alice",
                "scopes": "package-upload, package-release",
                "packages": "hello-depot,charm:hello-operator",
                "ttl": "30d",
                "description": "CI for hello-depot",
            },
        ),
        migrated_state(answer),
    )
    assert ctx.action_results == {"token": TOKEN}
    [call] = execs(ctx, DEPOT, "admin")
    assert call.command == [
        DEPOT, "admin", "create-token", "--username", "alice",
        "--scope", "package-upload", "--scope", "package-release",
        "--package", "hello-depot", "--package", "charm:hello-operator",
        "--ttl", "30d", "--description", "CI for hello-depot",
    ]


def test_create_token_defaults_leave_scopes_and_expiry_to_depot(ctx):
    answer = testing.Exec([DEPOT, "admin", "create-token"], stdout=TOKEN)
    ctx.run(ctx.on.action("create-token", params={"username": "alice"}), migrated_state(answer))
    [call] = execs(ctx, DEPOT, "admin")
    assert call.command == [DEPOT, "admin", "create-token", "--username", "alice"]


def test_create_token_for_an_unknown_account_fails(ctx):
    answer = testing.Exec(
        [DEPOT, "admin", "create-token"],
        return_code=1,
        stderr='error: no account named "carol"; create it with depot admin create-account\n',
    )
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("create-token", params={"username": "carol"}), migrated_state(answer))
    assert "no account named" in failed.value.message


def test_export_trust_returns_the_assertions(ctx):
    answer = testing.Exec([DEPOT, "admin", "export-trust"], stdout=ASSERTIONS)
    ctx.run(ctx.on.action("export-trust"), migrated_state(answer))
    assert ctx.action_results == {"assertions": ASSERTIONS.strip()}
    [call] = execs(ctx, DEPOT, "admin")
    assert call.command == [DEPOT, "admin", "export-trust"]


def test_export_trust_failing_fails_the_action(ctx):
    answer = testing.Exec([DEPOT, "admin", "export-trust"], return_code=2, stderr="")
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("export-trust"), migrated_state(answer))
    assert failed.value.message == "depot admin exited with status 2"


@pytest.mark.parametrize(
    ("action", "params"),
    [("create-account", {"username": "alice"}), ("create-token", {"username": "alice"}), ("export-trust", {})],
)
def test_actions_refuse_before_the_database_is_migrated(ctx, action, params):
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action(action, params=params), ready_state())
    assert "not been migrated" in failed.value.message
    assert not execs(ctx, DEPOT, "admin")


def test_actions_refuse_without_a_database(ctx):
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("export-trust"), state(relations=(peer(),)))
    assert failed.value.message == "no database yet: integrate with postgresql-k8s first"


def test_actions_refuse_while_the_container_is_down(ctx):
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(
            ctx.on.action("create-token", params={"username": "alice"}),
            state(
                relations=(db_relation(), peer(migrated())),
                containers=(container(can_connect=False),),
            ),
        )
    assert failed.value.message == "the depot container is not reachable yet"


def test_actions_run_on_any_unit_not_only_the_leader(ctx):
    answer = testing.Exec([DEPOT, "admin", "create-token"], stdout=TOKEN)
    ctx.run(
        ctx.on.action("create-token", params={"username": "alice"}),
        migrated_state(answer, leader=False),
    )
    assert ctx.action_results == {"token": TOKEN}


def test_the_admin_environment_matches_the_service_environment(ctx):
    running = ctx.run(ctx.on.config_changed(), migrated_state())
    answer = testing.Exec([DEPOT, "admin", "export-trust"], stdout=ASSERTIONS)
    workload = running.get_container("depot")
    with_admin = dataclasses.replace(workload, execs={*workload.execs, answer})
    ctx.run(ctx.on.action("export-trust"), dataclasses.replace(running, containers={with_admin}))
    [call] = execs(ctx, DEPOT, "admin")
    assert call.environment == env_of(running)

"""The charmcraft flow through craft-store's own clients, so every response passes its
pydantic models. Run by tests/charmcraft/run.sh against a running depot
(DEPOT_STORE, DEPOT_TOKEN, DEPOT_WORK)."""

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest
from craft_store import Auth, PublisherGateway, StoreClient, endpoints, models

STORE = os.environ["DEPOT_STORE"]
NAME = "depot-craft-store-charm"


@pytest.fixture(scope="module")
def env():
    os.environ["DEPOT_E2E_AUTH"] = base64.b64encode(os.environ["DEPOT_TOKEN"].encode()).decode()
    work = Path(os.environ["DEPOT_WORK"]) / "craft-store"
    work.mkdir(exist_ok=True)
    auth = Auth(
        application_name="depot-e2e",
        host=STORE.split("://", 1)[1],
        environment_auth="DEPOT_E2E_AUTH",
    )
    gateway = PublisherGateway(base_url=STORE, namespace="charm", auth=auth)
    client = StoreClient(
        base_url=STORE,
        storage_base_url=STORE,
        endpoints=endpoints.CHARMHUB,
        application_name="depot-e2e",
        user_agent="depot-e2e",
        environment_auth="DEPOT_E2E_AUTH",
    )
    return work, gateway, client


def build_charm(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "metadata.yaml",
            f"name: {NAME}\nsummary: craft-store flow\ndescription: Published through craft-store.\n"
            "resources:\n  data:\n    type: file\n    filename: data.bin\n",
        )
        z.writestr(
            "manifest.yaml",
            "bases:\n- name: ubuntu\n  channel: '22.04'\n  architectures: [amd64]\n",
        )
        z.writestr("dispatch", "#!/bin/sh\n")
    return path


def test_publisher_flow(env):
    work, gateway, client = env
    assert gateway.whoami()["account"]["username"] == "alice"
    gateway.register_name(NAME, entity_type="charm")
    names = [n.name for n in gateway.list_registered_names()]
    assert NAME in names

    upload_id = client.upload_file(filepath=build_charm(work / "c.charm"))
    client.notify_revision(
        name=NAME,
        revision_request=models.revisions_model.RevisionsRequestModel(upload_id=upload_id),
    )
    revisions = client.list_revisions(NAME)
    assert [r.revision for r in revisions] == [1]
    assert gateway.list_revisions(NAME)[0].revision == 1

    data = work / "data.bin"
    data.write_bytes(os.urandom(2048))
    resource_upload = client.upload_file(filepath=data)
    client.push_resource(NAME, "data", upload_id=resource_upload, resource_type="file")
    resource_revisions = client.list_resource_revisions(NAME, "data")
    assert [r.revision for r in resource_revisions] == [1]
    assert resource_revisions[0].sha384 == hashlib.sha384(data.read_bytes()).hexdigest()
    assert [b.architectures for b in resource_revisions[0].bases] == [["all"]]
    assert resource_revisions[0].updated_at is None
    updated = client.update_resource_revision(
        NAME,
        "data",
        revision=1,
        bases=[models.RequestCharmResourceBase(architectures=["riscv64", "amd64"])],
    )
    assert updated == 1
    (resource_revision,) = client.list_resource_revisions(NAME, "data")
    assert [b.architectures for b in resource_revision.bases] == [["amd64", "riscv64"]]
    assert resource_revision.updated_at is not None

    released = gateway.release(
        NAME,
        [{"channel": "latest/edge", "revision": 1, "resources": [{"name": "data", "revision": 1}]}],
    )
    assert released
    assert gateway.create_tracks(NAME, {"name": "2.0"}) == 1
    metadata = gateway.get_package_metadata(NAME)
    assert {t.name for t in metadata.tracks} == {"latest", "2.0"}
    releases = gateway.list_releases(NAME)
    assert [(c.channel, c.revision) for c in releases.channel_map] == [("latest/edge", 1)]
    store_releases = client.get_list_releases(name=NAME)
    assert store_releases.channel_map[0].revision == 1

"""The `ingress` relation, version 2, spoken without a library."""

from __future__ import annotations

import dataclasses
import json

from ops import testing

from conftest import env_of, loads, ready_state, with_relation


def ingress(url: str | None = None, **kwargs) -> testing.Relation:
    data = {"ingress": json.dumps({"url": url})} if url else {}
    return testing.Relation("ingress", remote_app_name="traefik", remote_app_data=data, **kwargs)


def test_leader_publishes_model_name_port_and_strip_prefix_json_encoded(ctx):
    relation = ingress()
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        ready_state(relations=(relation,), model=testing.Model(name="store")),
    )
    app = out.get_relation(relation.id).local_app_data
    assert loads(app) == {"model": "store", "name": "depot", "port": 8080, "strip-prefix": True}
    # every value is a JSON document, as the interface requires
    assert app["model"] == '"store"' and app["port"] == "8080"


def test_each_unit_publishes_its_cluster_host_name_and_ip(ctx):
    relation = ingress()
    network = testing.Network("ingress", ingress_addresses=["10.1.2.3"])
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        ready_state(
            leader=False,
            relations=(relation,),
            model=testing.Model(name="store"),
            networks={network},
        ),
    )
    published = out.get_relation(relation.id).local_unit_data
    unit = loads({key: published[key] for key in ("host", "ip")})
    assert unit["host"] == "depot-0.depot-endpoints.store.svc.cluster.local"
    assert unit["ip"] == "10.1.2.3"
    # only the leader writes the application databag
    assert "model" not in out.get_relation(relation.id).local_app_data


def test_a_new_leader_publishes_the_application_data(ctx):
    relation = ingress()
    out = ctx.run(ctx.on.leader_elected(), ready_state(relations=(relation,)))
    assert json.loads(out.get_relation(relation.id).local_app_data["port"]) == 8080


def test_the_ingress_url_becomes_the_public_url(ctx):
    relation = ingress("http://ingress.example.com/store-depot/")
    out = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    assert env_of(out)["DEPOT_PUBLIC_URL"] == "http://ingress.example.com/store-depot"


def test_public_url_config_wins_over_the_ingress_url(ctx):
    relation = ingress("http://ingress.example.com/store-depot")
    out = ctx.run(
        ctx.on.relation_changed(relation),
        ready_state(relations=(relation,), config={"public-url": "https://store.example.com"}),
    )
    assert env_of(out)["DEPOT_PUBLIC_URL"] == "https://store.example.com"


def test_a_changed_ingress_url_is_followed(ctx):
    relation = ingress("http://a.example.com/depot")
    first = ctx.run(ctx.on.relation_changed(relation), ready_state(relations=(relation,)))
    moved = dataclasses.replace(
        first.get_relation(relation.id),
        remote_app_data={"ingress": json.dumps({"url": "https://b.example.com"})},
    )
    out = ctx.run(ctx.on.relation_changed(moved), with_relation(first, moved))
    assert env_of(out)["DEPOT_PUBLIC_URL"] == "https://b.example.com"


def test_removing_the_ingress_falls_back_to_the_service_address(ctx):
    relation = ingress("http://ingress.example.com/store-depot")
    first = ctx.run(
        ctx.on.relation_changed(relation),
        ready_state(relations=(relation,), model=testing.Model(name="store")),
    )
    out = ctx.run(ctx.on.relation_broken(first.get_relation(relation.id)), first)
    assert env_of(out)["DEPOT_PUBLIC_URL"] == "http://depot.store.svc.cluster.local:8080"


def test_malformed_or_non_http_ingress_data_is_ignored(ctx):
    for raw in ("not json", json.dumps({"url": "ftp://x"}), json.dumps(["x"])):
        relation = testing.Relation(
            "ingress", remote_app_name="traefik", remote_app_data={"ingress": raw}
        )
        out = ctx.run(
            ctx.on.relation_changed(relation),
            ready_state(relations=(relation,), model=testing.Model(name="store")),
        )
        assert env_of(out)["DEPOT_PUBLIC_URL"] == "http://depot.store.svc.cluster.local:8080"

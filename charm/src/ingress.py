"""Requirer side of the `ingress` interface, version 2 (per-application ingress).

No pip-installable library implements it (Traefik's charm library is only distributed through
Charmhub), so the charm speaks the databag protocol itself:

- requirer application databag (leader): `model`, `name`, `port`, and optionally
  `strip-prefix`, `redirect-https`, `scheme`; every value JSON-encoded;
- requirer unit databag (every unit): `host` (the unit's cluster DNS name) and `ip`;
- provider application databag: `ingress`, a JSON object whose `url` is where the
  application is published.
"""

from __future__ import annotations

import json
import logging

import ops

logger = logging.getLogger(__name__)


class IngressRequirer(ops.Object):
    """Publishes this application's port to an ingress provider and reads back its URL."""

    def __init__(
        self,
        charm: ops.CharmBase,
        *,
        relation_name: str = "ingress",
        port: int,
        strip_prefix: bool = True,
    ):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name
        self._port = port
        self._strip_prefix = strip_prefix
        on = charm.on[relation_name]
        self.framework.observe(on.relation_joined, self._on_relation_event)
        self.framework.observe(on.relation_changed, self._on_relation_event)
        self.framework.observe(charm.on.leader_elected, self._on_refresh)
        self.framework.observe(charm.on.upgrade_charm, self._on_refresh)

    @property
    def relation(self) -> ops.Relation | None:
        return self._charm.model.get_relation(self._relation_name)

    def _on_relation_event(self, event: ops.RelationEvent) -> None:
        self.publish(event.relation)

    def _on_refresh(self, _: ops.EventBase) -> None:
        if relation := self.relation:
            self.publish(relation)

    def app_data(self) -> dict[str, str]:
        """What the leader writes to the application databag."""
        data = {
            "model": json.dumps(self._charm.model.name),
            "name": json.dumps(self._charm.app.name),
            "port": json.dumps(self._port),
        }
        if self._strip_prefix:
            data["strip-prefix"] = json.dumps(True)
        return data

    def unit_data(self, relation: ops.Relation) -> dict[str, str]:
        """What every unit writes to its own databag."""
        unit = self._charm.unit.name.replace("/", "-")
        host = f"{unit}.{self._charm.app.name}-endpoints.{self._charm.model.name}.svc.cluster.local"
        data = {"host": json.dumps(host)}
        binding = self._charm.model.get_binding(relation)
        address = binding.network.ingress_address if binding is not None else None
        if address is not None:
            data["ip"] = json.dumps(str(address))
        return data

    def publish(self, relation: ops.Relation) -> None:
        relation.data[self._charm.unit].update(self.unit_data(relation))
        if self._charm.unit.is_leader():
            relation.data[self._charm.app].update(self.app_data())

    def url(self, relation: ops.Relation | None = None) -> str | None:
        """The URL the provider published this application at, or None (yet)."""
        relation = relation or self.relation
        if relation is None or relation.app is None:
            return None
        raw = relation.data[relation.app].get("ingress")
        if not raw:
            return None
        try:
            url = json.loads(raw).get("url")
        except (json.JSONDecodeError, AttributeError):
            logger.warning("ignoring malformed ingress data from %s: %r", relation.app.name, raw)
            return None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            logger.warning("ignoring ingress url that is not http(s): %r", url)
            return None
        return url.rstrip("/")

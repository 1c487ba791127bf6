#!/usr/bin/env python3
"""Kubernetes charm for depot, a self-hostable store for snaps and charms.

One holistic handler, `_reconcile`, runs on every event that can change what the server
needs, and brings the workload in line: the signing keys (those of the user secret the
`signing-keys-secret` option names, or else the leader has its workload create them once and
shares them in an application secret; every unit serves with those, and a unit without them
does not serve), database URL, public URL, blob store, tracing, then migrations
(the leader runs `depot migrate` once per server version and database, records it in the peer
relation, and the other units wait for that record), then the Pebble layer. `collect-status`
says what is still missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
import ops
from charmlibs.interfaces.tracing import TracingEndpointRequirer
from single_kernel_postgresql.lib.charms.data_platform_libs.v0.data_interfaces import (
    DatabaseRequires,
)
from single_kernel_postgresql.lib.charms.data_platform_libs.v0.s3 import S3Requirer
from single_kernel_postgresql.lib.charms.grafana_k8s.v0.grafana_dashboard import (
    GrafanaDashboardProvider,
)
from single_kernel_postgresql.lib.charms.loki_k8s.v1.loki_push_api import LogForwarder
from single_kernel_postgresql.lib.charms.prometheus_k8s.v0.prometheus_scrape import (
    MetricsEndpointProvider,
)

import workload
from ingress import IngressRequirer
from workload import (
    BINARY,
    CONTAINER,
    PORT,
    READY_CHECK,
    SERVICE,
    ConfigError,
    DatabaseInfo,
    KeysError,
    S3Info,
    SigningKeys,
)

logger = logging.getLogger(__name__)

SRC = Path(__file__).resolve().parent
PEER = "depot-peers"
DATABASE = "database"
S3 = "s3"
DATABASE_NAME = "depot"
SCHEMA_KEY = "schema"  # peer app data: "<depot version>@<database>" the leader migrated
KEYS_KEY = "signing-keys"  # peer app data: digest of the keys the leader shared
MIGRATE_TIMEOUT = 600.0
ADMIN_TIMEOUT = 120.0
KEYGEN_TIMEOUT = 600.0  # two RSA 4096 keys: a few seconds, far more on a slow node
KEYS_SECRET_LABEL = "signing-keys"  # the application secret holding root-key and store-key
KEYS_OPTION = "signing-keys-secret"  # config: a user secret with the keys to use instead


class DepotCharm(ops.CharmBase):
    """Runs `depot serve` and wires it to PostgreSQL, ingress, S3 and observability."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(migration_error="", keys_error="")
        self._broken: set[int] = set()
        self._version: str | None = None

        self.database = DatabaseRequires(self, relation_name=DATABASE, database_name=DATABASE_NAME)
        self.ingress = IngressRequirer(self, port=PORT)
        self.s3 = S3Requirer(self, S3, bucket_name=self.app.name)
        self.tracing = TracingEndpointRequirer(self, relation_name="tracing", protocols=["otlp_http"])
        self.metrics = MetricsEndpointProvider(
            self,
            relation_name="metrics-endpoint",
            jobs=[{"metrics_path": "/metrics", "static_configs": [{"targets": [f"*:{PORT}"]}]}],
            alert_rules_path=str(SRC / "prometheus_alert_rules"),
            refresh_event=[self.on.depot_pebble_ready, self.on.config_changed],
        )
        self.dashboards = GrafanaDashboardProvider(
            self,
            relation_name="grafana-dashboard",
            dashboards_path=str(SRC / "grafana_dashboards"),
        )
        self.logging = LogForwarder(
            self, relation_name="logging", alert_rules_path=str(SRC / "loki_alert_rules")
        )

        for event in (
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.update_status,
            self.on.leader_elected,
            self.on.depot_pebble_ready,
            self.on.data_storage_attached,
            self.on.secret_changed,
            self.on[PEER].relation_changed,
            self.on[PEER].relation_departed,
            self.on[DATABASE].relation_changed,
            self.on[DATABASE].relation_broken,
            self.on["ingress"].relation_changed,
            self.on["ingress"].relation_broken,
            self.on[S3].relation_changed,
            self.on[S3].relation_broken,
            self.on["logging"].relation_broken,
            self.database.on.database_created,
            self.database.on.endpoints_changed,
            self.s3.on.credentials_changed,
            self.s3.on.credentials_gone,
            self.tracing.on.endpoint_changed,
            self.tracing.on.endpoint_removed,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.create_account_action, self._on_create_account)
        framework.observe(self.on.create_token_action, self._on_create_token)
        framework.observe(self.on.export_trust_action, self._on_export_trust)

    # ---- what the relations and config say -------------------------------------------------

    def _live(self, name: str) -> list[ops.Relation]:
        """Relations of an endpoint, less one being broken in this hook."""
        return [r for r in self.model.relations[name] if r.id not in self._broken]

    def _database(self) -> DatabaseInfo | None:
        relations = self._live(DATABASE)
        if not relations:
            return None
        relation = relations[0]
        data = self.database.fetch_relation_data([relation.id]).get(relation.id, {})
        if not (data.get("endpoints") and data.get("username") and data.get("password")):
            return None
        return DatabaseInfo(
            endpoints=data["endpoints"],
            database=data.get("database") or DATABASE_NAME,
            username=data["username"],
            password=data["password"],
            tls=str(data.get("tls", "")).lower() == "true",
            tls_ca=data.get("tls-ca") or None,
        )

    def _s3(self) -> S3Info | None:
        relations = self._live(S3)
        if not relations or relations[0].app is None:
            return None
        relation = relations[0]
        raw = {key: value for key, value in relation.data[relation.app].items()}
        return S3Info.from_relation(raw)

    def _tracing_endpoint(self) -> str | None:
        relations = self._live("tracing")
        if not relations or not self.tracing.is_ready(relations[0]):
            return None
        receivers = self.tracing.get_all_endpoints(relations[0])
        for receiver in receivers.receivers if receivers else ():
            if receiver.protocol.name == "otlp_http":
                return receiver.url
        # The library's get_endpoint() would read this application's own databag to check
        # what was requested, which only the leader may do.
        logger.info("the tracing provider offers no otlp_http receiver (depot exports OTLP/HTTP)")
        return None

    def _public_url(self) -> str:
        if configured := str(self.config["public-url"]).strip():
            return workload.validate_public_url(configured)
        relations = self._live("ingress")
        if relations and (url := self.ingress.url(relations[0])):
            return url
        return f"http://{self.app.name}.{self.model.name}.svc.cluster.local:{PORT}"

    def _environment(
        self, database: DatabaseInfo, signing_keys: SigningKeys | None = None
    ) -> dict[str, str]:
        """The server's environment; raises ConfigError for a bad option."""
        return workload.environment(
            tunable_env=workload.tunables(self.config),
            public_url=self._public_url(),
            database=database,
            s3=self._s3(),
            tracing_endpoint=self._tracing_endpoint(),
            service_name=self.app.name,
            juju_topology={
                "juju_model": self.model.name,
                "juju_model_uuid": self.model.uuid,
                "juju_application": self.app.name,
                "juju_unit": self.unit.name,
            },
            log_filter=str(self.config["log-filter"]).strip(),
            signing_keys=signing_keys,
        )

    # ---- signing keys ------------------------------------------------------------------------

    def _keys_option(self) -> str | None:
        """The user secret `signing-keys-secret` names, if it is set."""
        return str(self.config.get(KEYS_OPTION) or "").strip() or None

    def _user_keys(self, secret_id: str) -> SigningKeys:
        """The keys of the operator's user secret; raises KeysError with what to do."""
        try:
            # no label: a label would be this application's name for the secret, and
            # "signing-keys" is the application secret's
            content = self.model.get_secret(id=secret_id).get_content(refresh=True)
        except ops.ModelError as e:  # SecretNotFoundError too: Juju says "not found" or
            # "permission denied" for a secret the application was not granted
            logger.error("cannot read the %s secret %s: %s", KEYS_OPTION, secret_id, e)
            raise KeysError(
                f"{KEYS_OPTION} {secret_id} is not granted or does not exist: "
                f"juju grant-secret {secret_id} {self.app.name}"
            ) from None
        try:
            return SigningKeys.from_user_content(content)
        except KeysError as e:
            raise KeysError(f"{KEYS_OPTION} {secret_id} is unusable: {e}") from None

    def _shared_keys(self) -> SigningKeys | None:
        """The keys every unit serves with: the operator's user secret's when
        `signing-keys-secret` is set, else the application secret's, once the leader has
        created it.

        Raises KeysError (with a message fit for the status) when the secret cannot be read,
        or holds something depot could not use.
        """
        if (secret_id := self._keys_option()) is not None:
            return self._user_keys(secret_id)
        try:
            secret = self.model.get_secret(label=KEYS_SECRET_LABEL)
            # refresh: a unit that is not the owner follows the latest revision
            content = secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            return None
        try:
            return SigningKeys.from_content(content)
        except KeysError as e:
            raise KeysError(f"the {KEYS_SECRET_LABEL} secret is unusable: {e}") from None

    def _signing_keys(self, container: ops.Container) -> SigningKeys | None:
        """The keys every unit serves with; the leader creates them if nobody has yet (and
        the operator brings none)."""
        try:
            keys = self._shared_keys()
        except KeysError as e:
            self._stored.keys_error = str(e)
            logger.error("%s", self._stored.keys_error)
            return None
        if keys is not None:
            self._stored.keys_error = ""
            self._announce_keys(keys)
            return keys
        if not self.unit.is_leader():
            self._stored.keys_error = ""
            logger.info("waiting for the leader to share the signing keys")
            return None
        keys = self._create_keys(container)
        if keys is None:
            return None
        self.app.add_secret(
            keys.content(),
            label=KEYS_SECRET_LABEL,
            description="depot's assertion signing keys (root and store), shared by every unit",
        )
        self._stored.keys_error = ""
        logger.info("shared the signing keys (digest %s) with every unit", keys.digest())
        self._announce_keys(keys)
        return keys

    def _announce_keys(self, keys: SigningKeys) -> None:
        """The leader records the keys' digest in the peer relation.

        Creating a secret fires no event on the other units; this change of the peer data
        does (relation-changed), so they pick the keys up at once rather than at the next
        update-status.
        """
        if not self.unit.is_leader() or (peer := self.model.get_relation(PEER)) is None:
            return
        if peer.data[self.app].get(KEYS_KEY) != keys.digest():
            peer.data[self.app][KEYS_KEY] = keys.digest()

    def _create_keys(self, container: ops.Container) -> SigningKeys | None:
        """Lets this unit's depot create its keys in the data directory, and reads them back.

        `depot admin export-trust` loads the keys the way `serve` does: it generates them on
        first use (in depot's own format), and keeps keys already there, so a unit that served
        with its own keys before the charm shared them hands those on.
        """
        logger.info("creating the signing keys")
        try:
            container.exec(
                [BINARY, "admin", "export-trust"],
                environment={"DEPOT_DATA_DIR": workload.DATA_DIR},
                user=workload.DAEMON_USER,
                group=workload.DAEMON_USER,
                timeout=KEYGEN_TIMEOUT,
            ).wait_output()
            root = container.pull(workload.GENERATED_ROOT_KEY).read()
            store = container.pull(workload.GENERATED_STORE_KEY).read()
        except ops.pebble.ExecError as e:
            detail = (e.stderr or "").strip().splitlines()
            self._stored.keys_error = "cannot create the signing keys: " + (
                detail[-1] if detail else f"exit status {e.exit_code}"
            )
            logger.error("depot admin export-trust failed: %s", e.stderr)
            return None
        except (ops.pebble.ChangeError, ops.pebble.APIError, ops.pebble.PathError) as e:
            self._stored.keys_error = f"cannot create the signing keys: {e}"
            logger.error("%s", self._stored.keys_error)
            return None
        try:
            return SigningKeys.from_content(
                {SigningKeys.ROOT_FIELD: root, SigningKeys.STORE_FIELD: store}
            )
        except KeysError as e:
            self._stored.keys_error = f"cannot create the signing keys: {e}"
            logger.error("%s", self._stored.keys_error)
            return None

    def _write_keys(self, container: ops.Container, keys: SigningKeys) -> None:
        """Writes the shared keys (and the authority's assertions, if brought) where the
        server's environment points, readable only by the server's user; removes a file the
        keys no longer have (a root key that now stays offline)."""
        container.make_dir(workload.CONFIG_DIR, make_parents=True)
        container.make_dir(
            workload.KEYS_DIR,
            make_parents=True,
            permissions=0o700,
            user_id=workload.DAEMON_UID,
            group_id=workload.DAEMON_UID,
        )
        files = (
            (workload.ROOT_KEY_PATH, keys.root),
            (workload.STORE_KEY_PATH, keys.store),
            (workload.AUTHORITY_ASSERTIONS_PATH, keys.assertions),
        )
        for path, content in files:
            if content is None:
                if container.exists(path):
                    container.remove_path(path)
                continue
            container.push(
                path,
                content,
                permissions=0o600,
                user_id=workload.DAEMON_UID,
                group_id=workload.DAEMON_UID,
            )

    # ---- migrations --------------------------------------------------------------------------

    def _workload_version(self, container: ops.Container) -> str | None:
        """`depot --version` of the image this unit runs (asked once per hook)."""
        if self._version is not None:
            return self._version
        try:
            out, _ = container.exec([BINARY, "--version"], timeout=30).wait_output()
        except (ops.pebble.ExecError, ops.pebble.ChangeError, ops.pebble.APIError) as e:
            logger.warning("cannot ask the depot binary for its version: %s", e)
            return None
        version = out.strip().split()[-1] if out.strip() else ""
        self._version = version or None
        return self._version

    def _schema_target(self, container: ops.Container, database: DatabaseInfo) -> str | None:
        version = self._workload_version(container)
        if version is None:
            return None
        return f"{version}@{database.fingerprint()}"

    def _migrated_schema(self) -> str | None:
        peer = self.model.get_relation(PEER)
        if peer is None:
            return None
        return peer.data[self.app].get(SCHEMA_KEY)

    def _ensure_migrated(
        self, container: ops.Container, env: dict[str, str], database: DatabaseInfo
    ) -> bool:
        """True once the database schema fits this unit's server version."""
        if self.config["replica"]:
            return True  # a standby gets its schema by replication and refuses writes
        target = self._schema_target(container, database)
        if target is None:
            return False
        if self._migrated_schema() == target:
            self._stored.migration_error = ""
            return True
        if not self.unit.is_leader():
            self._stored.migration_error = ""
            logger.info("waiting for the leader to migrate the database to %s", target)
            return False
        logger.info("migrating the database for %s", target)
        try:
            container.exec([BINARY, "migrate"], environment=env, timeout=MIGRATE_TIMEOUT).wait_output()
        except ops.pebble.ExecError as e:
            detail = (e.stderr or "").strip().splitlines()
            self._stored.migration_error = detail[-1] if detail else f"exit status {e.exit_code}"
            logger.error("depot migrate failed: %s", e.stderr)
            return False
        except ops.pebble.ChangeError as e:
            self._stored.migration_error = str(e.err)
            logger.error("depot migrate failed: %s", e)
            return False
        self._stored.migration_error = ""
        if (peer := self.model.get_relation(PEER)) is not None:
            peer.data[self.app][SCHEMA_KEY] = target
        return True

    # ---- the holistic handler ----------------------------------------------------------------

    def _reconcile(self, event: ops.EventBase) -> None:
        if isinstance(event, ops.RelationBrokenEvent):
            self._broken.add(event.relation.id)
        container = self.unit.get_container(CONTAINER)
        if not container.can_connect():
            logger.info("the depot container is not up yet")
            return
        self.unit.set_ports(PORT)
        self._stop_forwarding_to_gone_lokis(container)
        container.make_dir(
            workload.DATA_DIR,
            make_parents=True,
            user_id=workload.DAEMON_UID,
            group_id=workload.DAEMON_UID,
        )

        # Before anything else: a unit never serves with keys of its own.
        keys = self._signing_keys(container)
        if keys is None:
            self._stop(container, "no shared signing keys")
            return

        database = self._database()
        if database is None:
            self._stop(container, "no database")
            return
        try:
            env = self._environment(database, keys)
        except ConfigError as e:
            logger.error("not applying invalid configuration: %s", e)
            return

        if database.tls_ca:
            container.push(
                workload.DATABASE_CA_PATH, database.tls_ca, make_dirs=True, permissions=0o644
            )
        self._write_keys(container, keys)
        if not self._ensure_migrated(container, env, database):
            self._stop(container, "database schema not migrated")
            return

        # New keys change the layer (their digest is in the environment): replan restarts.
        container.add_layer(SERVICE, workload.layer(env), combine=True)
        container.replan()
        if version := self._workload_version(container):
            self.unit.set_workload_version(version)

    def _stop_forwarding_to_gone_lokis(self, container: ops.Container) -> None:
        """Disables Loki log targets once no logging relation is left.

        The logging library stops forwarding to Loki units that depart, but not when the whole
        relation goes; Pebble would keep pushing to an address that no longer answers.
        """
        if self._live("logging"):
            return
        targets = {
            name: target
            for name, target in container.get_plan().log_targets.items()
            if target.type == "loki" and target.services != ["-all"]
        }
        if not targets:
            return
        layer = {
            "summary": "log forwarding to Loki turned off: the logging relation is gone",
            "log-targets": {
                name: {
                    "override": "replace",
                    "type": "loki",
                    "location": target.location,
                    "services": ["-all"],
                }
                for name, target in targets.items()
            },
        }
        # the library's own layer, so that its next update (a new Loki) overrides this one
        container.add_layer(f"{CONTAINER}-log-forwarding", layer, combine=True)
        container.replan()

    def _stop(self, container: ops.Container, why: str) -> None:
        services = container.get_services(SERVICE)
        if SERVICE in services and services[SERVICE].is_running():
            logger.info("stopping depot: %s", why)
            container.stop(SERVICE)

    # ---- status ------------------------------------------------------------------------------

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        try:
            workload.tunables(self.config)
            self._public_url()
        except ConfigError as e:
            event.add_status(ops.BlockedStatus(f"invalid config: {e}"))

        database = None
        if not self._live(DATABASE):
            event.add_status(
                ops.BlockedStatus(f"needs a database: juju integrate {self.app.name} postgresql-k8s")
            )
        elif (database := self._database()) is None:
            event.add_status(ops.WaitingStatus("waiting for PostgreSQL to create the database"))

        if self._live(S3) and self._s3() is None:
            event.add_status(ops.WaitingStatus("waiting for S3 credentials"))
        elif not self._live(S3) and self.app.planned_units() > 1:
            event.add_status(
                ops.BlockedStatus("more than one unit needs the s3 integration to share blobs")
            )

        container = self.unit.get_container(CONTAINER)
        if not container.can_connect():
            event.add_status(ops.WaitingStatus("waiting for the depot container"))
            return
        if (keys_status := self._keys_status()) is not None:
            event.add_status(keys_status)
            return
        if database is None:
            return
        if self._stored.migration_error:
            event.add_status(
                ops.BlockedStatus(f"database migration failed: {self._stored.migration_error}")
            )
            return
        if not self.config["replica"]:
            target = self._schema_target(container, database)
            if target is not None and self._migrated_schema() != target:
                if self.unit.is_leader():
                    event.add_status(ops.MaintenanceStatus("the database schema is not migrated yet"))
                else:
                    event.add_status(
                        ops.WaitingStatus("waiting for the leader to migrate the database")
                    )
                return

        services = container.get_services(SERVICE)
        if SERVICE not in services or not services[SERVICE].is_running():
            event.add_status(ops.MaintenanceStatus("starting depot"))
            return
        check = container.get_checks(READY_CHECK).get(READY_CHECK)
        if check is not None and check.status != ops.pebble.CheckStatus.UP:
            event.add_status(ops.WaitingStatus("depot is not ready: /readyz is failing"))
        event.add_status(ops.ActiveStatus("read replica" if self.config["replica"] else ""))

    def _keys_status(self) -> ops.StatusBase | None:
        """What keeps this unit from having the shared signing keys, if anything."""
        if self._stored.keys_error:
            return ops.BlockedStatus(str(self._stored.keys_error))
        try:
            if self._shared_keys() is not None:
                return None
        except KeysError as e:
            return ops.BlockedStatus(str(e))
        if self.unit.is_leader():
            return ops.MaintenanceStatus("creating the signing keys")
        return ops.WaitingStatus("waiting for the leader to share the signing keys")

    # ---- actions -----------------------------------------------------------------------------

    def _admin(
        self, event: ops.ActionEvent, args: list[str], *, needs_keys: bool = False
    ) -> str | None:
        """Runs `depot admin ARGS` in the workload with the server's configuration (and its
        signing keys, once shared; `needs_keys`: not before)."""
        container = self.unit.get_container(CONTAINER)
        if not container.can_connect():
            event.fail("the depot container is not reachable yet")
            return None
        database = self._database()
        if database is None:
            event.fail("no database yet: integrate with postgresql-k8s first")
            return None
        if not self.config["replica"] and self._migrated_schema() is None:
            event.fail("the database has not been migrated yet; wait for the units to be active")
            return None
        try:
            keys = self._shared_keys()
        except KeysError as e:
            logger.error("%s", e)
            if needs_keys:
                event.fail(str(e))
                return None
            keys = None
        if keys is None and needs_keys:
            # depot would generate keys of its own on this unit: not what devices should trust
            event.fail("the signing keys are not shared yet; wait for the units to be active")
            return None
        try:
            env = self._environment(database, keys)
        except ConfigError as e:
            event.fail(f"invalid config: {e}")
            return None
        if keys is not None:
            self._write_keys(container, keys)  # the files are gone if the pod restarted
        try:
            out, _ = container.exec(
                [BINARY, "admin", *args], environment=env, timeout=ADMIN_TIMEOUT
            ).wait_output()
        except ops.pebble.ExecError as e:
            message = (e.stderr or "").strip() or f"depot admin exited with status {e.exit_code}"
            event.fail(message)
            return None
        return out.strip()

    def _on_create_account(self, event: ops.ActionEvent) -> None:
        args = ["create-account", "--username", event.params["username"]]
        if display_name := event.params.get("display-name"):
            args += ["--display-name", display_name]
        if email := event.params.get("email"):
            args += ["--email", email]
        if (out := self._admin(event, args)) is not None:
            event.set_results({"account-id": out, "username": event.params["username"]})

    def _on_create_token(self, event: ops.ActionEvent) -> None:
        args = ["create-token", "--username", event.params["username"]]
        for scope in workload.split_list(event.params.get("scopes", "")):
            args += ["--scope", scope]
        for package in workload.split_list(event.params.get("packages", "")):
            args += ["--package", package]
        if ttl := event.params.get("ttl", "").strip():
            args += ["--ttl", ttl]
        if description := event.params.get("description"):
            args += ["--description", description]
        if (out := self._admin(event, args)) is not None:
            event.set_results({"token": out})

    def _on_export_trust(self, event: ops.ActionEvent) -> None:
        if (out := self._admin(event, ["export-trust"], needs_keys=True)) is not None:
            event.set_results({"assertions": out})


def _main() -> None:  # pragma: no cover - the Juju entry point
    ops.main(DepotCharm)


if __name__ == "__main__":  # pragma: no cover
    _main()


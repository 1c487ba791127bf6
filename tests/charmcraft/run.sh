#!/usr/bin/env bash
# End-to-end: the real charmcraft (and craft-store, see test_craft_store.py) against a real
# `depot serve`. Every charmcraft command must exit 0, and depot's state afterwards must be
# what the commands asked for.
#
#   tests/charmcraft/run.sh            (make charmcraft creates .venv-charmcraft and calls this)
#
# Environment: DEPOT_BIN (default: build the debug binary), CHARMCRAFT_VENV (default
# .venv-charmcraft).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${CHARMCRAFT_VENV:-$ROOT/.venv-charmcraft}
CHARMCRAFT=$VENV/bin/charmcraft
[ -x "$CHARMCRAFT" ] || { echo "charmcraft: $CHARMCRAFT is missing; run 'make charmcraft'" >&2; exit 1; }

if [ -z "${DEPOT_BIN:-}" ]; then
  # --tests: the binary with the features the test build unified, so neither rebuilds the other
  cargo build --locked -p depot --tests
  DEPOT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/depot
fi

. tests/support/depot-server.sh
export RUST_LOG=${RUST_LOG:-warn}
depot_start charmcraft

"$DEPOT_BIN" admin create-account --username alice --display-name "Alice Example" --email alice@example.com >/dev/null
TOKEN=$("$DEPOT_BIN" admin create-token --username alice --description charmcraft-e2e)

export CHARMCRAFT_STORE_API_URL=$STORE CHARMCRAFT_UPLOAD_URL=$STORE
export CHARMCRAFT_AUTH=$(printf '%s' "$TOKEN" | base64 -w0)
export XDG_RUNTIME_DIR=$WORK/run HOME=$WORK/home
mkdir -p "$XDG_RUNTIME_DIR" "$HOME"
chmod 700 "$XDG_RUNTIME_DIR"

NAME=depot-e2e-charm
# A charm project and the .charm (a zip) charmcraft would pack from it.
PROJECT=$WORK/project
mkdir -p "$PROJECT/src"
cat >"$PROJECT/charmcraft.yaml" <<YAML
name: $NAME
type: charm
title: depot end-to-end charm
summary: A charm published by the charmcraft end-to-end test
description: Uploaded, released and closed by tests/charmcraft/run.sh.
base: ubuntu@22.04
platforms:
  amd64:
parts:
  charm:
    plugin: charm
resources:
  data:
    type: file
    filename: data.bin
    description: Seed data
YAML
python3 - "$PROJECT" "$WORK/$NAME.charm" "$NAME" <<'PY'
import sys, zipfile
project, out, name = sys.argv[1:]
metadata = f"""name: {name}
summary: A charm published by the charmcraft end-to-end test
description: Uploaded, released and closed by tests/charmcraft/run.sh.
resources:
  data:
    type: file
    filename: data.bin
    description: Seed data
"""
manifest = """charmcraft-version: 4.5.0
analysis:
  attributes: []
bases:
- name: ubuntu
  channel: '22.04'
  architectures:
  - amd64
"""
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("metadata.yaml", metadata)
    z.writestr("manifest.yaml", manifest)
    z.writestr("dispatch", "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${JUJU_DISPATCH_PATH:-$0}\" PYTHONPATH=lib:venv ./src/charm.py\n")
    z.writestr("src/charm.py", "#!/usr/bin/env python3\nimport ops\n")
PY
head -c 4096 /dev/urandom >"$WORK/data.bin"

step() {
  echo "+ charmcraft $*"
  if ! (cd "$PROJECT" && "$CHARMCRAFT" "$@") >"$WORK/out.txt" 2>&1; then
    cat "$WORK/out.txt" >&2
    echo "--- depot log" >&2; tail -n 50 "$WORK/server.log" >&2
    echo "charmcraft: 'charmcraft $*' failed" >&2
    exit 1
  fi
  sed 's/^/    /' "$WORK/out.txt"
}

step whoami
step register "$NAME"
step names
step upload "$WORK/$NAME.charm" --release edge
step release "$NAME" --revision 1 --channel stable
step status "$NAME"
step revisions "$NAME"
step create-track --name "$NAME" --track 2.0
step resources "$NAME"
step upload-resource "$NAME" data --filepath "$WORK/data.bin"
step resource-revisions "$NAME" data
step release "$NAME" --revision 1 --channel 2.0/edge --resource data:1
step close "$NAME" edge
# Resource architectures: a second revision uploaded for two, the first one re-tagged.
step upload-resource "$NAME" data --filepath "$WORK/data.bin" --arch amd64,arm64
step set-resource-architectures "$NAME" data --revision=1 arm64,s390x
grep -q "arm64,s390x" "$WORK/out.txt" || { echo "set-resource-architectures: no arm64,s390x in its output" >&2; exit 1; }
step resource-revisions "$NAME" data

# Charm libraries: depot assigns the id (charmcraft 4.5's create-lib no longer does), then
# charmcraft publishes two versions, lists them, and another charm fetches the newest.
LIBID=$(DEPOT_STORE=$STORE DEPOT_TOKEN=$TOKEN "$DEPOT_BIN" create-lib "$NAME" client --format json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["library-id"])')
LIBDIR=$PROJECT/lib/charms/${NAME//-/_}/v0
mkdir -p "$LIBDIR"
write_lib() {  # PATCH BODY
  printf '"""A client for %s, published by tests/charmcraft/run.sh."""\n\nLIBID = "%s"\nLIBAPI = 0\nLIBPATCH = %s\n\n%b\n' \
    "$NAME" "$LIBID" "$1" "$2" >"$LIBDIR/client.py"
}
write_lib 1 'def connect():\n    return "v0.1"'
step publish-lib "charms.${NAME//-/_}.v0.client"
grep -q "sent to the store with version 0.1" "$WORK/out.txt"
write_lib 2 'def connect(url):\n    return url'
step publish-lib "charms.${NAME//-/_}.v0.client"
grep -q "sent to the store with version 0.2" "$WORK/out.txt"
cp "$LIBDIR/client.py" "$WORK/client-0.2.py"
step list-lib "$NAME" --format json
python3 -c '
import json, sys
text = open(sys.argv[1]).read()  # charmcraft prints its deprecation notice first
libs = json.loads(text[text.index("\n[") + 1 if not text.startswith("[") else 0:])
assert [(l["library_name"], l["api"], l["patch"]) for l in libs] == [("client", 0, 2)], libs
' "$WORK/out.txt"

CONSUMER=$WORK/consumer
mkdir -p "$CONSUMER"
cat >"$CONSUMER/charmcraft.yaml" <<YAML
name: depot-e2e-consumer
type: charm
title: depot end-to-end consumer
summary: A charm that fetches a library from depot
description: Fetches the library tests/charmcraft/run.sh published.
base: ubuntu@22.04
platforms:
  amd64:
parts:
  charm:
    plugin: charm
charm-libs:
  - lib: $NAME.client
    version: "0"
YAML
(PROJECT=$CONSUMER; step fetch-libs)
cmp "$CONSUMER/lib/charms/${NAME//-/_}/v0/client.py" "$WORK/client-0.2.py"
# Pinned to 0.1: exactly that version, through fetch-lib's by-id path for the update check.
sed -i 's/version: "0"/version: "0.1"/' "$CONSUMER/charmcraft.yaml"
rm -r "$CONSUMER/lib"
(PROJECT=$CONSUMER; step fetch-libs)
grep -q 'LIBPATCH = 1' "$CONSUMER/lib/charms/${NAME//-/_}/v0/client.py"
grep -q 'return "v0.1"' "$CONSUMER/lib/charms/${NAME//-/_}/v0/client.py"
(PROJECT=$CONSUMER; step fetch-lib "charms.${NAME//-/_}.v0.client")
grep -q "updated to version 0.2" "$WORK/out.txt"
cmp "$CONSUMER/lib/charms/${NAME//-/_}/v0/client.py" "$WORK/client-0.2.py"

# What depot holds now.
api() { curl -fsS -H "Authorization: Macaroon $TOKEN" "$STORE$1"; }
api "/v1/charm/$NAME/releases" >"$WORK/releases.json"
api "/v1/charm/$NAME" >"$WORK/metadata.json"
api "/v1/charm/$NAME/resources/data/revisions" >"$WORK/resource-revisions.json"
curl -fsS "$STORE/v1/charm/libraries/$NAME/$LIBID?api=0&patch=1" >"$WORK/library-0.1.json"
curl -fsS -H 'Content-Type: application/json' "$STORE/v2/charms/refresh" -d "{
  \"context\": [], \"actions\": [{\"action\": \"install\", \"instance-key\": \"e2e\", \"name\": \"$NAME\",
  \"channel\": \"2.0/edge\", \"base\": {\"architecture\": \"amd64\", \"name\": \"ubuntu\", \"channel\": \"22.04\"}}]}" \
  >"$WORK/refresh.json"
python3 - "$WORK" "$WORK/data.bin" <<'PY'
import hashlib, json, sys
work, data = sys.argv[1], open(sys.argv[2], "rb").read()
releases = json.load(open(f"{work}/releases.json"))
channels = {(e["channel"], e["revision"]) for e in releases["channel-map"]}
assert ("latest/stable", 1) in channels, channels
assert not any(c == "latest/edge" for c, _ in channels), f"edge was closed: {channels}"
assert ("2.0/edge", 1) in channels, channels
tracks = {t["name"] for t in json.load(open(f"{work}/metadata.json"))["metadata"]["tracks"]}
assert tracks == {"latest", "2.0"}, tracks
revisions = json.load(open(f"{work}/resource-revisions.json"))["revisions"]
assert [r["revision"] for r in revisions] == [2, 1], revisions
assert all(r["sha256"] == hashlib.sha256(data).hexdigest() for r in revisions), revisions
arches = {r["revision"]: r["bases"][0]["architectures"] for r in revisions}
assert arches == {2: ["amd64", "arm64"], 1: ["arm64", "s390x"]}, arches
assert "updated-at" in revisions[1] and "updated-at" not in revisions[0], revisions
result = json.load(open(f"{work}/refresh.json"))["results"][0]
assert result["result"] == "install", result
assert result["effective-channel"] == "2.0/edge", result
resources = result["charm"]["resources"]
assert [(r["name"], r["revision"]) for r in resources] == [("data", 1)], resources
assert resources[0]["download"]["hash-sha-384"] == hashlib.sha384(data).hexdigest()
lib = json.load(open(f"{work}/library-0.1.json"))
assert (lib["library-name"], lib["api"], lib["patch"]) == ("client", 0, 1), lib
assert 'return "v0.1"' in lib["content"], lib
print("charmcraft: depot state checked")
PY

# The same flow through craft-store's own clients and pydantic models.
DEPOT_STORE=$STORE DEPOT_TOKEN=$TOKEN DEPOT_WORK=$WORK \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -q tests/charmcraft/test_craft_store.py
echo "charmcraft: all commands passed"

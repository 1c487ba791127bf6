#!/usr/bin/env bash
# End-to-end check of depot's assertions with Debian's real snapd tooling: `snap known --remote`
# (package `snapd`; no daemon needed: without one it fetches straight from the store named by
# SNAPPY_FORCE_API_URL) must fetch and decode every assertion of a published snap's chain, and
# print exactly the bytes depot serves. snapd's decoder checks the format: header syntax and
# order-independent rules, body-length, the account-key's public key against its
# public-key-sha3-384, the signature's v1 encoding. It does not check signatures against a trust
# root (stock snapd trusts only Canonical's keys); app/tests/assertions.rs verifies those.
#
#   tests/snapd/known.sh          (make snapd-e2e)
#
# Environment: DEPOT_BIN (default: build target/debug/depot).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

for tool in snap curl mksquashfs python3; do
  command -v "$tool" >/dev/null || { echo "snapd-e2e: $tool is missing; run 'make deps'" >&2; exit 1; }
done
if [ -z "${DEPOT_BIN:-}" ]; then
  # --tests: the binary with the features the test build unified, so neither rebuilds the other
  cargo build --locked -p depot --tests
  DEPOT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/depot
fi

. tests/support/depot-server.sh
export RUST_LOG=${RUST_LOG:-warn}
# snapd's public test authority, so that no 4096-bit key is generated: depot signs the store
# key's account-key and the authority's account with the root key itself.
depot_test_authority
depot_start "snapd-e2e"

"$DEPOT_BIN" admin create-account --username e2e --display-name "E2E Publisher" >/dev/null 2>&1
TOKEN=$("$DEPOT_BIN" admin create-token --username e2e --description snapd-e2e)
AUTH="Authorization: Macaroon $TOKEN"
api() { # METHOD PATH [CURL ARGS…]
  local method=$1 path=$2
  shift 2
  curl -fsS -X "$method" -H "$AUTH" -H 'Content-Type: application/json' "$@" "$STORE$path"
}
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

mkdir -p "$WORK/snap/meta" "$WORK/snap/bin"
cat >"$WORK/snap/meta/snap.yaml" <<'YAML'
name: hello-known
version: '1.0'
summary: Says hello from depot
description: A tiny snap for the snapd end-to-end test.
base: core22
apps:
  hello:
    command: bin/hello
YAML
printf '#!/bin/sh\necho hello\n' >"$WORK/snap/bin/hello"
chmod 755 "$WORK/snap/bin/hello"
mksquashfs "$WORK/snap" "$WORK/hello-known.snap" -noappend -comp xz -all-root -quiet >/dev/null

snap_id=$(api POST /v1/snap -d '{"name": "hello-known"}' | json_field '["id"]')
upload_id=$(curl -fsS -H "$AUTH" -F "binary=@$WORK/hello-known.snap" "$STORE/unscanned-upload/" | json_field '["upload_id"]')
api POST /v1/snap/hello-known/revisions -d "{\"upload-id\": \"$upload_id\"}" >/dev/null
api POST /v1/snap/hello-known/releases -d '[{"channel": "stable", "revision": 1}]' >/dev/null
publisher_id=$(api GET /v1/tokens/whoami | json_field '["account"]["id"]')
digest=$(python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha3_384(open(sys.argv[1], "rb").read()).digest()).decode().rstrip("="))' "$WORK/hello-known.snap")

export SNAPPY_FORCE_API_URL=$STORE
failures=0
# known TYPE URL-PATH KEY=VALUE…: snap decodes it and prints what depot served, byte for byte.
known() {
  local type=$1 path=$2
  shift 2
  local out=$WORK/known.out err=$WORK/known.err
  if ! snap known --remote "$type" "$@" >"$out" 2>"$err"; then
    echo "snapd-e2e: FAIL: snap known --remote $type $*: $(cat "$err")" >&2
    failures=$((failures + 1))
    return
  fi
  curl -fsS "$STORE/v2/assertions/$path" >"$WORK/served"
  if ! cmp -s "$out" "$WORK/served"; then
    echo "snapd-e2e: FAIL: snap known --remote $type printed other bytes than depot serves" >&2
    diff "$WORK/served" "$out" >&2 || true
    failures=$((failures + 1))
    return
  fi
  echo "snapd-e2e: ok: snap known --remote $type $*"
  grep -E '^(type|authority-id|sign-key-sha3-384):' "$out" | sed 's/^/    /'
}
known snap-revision "snap-revision/$digest" "snap-sha3-384=$digest"
known snap-declaration "snap-declaration/16/$snap_id" series=16 "snap-id=$snap_id"
known account "account/$publisher_id" "account-id=$publisher_id"
store_key=$(sed -n 's/^sign-key-sha3-384: //p' "$WORK/served" | head -1)
known account-key "account-key/$store_key" "public-key-sha3-384=$store_key"
root_key=$(sed -n 's/^sign-key-sha3-384: //p' "$WORK/served" | head -1)
known account-key "account-key/$root_key" "public-key-sha3-384=$root_key"
known account account/testrootorg account-id=testrootorg

# The chain: the snap-revision names the file, the declaration the snap.
curl -fsS "$STORE/v2/assertions/snap-revision/$digest" >"$WORK/revision"
grep -qx "snap-id: $snap_id" "$WORK/revision" || { echo "snapd-e2e: FAIL: snap-revision names another snap" >&2; failures=$((failures + 1)); }
grep -qx "snap-size: $(stat -c %s "$WORK/hello-known.snap")" "$WORK/revision" || { echo "snapd-e2e: FAIL: snap-revision has another size" >&2; failures=$((failures + 1)); }

# Not found is snapd's "not found", not a decoding error.
unknown=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(bytes(48)).decode().rstrip("="))')
if snap known --remote snap-revision "snap-sha3-384=$unknown" >"$WORK/known.out" 2>"$WORK/known.err"; then
  echo "snapd-e2e: FAIL: an unknown snap-revision was found" >&2
  failures=$((failures + 1))
elif ! grep -qi "not found" "$WORK/known.err"; then
  echo "snapd-e2e: FAIL: an unknown snap-revision: $(cat "$WORK/known.err")" >&2
  failures=$((failures + 1))
else
  echo "snapd-e2e: ok: an unknown snap-revision is $(cat "$WORK/known.err")"
fi

# export-trust prints what depot serves for the authority.
"$DEPOT_BIN" admin export-trust >"$WORK/trust"
for path in account/testrootorg "account-key/$root_key" "account-key/$store_key"; do
  curl -fsS "$STORE/v2/assertions/$path" >"$WORK/one"
  python3 -c 'import sys; sys.exit(0 if open(sys.argv[1]).read() in open(sys.argv[2]).read() else 1)' "$WORK/one" "$WORK/trust" \
    || { echo "snapd-e2e: FAIL: export-trust lacks $path" >&2; failures=$((failures + 1)); }
done

if [ "$failures" -ne 0 ]; then
  echo "snapd-e2e: $failures check(s) FAILED; the server log follows" >&2
  tail -n 30 "$WORK/server.log" >&2
  exit 1
fi
echo "snapd-e2e: every check passed"

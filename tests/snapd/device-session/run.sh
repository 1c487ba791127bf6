#!/usr/bin/env bash
# Device sessions end to end with snapd's own client code: main.go here, built in GOPATH mode
# against Debian's golang-github-snapcore-snapd-dev (snapd's store and asserts packages,
# 2.57.6 on bookworm), drives snapd's store.SnapAction against a running depot for a
# registered device (brand, model, serial, RSA device key, no session yet):
#   1. snapd's store asks depot for a nonce and a session, then installs the snap with
#      Snap-Device-Authorization; it downloads the file with the session too;
#   2. with a session from another store, depot answers 401 refresh_device_session=1 and snapd
#      gets a new session by itself;
#   3. a session request signed by a key other than the serial's device key is refused, and
#      SnapAction fails with snapd's "cannot get device session from store" error.
#
#   tests/snapd/device-session/run.sh          (make snapd-session, part of make snapd)
#
# Environment: DEPOT_BIN (default: build target/debug/depot); GOCACHE (default:
# ${CARGO_TARGET_DIR:-target}/snapd-go-cache); DEVICE_KEY_BITS (default 4096, as snapd).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SNAPD_SRC=/usr/share/gocode/src/github.com/snapcore/snapd

for tool in go mksquashfs curl python3; do
  command -v "$tool" >/dev/null || { echo "snapd session e2e: $tool is missing; run 'make deps'" >&2; exit 1; }
done
[ -d "$SNAPD_SRC/store" ] \
  || { echo "snapd session e2e: $SNAPD_SRC is missing; run 'make deps'" >&2; exit 1; }
if [ -z "${DEPOT_BIN:-}" ]; then
  # --tests: the binary with the features the test build unified, so neither rebuilds the other
  cargo build --locked -p depot --tests
  DEPOT_BIN=$TARGET/debug/depot
fi
DEPOT_BIN=$(realpath "$DEPOT_BIN") # depot serve runs in the work directory

. tests/support/depot-server.sh
fail() {
  echo "snapd session e2e: FAILED: $*" >&2
  echo "--- depot log (last 40 lines) ---" >&2
  tail -n 40 "$WORK/server.log" >&2 || true
  exit 1
}

# snapd's client, in GOPATH mode: Debian installs snapd's sources and their dependencies
# under /usr/share/gocode (no modules, no network).
export GOCACHE=${GOCACHE:-$TARGET/snapd-go-cache}
mkdir -p "$GOCACHE"
CLIENT=$WORK/device-session
(cd tests/snapd/device-session \
  && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o "$CLIENT" .) \
  || fail "cannot build the snapd client (tests/snapd/device-session/main.go)"

# The access log (target depot::access) is what the end of this test reads.
export RUST_LOG=${RUST_LOG:-info},depot::access=info
# snapd's public test authority, so that depot generates no 4096-bit key at start.
depot_test_authority
depot_start "snapd session e2e"

"$DEPOT_BIN" admin create-account --username e2e-publisher --email e2e@example.com >/dev/null
DEPOT_TOKEN=$("$DEPOT_BIN" admin create-token --username e2e-publisher)
export DEPOT_STORE=$STORE DEPOT_TOKEN

# A real snap, built by mksquashfs, pushed with depot's CLI and released to stable.
NAME=depot-e2e-session
SNAP=$(hello_snap "$NAME" "A snap for depot's device-session end-to-end test")
"$DEPOT_BIN" register "$NAME" --type snap >/dev/null
"$DEPOT_BIN" push "$SNAP" --release stable >/dev/null
SHA=$(python3 -c 'import hashlib, sys; print(hashlib.sha3_384(open(sys.argv[1], "rb").read()).hexdigest())' "$SNAP")

set +e
"$CLIENT" -store "$STORE/" -snap "$NAME" -revision 1 -sha3-384 "$SHA" \
  -key-bits "${DEVICE_KEY_BITS:-4096}" 2>&1 | tee "$WORK/client.out"
code=${PIPESTATUS[0]}
set -e
[ "$code" -eq 0 ] || fail "snapd's store client failed (exit $code)"

# depot's side of it: snapd's requests in order, and the 401 that made it ask again.
ACCESS=$WORK/access.txt
grep 'depot::access: finished processing request' "$WORK/server.log" \
  | grep -E 'url.path="/(api/v1/snaps/auth/|v2/snaps/refresh|api/v1/snaps/download/)' \
  | sed -E 's/.*http.request.method="([A-Z]+)".*url.path="([^"]*)".* status=([0-9]+).*/\1 \2 \3/' \
    >"$ACCESS" || true
echo "--- depot's access log: snapd's requests ---"
cat "$ACCESS"
# snapd's store, call by call: step 1 (nonce, session, install, download with the session),
# step 2 (401 for the foreign session, a new nonce and session, the install again), steps 3
# and 4 (each a nonce and a refused session, and no store request after it).
cat >"$WORK/expected.txt" <<'EOF'
POST /api/v1/snaps/auth/nonces 200
POST /api/v1/snaps/auth/sessions 200
POST /v2/snaps/refresh 200
GET /api/v1/snaps/download/* 200
POST /v2/snaps/refresh 401
POST /api/v1/snaps/auth/nonces 200
POST /api/v1/snaps/auth/sessions 200
POST /v2/snaps/refresh 200
POST /api/v1/snaps/auth/nonces 200
POST /api/v1/snaps/auth/sessions 400
POST /api/v1/snaps/auth/nonces 200
POST /api/v1/snaps/auth/sessions 400
EOF
sed -E 's|^GET /api/v1/snaps/download/[^ ]+ |GET /api/v1/snaps/download/* |' "$ACCESS" >"$WORK/got.txt"
diff -u "$WORK/expected.txt" "$WORK/got.txt" >&2 || fail "depot's log does not show the requests expected"
echo "snapd session e2e: OK"

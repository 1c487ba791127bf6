#!/usr/bin/env bash
# End-to-end test with Debian's real snapd client (`snap`, package snapd; no daemon needed):
# `snap download` against a running depot.
#
#   tests/snapd/run.sh          (make snapd calls this)
#
# What it checks, with a snap built here by mksquashfs, pushed with depot's own CLI and
# released to beta:
#   1. `UBUNTU_STORE_URL=… snap download NAME --channel=beta` posts a refresh `download`
#      action, downloads the released revision and passes its sha3-384 check: the .snap on disk
#      is byte-identical to what was pushed. Stock snapd trusts only Canonical's root keys, so
#      its last step, verifying depot's signatures, must fail; the test asserts it failed there
#      (at the assertions) and not earlier.
#   2. An unknown name and a channel with nothing released fail with snapd's own messages.
#
# Environment: DEPOT_BIN (default: build target/debug/depot), SNAP_BIN (default: snap).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SNAP_BIN=${SNAP_BIN:-snap}

for tool in "$SNAP_BIN" mksquashfs curl python3; do
  command -v "$tool" >/dev/null || { echo "snapd e2e: $tool is missing; run 'make deps'" >&2; exit 1; }
done
if [ -z "${DEPOT_BIN:-}" ]; then
  # --tests: the binary with the features the test build unified, so neither rebuilds the other
  cargo build --locked -p depot --tests
  DEPOT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/depot
fi

. tests/support/depot-server.sh
fail() {
  echo "snapd e2e: FAILED: $*" >&2
  echo "--- depot log (last 40 lines) ---" >&2
  tail -n 40 "$WORK/server.log" >&2 || true
  exit 1
}

export RUST_LOG=${RUST_LOG:-info}
depot_start "snapd e2e"

"$DEPOT_BIN" admin create-account --username e2e-publisher --email e2e@example.com >/dev/null
DEPOT_TOKEN=$("$DEPOT_BIN" admin create-token --username e2e-publisher)
export DEPOT_STORE=$STORE DEPOT_TOKEN

# A real snap: a squashfs image holding meta/snap.yaml and a command.
NAME=depot-e2e-hello
SNAP=$(hello_snap "$NAME" "A snap built by depot's snapd end-to-end test")

"$DEPOT_BIN" register "$NAME" --type snap >/dev/null
"$DEPOT_BIN" push "$SNAP" --release beta >/dev/null
WANT=$(python3 -c 'import hashlib, sys; print(hashlib.sha3_384(open(sys.argv[1], "rb").read()).hexdigest())' "$SNAP")

# snap download runs without snapd's daemon; it reads UBUNTU_STORE_URL for the store.
DL=$WORK/download
mkdir -p "$DL"
export UBUNTU_STORE_URL=$STORE SNAPPY_STORE_NO_CDN=1
export HOME=$WORK/home XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

set +e
(cd "$DL" && "$SNAP_BIN" download "$NAME" --channel=beta) >"$WORK/download.out" 2>&1
code=$?
set -e
cat "$WORK/download.out"
FILE=$DL/${NAME}_1.snap
[ -f "$FILE" ] || fail "snap download left no ${NAME}_1.snap (exit $code)"
GOT=$(python3 -c 'import hashlib, sys; print(hashlib.sha3_384(open(sys.argv[1], "rb").read()).hexdigest())' "$FILE")
[ "$GOT" = "$WANT" ] || fail "downloaded sha3-384 $GOT, pushed $WANT"
cmp -s "$FILE" "$SNAP" || fail "the downloaded file differs from the pushed one"
grep -q "Fetching snap \"$NAME\"" "$WORK/download.out" || fail "snap download did not start fetching the snap"
# The download passed the hash check (snapd deletes a file whose digest does not match and says
# so); what stops stock snapd is the trust check of depot's assertions.
if grep -qi "sha3-384 mismatch\|hash mismatch" "$WORK/download.out"; then
  fail "snapd reported a digest mismatch"
fi
if [ "$code" -eq 0 ]; then
  echo "snapd e2e: snap download succeeded outright (this snapd trusts depot's authority)"
else
  grep -q "Fetching assertions for \"$NAME\"" "$WORK/download.out" \
    || fail "snap download failed before fetching assertions (exit $code)"
  grep -qi "assertion" "$WORK/download.out" \
    || fail "snap download failed, but not at the assertions (exit $code)"
  # depot serves every assertion snapd asks for; what fails is trust (stock snapd finds depot's
  # self-signed authority circular: it is not one of its compiled-in roots).
  if grep -qi "assertions: .*not found" "$WORK/download.out"; then
    fail "depot did not serve an assertion snapd asked for"
  fi
fi
grep -q 'url.path="/v2/snaps/refresh"' "$WORK/server.log" || fail "depot's log shows no refresh request"
echo "snapd e2e: snap download $NAME --channel=beta: downloaded, sha3-384 verified ($WANT)"

# snapd's own messages for a name the store does not have and a channel with nothing in it.
set +e
(cd "$DL" && "$SNAP_BIN" download no-such-snap-here --channel=stable) >"$WORK/unknown.out" 2>&1
unknown=$?
(cd "$DL" && "$SNAP_BIN" download "$NAME" --channel=stable) >"$WORK/empty.out" 2>&1
empty=$?
set -e
cat "$WORK/unknown.out" "$WORK/empty.out"
[ "$unknown" -ne 0 ] || fail "snap download of an unknown name succeeded"
# snapd's own strings (store/errors.go): ErrSnapNotFound for name-not-found, and
# ErrRevisionNotAvailable for revision-not-found (snap download does not print the
# `extra.releases` that depot sends with it; app/tests/refresh.rs checks those).
grep -q 'cannot download snap "no-such-snap-here": snap not found' "$WORK/unknown.out" \
  || fail "unknown name: not snapd's not-found message"
[ "$empty" -ne 0 ] || fail "snap download from an empty channel succeeded"
grep -q "cannot download snap \"$NAME\": no snap revision available as specified" "$WORK/empty.out" \
  || fail "empty channel: not snapd's revision-not-available message"
ls "$DL"/no-such-snap-here_* >/dev/null 2>&1 && fail "a file was left for the unknown name"
echo "snapd e2e: unknown name and empty channel fail with snapd's messages"
echo "snapd e2e: OK"

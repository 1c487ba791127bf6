# Sourced by the end-to-end scripts: a depot of their own, on a free port, in a work directory
# that is removed (and the server stopped) when the script exits.
#
#   . tests/support/depot-server.sh     # sets WORK (a new directory) and the EXIT trap
#   depot_test_authority                # optional: snapd's public test keys (no key generated)
#   depot_start LABEL                   # needs DEPOT_BIN; sets PORT, STORE, SERVER_PID
#   SNAP=$(hello_snap NAME SUMMARY)     # a real snap (mksquashfs) that prints hello
#
# Export what the server needs beyond the defaults (RUST_LOG, …) before `depot_start`; it sets
# DEPOT_DATA_DIR, DEPOT_LISTEN, DEPOT_PUBLIC_URL and a 100 ms follower poll, runs `depot serve`
# in $WORK (so no depot.toml of the caller's is read), logs to $WORK/server.log, and returns
# once /readyz answers; when the server exits or never gets ready, it prints the end of the log
# and exits.

WORK=$(mktemp -d)
SERVER_PID=

depot_stop() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap depot_stop EXIT

# snapd's public test authority (app/tests/fixtures/testrootorg): depot signs with these keys
# instead of generating two 4096-bit keys at its first start.
depot_test_authority() {
  local fixtures
  fixtures=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/app/tests/fixtures/testrootorg
  export DEPOT_AUTHORITY_ID=testrootorg
  export DEPOT_ROOT_KEY_FILE=$fixtures/testrootorg-root.private.asc
  export DEPOT_STORE_KEY_FILE=$fixtures/testrootorg-store.private.asc
}

depot_start() {
  local label=$1
  DEPOT_BIN=$(realpath "$DEPOT_BIN") # it runs in $WORK
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  STORE=http://127.0.0.1:$PORT
  export DEPOT_DATA_DIR=$WORK/data DEPOT_LISTEN=127.0.0.1:$PORT DEPOT_PUBLIC_URL=$STORE
  export DEPOT_FOLLOWER_POLL_INTERVAL_MS=100
  (cd "$WORK" && exec "$DEPOT_BIN" serve) >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 150); do
    curl -fsS "$STORE/readyz" >/dev/null 2>&1 && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$label: depot serve exited; the end of its log:" >&2
      tail -n 40 "$WORK/server.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$label: depot did not become ready in 30 s; the end of its log:" >&2
  tail -n 40 "$WORK/server.log" >&2
  exit 1
}

# Builds, with mksquashfs, a snap named $1 (summary $2) whose one app prints hello; prints its
# path ($WORK/NAME.snap).
hello_snap() {
  local name=$1 summary=$2 src=$WORK/src-$1
  mkdir -p "$src/meta" "$src/bin"
  cat >"$src/meta/snap.yaml" <<EOF
name: $name
version: '1.0'
summary: $summary
description: It prints hello.
architectures: [all]
confinement: strict
grade: stable
apps:
  hello:
    command: bin/hello
EOF
  printf '#!/bin/sh\necho hello from depot\n' >"$src/bin/hello"
  chmod 755 "$src/bin/hello"
  mksquashfs "$src" "$WORK/$name.snap" -noappend -all-root -comp xz -quiet -no-progress >/dev/null
  echo "$WORK/$name.snap"
}

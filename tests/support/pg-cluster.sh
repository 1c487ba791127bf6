#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for depot's tests.
#
#   pg-cluster.sh start   start it (creating it if needed) and print its URL
#   pg-cluster.sh stop    stop it and delete it
#   pg-cluster.sh url     print its URL
#
# DEPOT_TEST_PG_DIR (default /tmp/depot-test-pg-$UID) and DEPOT_TEST_PG_PORT (default 55432)
# choose where it lives. Safe to call from many test processes at once (flock). Runs the
# server as the `postgres` user when invoked as root, since PostgreSQL refuses to run as root.
set -euo pipefail

dir=${DEPOT_TEST_PG_DIR:-${TMPDIR:-/tmp}/depot-test-pg-$(id -u)}
port=${DEPOT_TEST_PG_PORT:-55432}
url="postgres://postgres@127.0.0.1:${port}/postgres"

bindir=""
for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$candidate/initdb" ]; then bindir=$candidate; break; fi
done
if [ -z "$bindir" ]; then
  if command -v initdb >/dev/null; then bindir=$(dirname "$(command -v initdb)"); else
    echo "pg-cluster.sh: PostgreSQL server binaries not found; install the postgresql package (make deps)" >&2
    exit 1
  fi
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { as_owner "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; }

start() {
  mkdir -p "$dir"
  exec 9>"$dir.lock"
  flock 9
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 9>&- \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! running; then
    as_owner "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 -c shared_buffers=128MB" \
      >/dev/null 9>&- || { tail -20 "$dir/server.log" >&2; exit 1; }
  fi
  echo "$url"
}

stop() {
  if [ -d "$dir/data" ]; then
    as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" "$dir.lock"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac

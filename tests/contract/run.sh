#!/usr/bin/env bash
# Contract test: runs schemathesis against a real `depot serve` and fails on any 5xx or any
# response that the OpenAPI document at /openapi.json does not describe (status, content type,
# headers, body schema), over at least MIN_CASES generated test cases.
#
#   tests/contract/run.sh              (make contract creates .venv and calls this)
#
# Environment: DEPOT_BIN (default: build target/debug/depot), SCHEMATHESIS (default:
# .venv/bin/schemathesis), CONTRACT_MAX_EXAMPLES (per operation, default 80),
# CONTRACT_SEED (default fixed, so a run is reproducible; set another to explore),
# MIN_CASES (default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SCHEMATHESIS=${SCHEMATHESIS:-$ROOT/.venv/bin/schemathesis}
MAX_EXAMPLES=${CONTRACT_MAX_EXAMPLES:-80}
SEED=${CONTRACT_SEED:-20261123}
MIN_CASES=${MIN_CASES:-1000}
# The checks (CONTRACT_CHECKS overrides):
#   not_a_server_error            no 5xx
#   status_code_conformance       every status is documented for the operation
#   content_type_conformance      every content type is documented
#   response_headers_conformance  documented headers are present and well-formed
#   response_schema_conformance   every JSON body validates against the document
#   negative_data_rejection       requests that break the schema are refused with a 4xx
#   missing_required_header       a request without a required header is refused
#   unsupported_method            methods a path does not document answer 405
#   allow_header_conformance      405 answers list the allowed methods in Allow
#   ignored_auth                  operations that require a token refuse requests without one
#   use_after_free, ensure_resource_availability
#                                 stateful checks (resources that links lead to exist)
# Not run: positive_data_acceptance, which expects every schema-valid request to succeed: the
# document cannot express every rule the store enforces (a track must not be a risk name, a
# channel must name an existing track, an upload is pushed once), so valid-looking requests
# are rightly refused with a documented 4xx. object_level_authorization needs a second
# account's token; app/tests/authorization.rs covers that matrix.
CHECKS=${CONTRACT_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,allow_header_conformance,ignored_auth,use_after_free,ensure_resource_availability}

if [ ! -x "$SCHEMATHESIS" ]; then
  echo "contract: $SCHEMATHESIS is missing; run 'make contract' (it creates .venv)" >&2
  exit 1
fi
for tool in curl mksquashfs zip; do
  command -v "$tool" >/dev/null || { echo "contract: $tool is missing; run 'make deps'" >&2; exit 1; }
done

if [ -z "${DEPOT_BIN:-}" ]; then
  # --tests: the binary with the features the test build unified, so neither rebuilds the other
  cargo build --locked -p depot --tests
  DEPOT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/depot
fi

. tests/support/depot-server.sh
export RUST_LOG=${RUST_LOG:-warn}
# High enough that the generated requests reach the handlers (429 is documented all the same).
export DEPOT_PUBLISHER_RATE_LIMIT_PER_MINUTE=100000
# Artifacts of a few KiB; schemathesis's random uploads stay far below this too.
export DEPOT_MAX_UPLOAD_SIZE=$((64 * 1024 * 1024))

depot_start contract

"$DEPOT_BIN" admin create-account --username contract --display-name "Contract Tests" --email contract@example.com >/dev/null 2>&1
TOKEN=$("$DEPOT_BIN" admin create-token --username contract --description contract-tests)
AUTH="Authorization: Macaroon $TOKEN"

# A snap and a charm with revisions on several channels, and uploads not pushed yet, so that
# generated requests reach real packages, channel maps, downloads and inspection. The names are
# the examples of the document's `name` parameters; schemathesis draws path names, upload ids,
# channels, revisions, download files and ranges from the dictionaries below part of the time
# and generates the rest.
api() { # METHOD PATH [CURL ARGS…]: prints the body, fails on a non-2xx answer
  local method=$1 path=$2
  shift 2
  curl -fsS -X "$method" -H "$AUTH" -H 'Content-Type: application/json' "$@" "$STORE$path"
}
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
upload() { # FILE: prints the upload id
  curl -fsS -H "$AUTH" -F "binary=@$1" "$STORE/unscanned-upload/" | json_field '["upload_id"]'
}
push() { # NAMESPACE NAME FILE
  api POST "/v1/$1/$2/revisions" -d "{\"upload-id\": \"$(upload "$3")\"}" >/dev/null
}

mkdir -p "$WORK/snap/meta" "$WORK/snap/bin" "$WORK/charm"
cat >"$WORK/snap/meta/snap.yaml" <<'YAML'
name: hello-depot
version: '1.0'
summary: Says hello from depot
description: A tiny snap for the contract tests.
base: core22
architectures: [amd64, arm64]
apps:
  hello:
    command: bin/hello
YAML
printf '#!/bin/sh\necho hello\n' >"$WORK/snap/bin/hello"
chmod 755 "$WORK/snap/bin/hello"
mksquashfs "$WORK/snap" "$WORK/hello-depot.snap" -noappend -comp xz -all-root -quiet >/dev/null
cat >"$WORK/charm/metadata.yaml" <<'YAML'
name: hello-charm
summary: Says hello from depot
description: A tiny charm for the contract tests.
YAML
cat >"$WORK/charm/manifest.yaml" <<'YAML'
bases:
  - name: ubuntu
    channel: "22.04"
    architectures: [amd64]
YAML
echo 1.0 >"$WORK/charm/version"
(cd "$WORK/charm" && zip -q -r "$WORK/hello-charm.charm" .)
head -c 4096 /dev/urandom >"$WORK/garbage.bin"

# Each name in both namespaces: a snap name pushed as a charm is a real error case too.
for namespace in snap charm; do
  for name in hello-depot hello-charm; do
    api POST "/v1/$namespace" -d "{\"name\": \"$name\"}" >/dev/null
    api POST "/v1/$namespace/$name/tracks" -d '[{"name": "2.0"}]' >/dev/null
  done
done
push snap hello-depot "$WORK/hello-depot.snap"
push snap hello-depot "$WORK/hello-depot.snap"
push charm hello-charm "$WORK/hello-charm.charm"
api POST /v1/snap/hello-depot/releases \
  -d '[{"channel": "stable", "revision": 1}, {"channel": "2.0/beta", "revision": 2}, {"channel": "edge/fix-1", "revision": 2, "progressive": {"percentage": 50}}]' >/dev/null
api POST /v1/charm/hello-charm/releases \
  -d '[{"channel": "stable", "revision": 1}, {"channel": "latest/edge/fix-1", "revision": 1}]' >/dev/null
snap_id=$(api GET /v1/snap/hello-depot | json_field '["metadata"]["id"]')
charm_id=$(api GET /v1/charm/hello-charm | json_field '["metadata"]["id"]')
uploads=$(for file in hello-depot.snap hello-depot.snap hello-charm.charm garbage.bin; do
  printf '"%s", ' "$(upload "$WORK/$file")"
done)

cat >"$WORK/schemathesis.toml" <<TOML
[dictionaries.names]
values = ["hello-depot", "hello-charm"]
[dictionaries.uploads]
values = [${uploads%, }]
[dictionaries.channels]
values = ["stable", "candidate", "latest/edge", "2.0", "2.0/beta", "edge/fix-1", "3.0/stable"]
[dictionaries.revisions]
values = [1, 2, 3]
[dictionaries.tracks]
values = ["2.0", "3.0", "latest"]
[dictionaries.files]
values = ["${snap_id}_1.snap", "${snap_id}_2.snap", "${charm_id}_1.charm", "${snap_id}_9.snap"]
[dictionaries.ranges]
values = ["bytes=0-99", "bytes=100-", "bytes=-10", "bytes=0-0", "bytes=99999999-"]

[parameters]
"path.name" = { dictionary = "names", probability = 0.7 }
"path.file" = { dictionary = "files", probability = 0.7 }
"header.range" = { dictionary = "ranges", probability = 0.5 }
"query.upload-id" = { dictionary = "uploads", probability = 0.7 }
"query.channel" = { dictionary = "channels", probability = 0.5 }
"query.revision" = { dictionary = "revisions", probability = 0.5 }
"body.upload-id" = { dictionary = "uploads", probability = 0.7 }
"body.[*].channel" = { dictionary = "channels", probability = 0.7 }
"body.[*].revision" = { dictionary = "revisions", probability = 0.7 }
"body.[*].name" = { dictionary = "tracks", probability = 0.5 }
TOML

echo "contract: depot at $STORE; schemathesis $("$SCHEMATHESIS" --version | awk '{print $NF}'), seed $SEED, $MAX_EXAMPLES examples per operation"
set +e
# From the temporary directory, so that schemathesis's own files stay out of the repository.
(cd "$WORK" && "$SCHEMATHESIS" --config-file "$WORK/schemathesis.toml" run "$STORE/openapi.json" \
  --checks "$CHECKS" \
  --header "$AUTH" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --request-timeout 30 \
  --no-color) 2>&1 | tee "$WORK/schemathesis.log"
status=${PIPESTATUS[0]}
set -e

# "Test cases:" is followed by "N generated, …".
cases=$(awk '/^Test cases:/ {getline; print $1}' "$WORK/schemathesis.log")
echo "contract: schemathesis exit status $status"
if [ "$status" -ne 0 ]; then
  echo "contract: FAILED; the server log follows" >&2
  tail -n 50 "$WORK/server.log" >&2
  exit "$status"
fi
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "contract: FAILED: depot serve died during the run" >&2
  exit 1
fi
if ! [[ "$cases" =~ ^[0-9]+$ ]] || [ "$cases" -lt "$MIN_CASES" ]; then
  echo "contract: FAILED: ${cases:-no} test cases generated, fewer than $MIN_CASES" >&2
  exit 1
fi
echo "contract: $cases test cases generated, every check passed"
echo "contract: $cases passed, 0 failed"

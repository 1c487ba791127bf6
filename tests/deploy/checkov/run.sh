#!/bin/bash
# checkov over terraform/ with depot's custom policies (checkov has no built-in checks for the
# juju provider), after proving on violations/ that each custom policy can fail.
# Usage: run.sh PATH/TO/checkov
set -euo pipefail
checkov=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
args=(--framework terraform --skip-download --external-checks-dir "$here" --compact --quiet)

expected="CKV2_DEPOT_1 CKV2_DEPOT_2 CKV2_DEPOT_3 CKV2_DEPOT_4 CKV2_DEPOT_5"
failed=$("$checkov" -d "$here/violations" "${args[@]}" -o json 2>/dev/null |
  python3 -c 'import json, sys
print(" ".join(sorted({c["check_id"] for c in json.load(sys.stdin)["results"]["failed_checks"]})))' ||
  true)
if [ "$failed" != "$expected" ]; then
  echo "checkov policy self-test: expected failures [$expected], got [$failed]" >&2
  exit 1
fi
echo "checkov policy self-test: every custom policy fails on violations/ as it should"

"$checkov" -d "$repo/terraform" "${args[@]}"

#!/usr/bin/env bash
# Compiles policies/rego into a Wasm bundle with the pinned OPA CLI (scripts/install-opa.sh) and
# extracts its policy.wasm to policies/rego.wasm, the file the service loads; the service never
# runs the CLI. Entrypoint: keystone/decision (input: PolicyInput plus "action").
# Usage: scripts/policy-build.sh [output directory, default policies]
set -euo pipefail
cd "$(dirname "$0")/.."
opa="${OPA:-$PWD/.cache/bin/opa}"
[ -x "$opa" ] || { echo "policy-build: $opa not found; run scripts/install-opa.sh" >&2; exit 1; }
out="${1:-policies}"
mkdir -p "$out"
# Unit tests (*_test.rego) stay out of the bundle; `opa test policies/rego` runs them.
"$opa" build -t wasm -e keystone/decision --ignore '*_test.rego' policies/rego -o "$out/bundle.tar.gz"
tar -xzOPf "$out/bundle.tar.gz" /policy.wasm > "$out/rego.wasm"

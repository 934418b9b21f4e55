#!/usr/bin/env bash
# Compiles policies/rego into a Wasm bundle with the pinned OPA CLI (scripts/install-opa.sh) and
# extracts its policy.wasm to policies/rego.wasm, the file the service loads; the service never
# runs the CLI. Entrypoints: keystone/decision (input: PolicyInput plus "action") and one
# keystone/identity/<area>/decision per area package, which the engine asks directly.
# Usage: scripts/policy-build.sh [output directory, default policies] [rego directory, default policies/rego]
set -euo pipefail
cd "$(dirname "$0")/.."
opa="${OPA:-$PWD/.cache/bin/opa}"
[ -x "$opa" ] || { echo "policy-build: $opa not found; run scripts/install-opa.sh" >&2; exit 1; }
out="${1:-policies}"
src="${2:-policies/rego}"
mkdir -p "$out"
# An area file (`users.rego`, package keystone.identity.users) with a decision rule adds its own
# entrypoint; any other file adds none, so a hand-written bundle needs only keystone/decision.
# `keystone-ts policy test` builds operator bundles through this script too.
entrypoints=(-e keystone/decision)
for file in "$src"/*.rego; do
  name="$(basename "$file" .rego)"
  case "$name" in *_test | oslo | keystone) continue ;; esac
  grep -Eq "^package keystone\.identity\.${name}[[:space:]]*$" "$file" && grep -Eq '^decision[[:space:]]*:?=' "$file" || continue
  entrypoints+=(-e "keystone/identity/$name/decision")
done
# Unit tests (*_test.rego) stay out of the bundle; `opa test policies/rego` runs them.
"$opa" build -t wasm "${entrypoints[@]}" --ignore '*_test.rego' "$src" -o "$out/bundle.tar.gz"
tar -xzOPf "$out/bundle.tar.gz" /policy.wasm > "$out/rego.wasm"

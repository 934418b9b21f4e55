#!/usr/bin/env bash
# Installs the OPA CLI pinned in policies/opa-version into .cache/bin/opa (the only place the
# tests and scripts/policy-build.sh look). Idempotent: does nothing when the pinned version is
# already there. The service itself never needs the CLI: it loads the committed policies/rego.wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(tr -d '[:space:]' < policies/opa-version)"
bin="$PWD/.cache/bin"
installed() { [ -x "$bin/opa" ] && [ "$("$bin/opa" version | sed -n 's/^Version: //p')" = "${version#v}" ]; }
if installed; then
  exit 0
fi
mkdir -p "$bin"
export PATH="/usr/local/go/bin:$PATH"
echo "install-opa: building opa $version with go install (a few minutes the first time)"
GOBIN="$bin" go install "github.com/open-policy-agent/opa@$version"
installed || { echo "install-opa: $bin/opa is not version $version" >&2; exit 1; }

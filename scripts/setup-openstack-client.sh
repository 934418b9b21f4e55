#!/usr/bin/env bash
# Installs python-openstackclient (the real `openstack` CLI) into .cache/venv for the client
# interop tests. Idempotent; the folder is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv
if [ -x "$venv/bin/openstack" ] && "$venv/bin/openstack" --version >/dev/null 2>&1; then
  exit 0
fi
mkdir -p .cache
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check python-openstackclient
"$venv/bin/openstack" --version

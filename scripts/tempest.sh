#!/usr/bin/env bash
# npm run test:tempest — tempest's identity API tests (and keystone-tempest-plugin's API tests)
# against keystone-ts, compared with the tests upstream Keystone passes.
#
# Builds dist/ if a source is newer, starts `keystone-ts serve` on a fresh PGlite database in a
# temporary directory on a free loopback port (with the settings tempest's configuration assumes),
# writes a tempest.conf for an identity-only cloud, runs tempest, and writes into $TEMPEST_OUT
# (default .cache/tempest/): results.txt ("test_id status" a line), summary.txt, run.log (tempest's
# output), tempest.log (tempest's REST log: every request and response), keystone-ts.log, tempest.conf.
# Then scripts/tempest-compare.mjs checks the results against test/fixtures/tempest/: every test of
# baseline-pass.txt that exclusions.txt does not list must pass.
#
# Environment: TEMPEST_OUT, TEMPEST_CONCURRENCY (default 2), TEMPEST_REGEX (default: the whole
# identity suite; a narrower regex makes the tests it does not select count as failed),
# TEMPEST_STARTUP_TIMEOUT (seconds, default 120).
# Needs Debian's tempest and keystone-tempest-plugin (.ci/run installs them):
#   apt-get install -y tempest keystone-tempest-plugin
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

out=${TEMPEST_OUT:-.cache/tempest}
concurrency=${TEMPEST_CONCURRENCY:-2}
regex=${TEMPEST_REGEX:-'^(tempest\.api\.identity|keystone_tempest_plugin\.tests\.api)'}
startup_timeout=${TEMPEST_STARTUP_TIMEOUT:-120}
fixtures=test/fixtures/tempest
# Debian's tempest and stestr run on the system Python (a pyenv or venv python3 first on PATH
# would not see their modules).
py=/usr/bin/python3

started=$SECONDS
say() { echo "tempest: $*"; }

missing=()
for pkg in tempest keystone-tempest-plugin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ] || ! command -v tempest >/dev/null || ! command -v stestr >/dev/null; then
  say "missing Debian packages: ${missing[*]:-tempest}; install them with" >&2
  say "  apt-get install -y tempest keystone-tempest-plugin   (.ci/run does it)" >&2
  exit 2
fi

# Build when dist/ is missing or older than a source it is compiled from.
entry=dist/src/cli/main.js
if [ ! -f "$entry" ] || [ -n "$(find src migrations tsconfig.json package.json -newer "$entry" -print -quit)" ]; then
  say "building dist/"
  npx tsc -p tsconfig.json || { say "build failed" >&2; exit 1; }
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/results.txt "$out"/results.csv "$out"/summary.txt "$out"/run.log "$out"/tempest.log "$out"/keystone-ts.log "$out"/tempest.conf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keystone-ts-tempest.XXXXXX")
server_pid=
tempest_pid=

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=
}
cleanup() {
  if [ -n "$tempest_pid" ]; then
    kill -TERM -- "-$tempest_pid" 2>/dev/null
    wait "$tempest_pid" 2>/dev/null
  fi
  stop_server
  [ -f "$tmp/keystone-ts.log" ] && cp "$tmp/keystone-ts.log" "$out/keystone-ts.log"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'say interrupted >&2; exit 130' INT
trap 'say terminated >&2; exit 143' TERM

show_server_log() {
  say "last lines of the keystone-ts log ($out/keystone-ts.log):" >&2
  tail -n "${1:-40}" "$tmp/keystone-ts.log" >&2
}

port=$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
url="http://127.0.0.1:$port/v3"
password=$(node -e "console.log(require('node:crypto').randomBytes(18).toString('base64url'))")

# A first start on an empty data directory creates the database and key repositories and
# bootstraps admin/admin in domain Default, with the identity endpoint ($url) in RegionOne.
say "starting keystone-ts on $url (data in $tmp/data)"
env KEYSTONE_TS_DATA="$tmp/data" \
  OS_BOOTSTRAP_PASSWORD="$password" \
  OS_BOOTSTRAP_REGION_ID=RegionOne \
  KEYSTONE_TS_KEYSTONE_TS__BIND="127.0.0.1:$port" \
  KEYSTONE_TS_AUTH__METHODS=external,password,token,oauth1,mapped,application_credential,totp \
  KEYSTONE_TS_SECURITY_COMPLIANCE__LOCKOUT_FAILURE_ATTEMPTS=2 \
  KEYSTONE_TS_SECURITY_COMPLIANCE__LOCKOUT_DURATION=5 \
  KEYSTONE_TS_SECURITY_COMPLIANCE__UNIQUE_LAST_PASSWORD_COUNT=2 \
  KEYSTONE_TS_SECURITY_COMPLIANCE__MINIMUM_PASSWORD_AGE=0 \
  node bin/keystone-ts.js serve >"$tmp/keystone-ts.log" 2>&1 &
server_pid=$!

ready=
for _ in $(seq 1 $((startup_timeout * 4))); do
  kill -0 "$server_pid" 2>/dev/null || break
  if node -e "fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "$url"; then ready=1; break; fi
  sleep 0.25
done
if [ -z "$ready" ]; then
  say "keystone-ts did not come up on $url" >&2
  show_server_log
  exit 1
fi
say "keystone-ts ready after $((SECONDS - started))s"

# A tempest workspace of our own, registered in a workspace file of our own (not ~/.tempest).
(cd "$tmp" && tempest init --workspace-path "$tmp/workspace.yaml" --name keystone-ts ws >"$tmp/init.log" 2>&1) \
  || { say "tempest init failed:" >&2; cat "$tmp/init.log" >&2; exit 1; }
# Without the workspace's logging.conf, [DEFAULT] log_file applies: one log of every request and
# response (bodies too, with debug) from both workers, kept in $out.
rm -f "$tmp/ws/etc/logging.conf"
cat >"$tmp/ws/etc/tempest.conf" <<CONF
[DEFAULT]
log_file = $out/tempest.log
debug = true
[auth]
admin_username = admin
admin_password = $password
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
tempest_roles =
[identity]
uri_v3 = $url
auth_version = v3
region = RegionOne
v3_endpoint_type = public
disable_ssl_certificate_validation = true
user_lockout_failure_attempts = 2
user_lockout_duration = 5
user_unique_last_password_count = 2
user_minimum_password_age = 0
[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = true
federation = true
application_credentials = true
access_rules = true
project_tags = true
domain_specific_drivers = false
security_compliance = true
immutable_user_source = false
external_idp = false
[service_available]
cinder = false
glance = false
neutron = false
nova = false
swift = false
heat = false
horizon = false
[enforce_scope]
keystone = false
CONF
sed "s/^admin_password = .*/admin_password = (random, not kept)/" "$tmp/ws/etc/tempest.conf" >"$out/tempest.conf"

say "running tempest (concurrency $concurrency): $regex"
tempest_started=$SECONDS
# In its own session, waited for in the background: a signal to this script is handled at once
# (the trap stops tempest's process group and the service) instead of after tempest finishes.
(cd "$tmp/ws" && exec setsid tempest run --regex "$regex" --concurrency "$concurrency" >"$out/run.log" 2>&1) &
tempest_pid=$!
wait "$tempest_pid"
tempest_status=$?
tempest_pid=
say "tempest finished in $((SECONDS - tempest_started))s (exit status $tempest_status; its output: $out/run.log)"

alive=1
kill -0 "$server_pid" 2>/dev/null || alive=
stop_server

(cd "$tmp/ws" && stestr last --subunit 2>/dev/null | subunit2csv >"$out/results.csv" 2>/dev/null)
"$py" - "$out" <<'PY'
import collections, csv, sys
out = sys.argv[1]
counts = collections.Counter()
with open(out + '/results.csv', newline='') as f, open(out + '/results.txt', 'w') as w:
    for row in csv.DictReader(f):
        test, status = row['test'], row['status']
        # "module.Class.test_x[id-...,smoke]" -> "module.Class.test_x"; a class fixture keeps its
        # name, "setUpClass (module.Class)".
        if not test.startswith(('setUpClass', 'tearDownClass')):
            test = test.split('[')[0]
        counts[status] += 1
        w.write('%s %s\n' % (test, status))
summary = ' '.join('%s=%d' % kv for kv in sorted(counts.items()))
open(out + '/summary.txt', 'w').write(summary + '\n')
print('tempest: all selected tests: ' + (summary or 'none ran'))
PY

compare_status=0
node scripts/tempest-compare.mjs --results "$out/results.txt" --baseline "$fixtures/baseline-pass.txt" \
  --also-required "$fixtures/also-required.txt" --exclusions "$fixtures/exclusions.txt" --run-log "$out/run.log" --tempest-log "$out/tempest.log" || compare_status=$?

if [ "$compare_status" -ne 0 ] || [ -z "$alive" ]; then
  [ -z "$alive" ] && say "keystone-ts exited during the run" >&2
  show_server_log 40
fi
say "total $((SECONDS - started))s; results in $out"
[ -n "$alive" ] || exit 1
exit "$compare_status"

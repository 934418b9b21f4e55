// Compares a tempest run (results.txt from scripts/tempest.sh) with the tests upstream Keystone
// passes (test/fixtures/tempest/baseline-pass.txt), less the known gaps (exclusions.txt).
//
//   node scripts/tempest-compare.mjs --results R --baseline B --exclusions E [--run-log L] [--tempest-log T]
//
// Every baseline test that is not excluded must pass; a test absent from the results (its class
// fixture failed, or tempest did not select or reach it) counts as failed. Prints how many baseline
// tests pass, the required tests that did not pass (with tempest's error from --run-log and the last
// error response from --tempest-log),
// the excluded tests that passed (so the list can shrink), and ends with one line
// `N passed, N failed, N skipped` over the required tests. Exit status 1 when a required test
// failed or the lists are inconsistent.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    results: { type: 'string' },
    baseline: { type: 'string' },
    exclusions: { type: 'string' },
    // Tests beyond upstream's baseline that keystone-ts must pass too (upstream fails them).
    'also-required': { type: 'string' },
    'run-log': { type: 'string' },
    'tempest-log': { type: 'string' },
  },
});
for (const name of ['results', 'baseline', 'exclusions']) {
  if (!args[name]) {
    console.error(`tempest-compare: --${name} is required`);
    process.exit(2);
  }
}

const PASS = new Set(['success', 'xfail']);
const SKIP = new Set(['skip']);

const lines = (file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim());

const problems = [];

const baseline = [
  ...lines(args.baseline),
  ...(args['also-required'] ? lines(args['also-required']) : []),
].filter((line) => line && !line.startsWith('#'));
const baselineSet = new Set(baseline);
if (baselineSet.size !== baseline.length) problems.push(`${args.baseline} lists a test twice`);

/** exclusions.txt: `## Feature` headings, `# comments`, and `test_id  reason` lines. */
const exclusions = new Map();
let group = '(no group)';
lines(args.exclusions).forEach((line, index) => {
  if (line.startsWith('##')) {
    group = line.replace(/^#+\s*/, '');
    return;
  }
  if (!line || line.startsWith('#')) return;
  const [id, ...rest] = line.split(/\s+/);
  const reason = rest.join(' ');
  const where = `${args.exclusions}:${index + 1}`;
  if (!reason) problems.push(`${where}: ${id} has no reason`);
  if (!baselineSet.has(id)) problems.push(`${where}: ${id} is not in the baseline`);
  if (exclusions.has(id)) problems.push(`${where}: ${id} is listed twice`);
  exclusions.set(id, { group, reason });
});

/** results.txt: `test_id status`; class fixtures are `setUpClass (module.Class) status`. */
const results = new Map();
const classFixtures = new Map();
if (existsSync(args.results)) {
  for (const line of lines(args.results)) {
    if (!line) continue;
    const cut = line.lastIndexOf(' ');
    const id = line.slice(0, cut);
    const status = line.slice(cut + 1);
    const fixture = /^(setUpClass|tearDownClass) \((.+)\)$/.exec(id);
    if (fixture) {
      if (fixture[1] === 'setUpClass' && !PASS.has(status)) classFixtures.set(fixture[2], status);
    } else {
      results.set(id, status);
    }
  }
  if (results.size === 0 && classFixtures.size === 0) problems.push(`no results: ${args.results} is empty (tempest ran no test)`);
} else {
  problems.push(`no results: ${args.results} is missing (tempest did not run?)`);
}

/** Tempest's error for each failed test or class fixture, from the run log (best effort). */
const errors = new Map();
if (args['run-log'] && existsSync(args['run-log'])) {
  let current = null;
  for (const line of lines(args['run-log'])) {
    const start = /^\{\d+\} (.+?)(?:\[[^\]]*\])? \[[\d.]+s\] \.\.\. FAILED$/.exec(line);
    if (start) {
      current = start[1].replace(/^(setUpClass|tearDownClass) \((.+)\)$/, '$2');
      continue;
    }
    if (!current || errors.has(current)) continue;
    if (/^\S*(Error|Exception|exceptions\.\w+|Failure)\b.*:/.test(line)) errors.set(current, line);
  }
}

/**
 * The last error response (status >= 400) each test or class fixture received, from tempest's
 * REST log: `Request (Class:test_or_setUpClass): 404 POST http://host/v3/users 0.01s` (a test's own,
 * else its class's setUp's). For a negative test that expected it, it is not the cause; otherwise
 * it usually is.
 */
const lastErrorResponse = new Map();
if (args['tempest-log'] && existsSync(args['tempest-log'])) {
  for (const line of lines(args['tempest-log'])) {
    const request = / Request \((\w+):(\w+)\): ([45]\d\d) ([A-Z]+) https?:\/\/[^/\s]+(\S*)/.exec(line);
    if (request) lastErrorResponse.set(`${request[1]}:${request[2]}`, `${request[3]} ${request[4]} ${request[5].replace(/[0-9a-f]{32}/g, '{id}')}`);
  }
}

const classOf = (id) => id.slice(0, id.lastIndexOf('.'));
const shortName = (id) => id.split('.').slice(-2).join(':');
function outcome(id) {
  const status = results.get(id);
  if (status !== undefined) {
    const cls = classOf(id).split('.').at(-1);
    const response = lastErrorResponse.get(shortName(id)) ?? lastErrorResponse.get(`${cls}:setUp`);
    return { status, error: errors.get(id), response };
  }
  const cls = classOf(id);
  const fixture = classFixtures.get(cls);
  if (fixture !== undefined) {
    return { status: `setUpClass ${fixture}`, error: errors.get(cls), response: lastErrorResponse.get(`${cls.split('.').at(-1)}:setUpClass`) };
  }
  return { status: 'not run' };
}

const passed = [];
const failed = [];
const skipped = [];
const excludedPassing = [];
let baselinePassing = 0;
for (const id of baseline) {
  const result = outcome(id);
  const passes = PASS.has(result.status);
  if (passes) baselinePassing += 1;
  if (exclusions.has(id)) {
    if (passes) excludedPassing.push(id);
    continue;
  }
  if (passes) passed.push(id);
  else if (SKIP.has(result.status)) skipped.push({ id, ...result });
  else failed.push({ id, ...result });
}

console.log(
  `tempest: ${baselinePassing} of ${baseline.length} baseline tests pass; ` +
    `${exclusions.size} excluded (known gaps, ${args.exclusions}), ${baseline.length - exclusions.size} required`,
);
if (excludedPassing.length > 0) {
  console.log(`tempest: ${excludedPassing.length} excluded tests pass now; remove them from ${args.exclusions}:`);
  for (const id of excludedPassing) console.log(`  ${id}  (${exclusions.get(id).group})`);
}
if (skipped.length > 0) {
  console.log(`tempest: ${skipped.length} required tests were skipped (upstream runs them):`);
  for (const { id } of skipped) console.log(`  ${id}`);
}
if (failed.length > 0) {
  console.log(`tempest: ${failed.length} required tests did not pass:`);
  for (const { id, status, error, response } of failed) {
    console.log(`  ${id}  [${status}]`);
    if (error) console.log(`      ${error}`);
    if (response) console.log(`      last error response: ${response}`);
  }
}
for (const problem of problems) console.log(`tempest: ${problem}`);
console.log(`${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped`);
process.exit(failed.length > 0 || problems.length > 0 ? 1 : 0);

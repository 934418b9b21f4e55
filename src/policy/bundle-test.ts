/**
 * `keystone-ts policy test [--engine rego|cedar|both] [--require-opa] DIR`: checks an operator's
 * policy bundle the way keystone-ts will run it (docs/policy.md, "Testing a policy bundle").
 *
 * Bundle layout: `rego/` (Rego sources and their `*_test.rego`), `cedar/` (`*.cedar` and
 * `keystone.cedarschema`), `cases/` (`*.json` decision cases, decision-cases.ts), and optionally
 * `rego.wasm` (what the service loads). Steps: `opa test rego/` and a Wasm build of rego/ when the
 * OPA CLI is found; the cases through the Rego engine (on that build, else on rego.wasm); strict
 * validation of the Cedar policies against the schema; the cases through the Cedar engine. Every
 * case runs under each [oslo_policy] setting it states an expectation for.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectPath } from '../common/paths.js';
import { createCedarEngine, loadCedarBundle } from './cedar-engine.js';
import { ALL_SETTINGS, type CaseFailure, CaseFormatError, type DecisionCase, formatFailure, loadCaseDirectory, runCases } from './decision-cases.js';
import type { PolicyEngine } from './pdp.js';
import { REGO_DECISION_ENTRYPOINT } from './rego-compile.js';
import { createRegoEngine } from './rego-engine.js';

export type BundleEngine = 'rego' | 'cedar';

export interface BundleTestOptions {
  readonly dir: string;
  readonly engines: readonly BundleEngine[];
  /** Absence of the OPA CLI fails the run instead of skipping `opa test` (for CI). */
  readonly requireOpa?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
}

/** A bundle directory that cannot be tested at all: the CLI's usage error. */
export class BundleUsageError extends Error {}

/** Failures shown per engine; the rest are counted, so a broken bundle stays readable. */
const FAILURES_SHOWN = 20;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The OPA CLI: $OPA when set (as scripts/policy-build.sh), else keystone-ts' pinned copy
 * (.cache/bin/opa, `npm run policy:install-opa`), else `opa` on PATH.
 */
export function findOpa(env: NodeJS.ProcessEnv = process.env): { path?: string; looked: string } {
  if (env.OPA) return isExecutable(env.OPA) ? { path: env.OPA, looked: `$OPA (${env.OPA})` } : { looked: `$OPA (${env.OPA})` };
  const pinned = projectPath('.cache', 'bin', 'opa');
  if (isExecutable(pinned)) return { path: pinned, looked: pinned };
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'opa'))) return { path: path.join(dir, 'opa'), looked: 'PATH' };
  }
  return { looked: `$OPA, ${pinned} and PATH` };
}

/** One member of a .tar.gz (OPA's bundle), by name; undefined when absent. */
export function extractFromTarGz(archive: Buffer, wanted: string): Buffer | undefined {
  const tar = gunzipSync(archive);
  const normalize = (name: string) => name.replace(/^\.?\//, '');
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const start = offset + 512;
    if ((type === '0' || type === '') && normalize(name) === normalize(wanted)) return Buffer.from(tar.subarray(start, start + size));
    offset = start + Math.ceil(size / 512) * 512;
  }
  return undefined;
}


function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

interface Tally {
  problems: number;
  /** Steps not run (no OPA CLI, no rego.wasm): the run may pass, but says so. */
  skipped: number;
  readonly lines: string[];
}

function reportCases(engine: BundleEngine, decisions: number, cases: number, failures: readonly CaseFailure[], out: (line: string) => void, tally: Tally): void {
  for (const failure of failures.slice(0, FAILURES_SHOWN)) out(formatFailure(failure));
  if (failures.length > FAILURES_SHOWN) out(`... and ${failures.length - FAILURES_SHOWN} more ${engine} failures`);
  tally.problems += failures.length;
  tally.lines.push(`${engine}: ${decisions} decisions over ${cases} cases, ${failures.length} failed`);
}

async function runEngine(
  engine: BundleEngine,
  create: (settings: (typeof ALL_SETTINGS)[number]) => Promise<PolicyEngine>,
  cases: readonly DecisionCase[],
  out: (line: string) => void,
  tally: Tally,
): Promise<void> {
  let decisions = 0;
  const failures: CaseFailure[] = [];
  for (const settings of ALL_SETTINGS) {
    const result = runCases(engine, await create(settings), settings, cases);
    decisions += result.decisions;
    failures.push(...result.failures);
  }
  reportCases(engine, decisions, cases.length, failures, out, tally);
}

/** The Rego part: opa test, a Wasm build, the cases. Returns nothing; problems go to the tally. */
async function testRego(options: BundleTestOptions, cases: readonly DecisionCase[] | undefined, tally: Tally): Promise<void> {
  const { dir, out } = options;
  const regoDir = path.join(dir, 'rego');
  if (!existsSync(regoDir)) {
    tally.problems += 1;
    tally.lines.push(`rego: FAILED: ${regoDir} does not exist (--engine cedar tests only the Cedar policies)`);
    return;
  }
  const opa = findOpa(options.env);
  let wasm: Buffer | undefined;
  if (opa.path) {
    const test = spawnSync(opa.path, ['test', regoDir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const output = `${test.stdout ?? ''}${test.stderr ?? ''}`;
    if (test.status === 0) {
      tally.lines.push(`opa test ${regoDir}: ${output.trim().split('\n').at(-1) ?? 'passed'}`);
    } else {
      out(`FAIL [opa test] ${regoDir}\n${indent(output || String(test.error?.message))}`);
      tally.problems += 1;
      tally.lines.push(`opa test ${regoDir}: FAILED`);
    }
    const work = mkdtempSync(path.join(tmpdir(), 'kts-policy-test-'));
    try {
      // The shipped bundle's own build (its entrypoints, unit tests left out), into a scratch directory.
      // Relative to the project root, where the script runs: OPA records the paths it was given.
      const build = spawnSync('bash', [projectPath('scripts', 'policy-build.sh'), work, path.relative(projectPath(), path.resolve(regoDir)) || '.'], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, OPA: opa.path },
      });
      wasm = build.status === 0 ? extractFromTarGz(readFileSync(path.join(work, 'bundle.tar.gz')), '/policy.wasm') : undefined;
      if (!wasm) {
        out(`FAIL [opa build] ${regoDir}\n${indent(`${build.stdout ?? ''}${build.stderr ?? ''}` || 'no policy.wasm in the bundle')}`);
        tally.problems += 1;
        tally.lines.push(`rego: FAILED: ${regoDir} does not build to Wasm with entrypoint ${REGO_DECISION_ENTRYPOINT}`);
        return;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const committed = path.join(dir, 'rego.wasm');
    if (existsSync(committed) && !readFileSync(committed).equals(wasm)) {
      // Only a warning: another OPA version may build the same sources to other bytes.
      tally.lines.push(`rego: warning: ${committed} differs from what ${opa.path} builds from ${regoDir}; rebuild it before deploying`);
    }
  } else {
    const skipped = `OPA CLI not found (looked at ${opa.looked}; npm run policy:install-opa installs it)`;
    if (options.requireOpa) {
      tally.problems += 1;
      tally.lines.push(`opa test ${regoDir}: FAILED: ${skipped}, and --require-opa was given`);
    } else {
      tally.skipped += 1;
      tally.lines.push(`opa test ${regoDir}: skipped: ${skipped}`);
    }
    const committed = path.join(dir, 'rego.wasm');
    if (existsSync(committed)) {
      wasm = readFileSync(committed);
      tally.lines.push(`rego: cases run on ${committed} as committed (not rebuilt from ${regoDir})`);
    } else {
      tally.skipped += 1;
      tally.lines.push(`rego: cases skipped: no OPA CLI to build ${regoDir} and no ${committed}`);
      return;
    }
  }
  if (!cases) return;
  try {
    await createRegoEngine({ wasm, enforceScope: true, enforceNewDefaults: true });
  } catch (error) {
    tally.problems += 1;
    tally.lines.push(`rego: FAILED: the Wasm policy does not load: ${(error as Error).message}`);
    return;
  }
  await runEngine('rego', (settings) => createRegoEngine({ wasm: wasm!, ...settings }), cases, out, tally);
}

async function testCedar(options: BundleTestOptions, cases: readonly DecisionCase[] | undefined, tally: Tally): Promise<void> {
  const cedarDir = path.join(options.dir, 'cedar');
  if (!existsSync(cedarDir)) {
    tally.problems += 1;
    tally.lines.push(`cedar: FAILED: ${cedarDir} does not exist (--engine rego tests only the Rego policies)`);
    return;
  }
  let bundle: { policies: string; schema: string };
  try {
    bundle = loadCedarBundle(cedarDir);
    createCedarEngine({ ...bundle, enforceScope: true, enforceNewDefaults: true });
  } catch (error) {
    const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${path.join(cedarDir, 'keystone.cedarschema')} is missing` : (error as Error).message;
    options.out(`FAIL [cedar validation] ${cedarDir}\n${indent(message.replace(/; /g, '\n'))}`);
    tally.problems += 1;
    tally.lines.push(`cedar: FAILED: the policies do not validate against keystone.cedarschema`);
    return;
  }
  const files = readdirSync(cedarDir).filter((name) => name.endsWith('.cedar')).length;
  tally.lines.push(`cedar: ${files} policy files validate against keystone.cedarschema (strict mode)`);
  if (!cases) return;
  await runEngine('cedar', async (settings) => createCedarEngine({ ...bundle, ...settings }), cases, options.out, tally);
}

/** Runs every check on the bundle, printing failures and a summary; true when all passed. */
export async function testBundle(options: BundleTestOptions): Promise<boolean> {
  const { dir, out } = options;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleUsageError(`${dir} is not a directory`);
  if (!['rego', 'cedar', 'cases'].some((name) => existsSync(path.join(dir, name)))) {
    throw new BundleUsageError(`${dir} has none of rego/, cedar/ or cases/: not a policy bundle`);
  }
  const tally: Tally = { problems: 0, skipped: 0, lines: [] };
  let cases: DecisionCase[] | undefined;
  const casesDir = path.join(dir, 'cases');
  if (!existsSync(casesDir)) {
    tally.lines.push(`cases: none (no ${casesDir}): only the engines' own checks ran`);
  } else {
    try {
      cases = loadCaseDirectory(casesDir);
      tally.lines.push(`cases: ${cases.length} in ${casesDir}`);
    } catch (error) {
      if (!(error instanceof CaseFormatError)) throw error;
      out(`FAIL [cases] ${error.message}`);
      tally.problems += 1;
      tally.lines.push(`cases: FAILED: ${casesDir} does not parse`);
    }
  }
  if (options.engines.includes('rego')) await testRego(options, cases, tally);
  if (options.engines.includes('cedar')) await testCedar(options, cases, tally);
  out('');
  out(`Policy bundle ${dir}:`);
  for (const line of tally.lines) out(`  ${line}`);
  if (tally.problems > 0) out(`FAILED: ${tally.problems} problem${tally.problems === 1 ? '' : 's'}`);
  else out(tally.skipped > 0 ? `OK, with ${tally.skipped} step${tally.skipped === 1 ? '' : 's'} skipped` : 'OK');
  return tally.problems === 0;
}

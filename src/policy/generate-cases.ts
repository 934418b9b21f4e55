/**
 * Writes policies/cases/<area>.json, the decision cases of the shipped rules (Keystone's defaults
 * and keystone-ts' own, as policies/rego and policies/cedar are generated from):
 * `npm run policy:cases` (node dist/src/policy/generate-cases.js).
 *
 * The inputs are policy-cases.ts's (every rule × role set × token scope × own, foreign, None and
 * missing target values). The expected answers come only from real oslo.policy, run by
 * test/support/oslo_policy_oracle.py under Debian's python3 (python3-oslo.policy and
 * python3-keystone), never from the engines being tested. The directory is generator output:
 * test/policy/decision-cases.test.ts regenerates it and fails when the committed files differ.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectPath } from '../common/paths.js';
import { ALL_SETTINGS, expandCredentials, type OsloSettings, settingName } from './decision-cases.js';
import { loadPolicyRules } from './defaults.js';
import type { Credentials, PolicyInput, PolicyRule } from './pdp.js';
import { casesForRule } from './policy-cases.js';
import { regoArea } from './rego-compile.js';

/** Debian's interpreter, which has python3-oslo.policy and python3-keystone. */
export const ORACLE_PYTHON = '/usr/bin/python3';
export const ORACLE_SCRIPT = projectPath('test', 'support', 'oslo_policy_oracle.py');

export interface OracleCase {
  readonly action: string;
  readonly input: PolicyInput;
}

export interface OracleAnswers {
  /** oslo.policy's version, recorded in the generated files. */
  readonly version: string;
  readonly allow: boolean[];
}

export type Oracle = (settings: OsloSettings, cases: readonly OracleCase[]) => OracleAnswers;

/** Real oslo.policy over `rules`, one python process per call. */
export function pythonOracle(rules: readonly PolicyRule[]): Oracle {
  return (settings, cases) => {
    const request = {
      rules: rules.map(({ name, check_str, scope_types, deprecated }) => ({ name, check_str, scope_types, deprecated })),
      settings: { enforce_scope: settings.enforceScope, enforce_new_defaults: settings.enforceNewDefaults },
      cases,
    };
    const run = spawnSync(ORACLE_PYTHON, [ORACLE_SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (run.status !== 0) {
      throw new Error(`oslo_policy_oracle.py failed (${run.status ?? run.error?.message}):\n${run.stderr}`);
    }
    const answer = JSON.parse(run.stdout) as { version: string; results: { allow: boolean }[] };
    if (answer.results.length !== cases.length) throw new Error(`oslo_policy_oracle.py answered ${answer.results.length} of ${cases.length} cases`);
    return { version: answer.version, allow: answer.results.map((r) => r.allow) };
  };
}

/** A case as written to a file: credentials as {scope, roles}, empty members left out. */
interface WrittenCase {
  readonly action: string;
  readonly label: string;
  readonly input: Record<string, unknown>;
  allow?: boolean | Record<string, boolean>;
}

function scopeOf(creds: Credentials): 'system' | 'domain' | 'project' {
  if (creds.system_scope) return 'system';
  if (creds.domain_id) return 'domain';
  return 'project';
}

function compact(action: string, label: string, input: PolicyInput): WrittenCase {
  const credentials = { scope: scopeOf(input.credentials), roles: input.credentials.roles };
  // The shorthand must stand for exactly the credentials the case was made with.
  if (JSON.stringify(expandCredentials(credentials, label)) !== JSON.stringify(input.credentials)) {
    throw new Error(`${action} ${label}: credentials are not those of the {scope, roles} shorthand`);
  }
  const written: Record<string, unknown> = { credentials };
  for (const key of ['path', 'target', 'request_body', 'filter_attr'] as const) {
    const value = input[key];
    if (value !== undefined && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0)) written[key] = value;
  }
  return { action, label, input: written };
}

function render(description: string, cases: readonly WrittenCase[]): string {
  // One case per line: files stay small and a changed expectation is a one-line diff.
  return `{\n  "description": ${JSON.stringify(description)},\n  "cases": [\n${cases.map((c) => `    ${JSON.stringify(c)}`).join(',\n')}\n  ]\n}\n`;
}

/** File name → content of every case file for `rules`, expectations from `oracle`. */
export function buildCaseFiles(rules: readonly PolicyRule[], oracle: Oracle): Map<string, string> {
  const written: WrittenCase[] = [];
  for (const rule of rules) {
    for (const c of casesForRule(rule.name, rules)) written.push(compact(rule.name, c.label, c.input));
  }
  // The oracle decides the inputs as a loader expands them from the files, not the originals.
  const asLoaded: OracleCase[] = written.map((c) => ({
    action: c.action,
    input: { ...c.input, credentials: expandCredentials(c.input.credentials, c.label) } as unknown as PolicyInput,
  }));
  let version = '';
  const answers = ALL_SETTINGS.map((settings) => {
    const answer = oracle(settings, asLoaded);
    version = answer.version;
    return answer.allow;
  });
  written.forEach((c, i) => {
    const allow = answers.map((a) => a[i]!);
    c.allow = allow.every((a) => a === allow[0]) ? allow[0]! : Object.fromEntries(ALL_SETTINGS.map((s, k) => [settingName(s), allow[k]!]));
  });

  const byArea = new Map<string, WrittenCase[]>();
  for (const c of written) {
    const area = regoArea(c.action);
    byArea.set(area, [...(byArea.get(area) ?? []), c]);
  }
  const files = new Map<string, string>();
  for (const area of [...byArea.keys()].sort()) {
    const description =
      `Decision cases of the shipped ${area} rules, generated by src/policy/generate-cases.ts ` +
      `(npm run policy:cases); expected answers are oslo.policy ${version}'s. Do not edit.`;
    files.set(`${area}.json`, render(description, byArea.get(area)!));
  }
  return files;
}

export function casesDirectory(): string {
  return projectPath('policies', 'cases');
}

function main(): void {
  const rules = loadPolicyRules();
  const files = buildCaseFiles(rules, pythonOracle(rules));
  const dir = casesDirectory();
  mkdirSync(dir, { recursive: true });
  for (const existing of readdirSync(dir)) {
    if (existing.endsWith('.json') && !files.has(existing)) rmSync(path.join(dir, existing));
  }
  let bytes = 0;
  let cases = 0;
  for (const [file, text] of files) {
    writeFileSync(path.join(dir, file), text);
    bytes += Buffer.byteLength(text);
    cases += text.split('\n').filter((line) => line.startsWith('    {')).length;
  }
  console.log(`generate-cases: wrote ${cases} cases in ${files.size} files (${(bytes / 1024).toFixed(0)} KiB) to ${path.relative(process.cwd(), dir) || dir}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();

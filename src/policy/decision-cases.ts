/**
 * Decision-case files: `input → expected allow` under the [oslo_policy] settings, kept as JSON
 * beside a policy bundle (policies/cases/*.json for the shipped one) and run against every engine.
 *
 * File format (docs/policy.md, "Testing a policy bundle"):
 * ```json
 * {"description": "…", "cases": [
 *   {"action": "identity:get_user", "label": "domain[manager] foreign",
 *    "input": {"credentials": {"scope": "domain", "roles": ["manager"]}, "target": {"user": {"id": "x"}}},
 *    "allow": false}
 * ]}
 * ```
 * `input` is the decision input (PolicyInput) with one shorthand: credentials given as
 * `{"scope", "roles", ...}` are expanded by `credentialsFor` (user u-own in domain d-own, project
 * p-own), any other member replacing the generated one. `allow` is a boolean that holds under all
 * four settings, or an object keyed by setting (`"enforce_scope=true,enforce_new_defaults=false"`);
 * settings a case does not list are not checked for it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Credentials, Decision, PolicyEngine, PolicyInput } from './pdp.js';
import { credentialsFor, type Scope, SCOPES } from './policy-cases.js';

export interface OsloSettings {
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
}

export type SettingName = `enforce_scope=${boolean},enforce_new_defaults=${boolean}`;

export function settingName(settings: OsloSettings): SettingName {
  return `enforce_scope=${settings.enforceScope},enforce_new_defaults=${settings.enforceNewDefaults}`;
}

/** The four combinations of the two [oslo_policy] switches, in the order reports use. */
export const ALL_SETTINGS: readonly OsloSettings[] = [
  { enforceScope: true, enforceNewDefaults: true },
  { enforceScope: true, enforceNewDefaults: false },
  { enforceScope: false, enforceNewDefaults: true },
  { enforceScope: false, enforceNewDefaults: false },
];

const SETTING_NAMES = new Set<string>(ALL_SETTINGS.map(settingName));

export interface DecisionCase {
  /** The file the case came from and its position there, for reports. */
  readonly file: string;
  readonly index: number;
  readonly action: string;
  readonly label: string;
  readonly input: PolicyInput;
  readonly expected: ReadonlyMap<SettingName, boolean>;
}

export class CaseFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaseFormatError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Credentials as written in a case: complete, or `{scope, roles}` plus members to replace. */
export function expandCredentials(written: unknown, where: string): Credentials {
  if (!isRecord(written)) throw new CaseFormatError(`${where}: input.credentials must be an object`);
  if (!('scope' in written)) {
    // A complete credentials document: only what every engine and report relies on is checked.
    if (typeof written.user_id !== 'string' || !Array.isArray(written.roles) || !written.roles.every((r) => typeof r === 'string')) {
      throw new CaseFormatError(`${where}: input.credentials needs "user_id" and "roles" (or the shorthand {"scope", "roles"})`);
    }
    return written as unknown as Credentials;
  }
  const { scope, roles, ...rest } = written;
  if (!SCOPES.includes(scope as Scope)) {
    throw new CaseFormatError(`${where}: input.credentials.scope must be one of ${SCOPES.join(', ')}, got ${JSON.stringify(scope)}`);
  }
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw new CaseFormatError(`${where}: input.credentials.roles must be a list of role names`);
  }
  return { ...credentialsFor(scope as Scope, roles as string[]), ...rest } as Credentials;
}

function expectations(allow: unknown, where: string): Map<SettingName, boolean> {
  if (typeof allow === 'boolean') return new Map(ALL_SETTINGS.map((s) => [settingName(s), allow]));
  if (!isRecord(allow) || Object.keys(allow).length === 0) {
    throw new CaseFormatError(`${where}: "allow" must be true, false, or an object of settings → true/false`);
  }
  const expected = new Map<SettingName, boolean>();
  for (const [name, value] of Object.entries(allow)) {
    if (!SETTING_NAMES.has(name)) {
      throw new CaseFormatError(`${where}: unknown setting ${JSON.stringify(name)} in "allow"; use one of ${[...SETTING_NAMES].join(', ')}`);
    }
    if (typeof value !== 'boolean') throw new CaseFormatError(`${where}: "allow"[${JSON.stringify(name)}] must be true or false`);
    expected.set(name as SettingName, value);
  }
  return expected;
}

/** Parses one case file; `file` names it in errors and reports. */
export function parseCaseFile(text: string, file: string): DecisionCase[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CaseFormatError(`${file}: not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(document) || !Array.isArray(document.cases)) throw new CaseFormatError(`${file}: expected an object with a "cases" list`);
  return document.cases.map((written: unknown, index) => {
    const where = `${file} case ${index + 1}`;
    if (!isRecord(written)) throw new CaseFormatError(`${where}: a case must be an object`);
    const { action, label, input, allow } = written;
    if (typeof action !== 'string' || action === '') throw new CaseFormatError(`${where}: "action" must be a rule name`);
    if (label !== undefined && typeof label !== 'string') throw new CaseFormatError(`${where}: "label" must be a string`);
    if (!isRecord(input)) throw new CaseFormatError(`${where}: "input" must be an object`);
    const expanded = { ...input, credentials: expandCredentials(input.credentials, where) } as unknown as PolicyInput;
    return { file, index: index + 1, action, label: label ?? `case ${index + 1}`, input: expanded, expected: expectations(allow, where) };
  });
}

/** Every `*.json` file of a directory, in name order. */
export function loadCaseDirectory(dir: string): DecisionCase[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  return files.flatMap((name) => parseCaseFile(readFileSync(path.join(dir, name), 'utf8'), name));
}

export interface CaseFailure {
  readonly engine: string;
  readonly case: DecisionCase;
  readonly setting: SettingName;
  readonly expected: boolean;
  readonly got: Decision;
}

/**
 * Runs the cases that expect something under `settings` through an engine built for them.
 * Returns the failures and how many decisions were compared.
 */
export function runCases(
  engineName: string,
  engine: PolicyEngine,
  settings: OsloSettings,
  cases: readonly DecisionCase[],
): { decisions: number; failures: CaseFailure[] } {
  const setting = settingName(settings);
  const failures: CaseFailure[] = [];
  let decisions = 0;
  for (const c of cases) {
    const expected = c.expected.get(setting);
    if (expected === undefined) continue;
    decisions += 1;
    let got: Decision;
    try {
      got = engine.decide(c.action, c.input);
    } catch (error) {
      // An engine that throws on a case is a failure of that case, reported like any other.
      got = { allow: false, decisionId: '', violations: [{ field: 'engine', message: `threw: ${(error as Error).message}` }] };
      failures.push({ engine: engineName, case: c, setting, expected, got });
      continue;
    }
    if (got.allow !== expected) failures.push({ engine: engineName, case: c, setting, expected, got });
  }
  return { decisions, failures };
}

/** A failure as an operator reads it: which case, which rule, expected, got, and why. */
export function formatFailure(failure: CaseFailure): string {
  const c = failure.case;
  const verdict = (allow: boolean) => (allow ? 'allow' : 'deny');
  const lines = [
    `FAIL [${failure.engine}] ${c.file} #${c.index} ${JSON.stringify(c.label)}`,
    `  rule:       ${c.action}`,
    `  settings:   ${failure.setting}`,
    `  expected:   ${verdict(failure.expected)}`,
    `  got:        ${verdict(failure.got.allow)}`,
  ];
  if (failure.got.violations.length > 0) {
    lines.push(`  violations: ${failure.got.violations.map((v) => `${v.field}: ${v.message}`).join('\n              ')}`);
  }
  const { credentials, ...rest } = c.input;
  const who = credentials.system_scope ? 'system' : credentials.domain_id ? `domain ${credentials.domain_id}` : `project ${credentials.project_id ?? '(unscoped)'}`;
  lines.push(`  caller:     user ${credentials.user_id}, ${who}, roles [${credentials.roles.join(', ')}]`);
  lines.push(`  input:      ${JSON.stringify(rest)}`);
  return lines.join('\n');
}

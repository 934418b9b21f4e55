import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { projectPath } from '../common/paths.js';
import type { Credentials, Decision, PolicyEngine, PolicyInput, Violation } from './pdp.js';
import { REGO_CONFIG_PATH, REGO_DECISION_ENTRYPOINT, REGO_OVERRIDES_PATH, regoArea, regoPackage } from './rego-compile.js';
import type { CompiledOverride } from './rego-overrides.js';

/**
 * The Rego engine: policies/rego compiled to Wasm by `opa build` (scripts/policy-build.sh) and
 * evaluated in process with opa-wasm. Start-up needs only the .wasm file, never the OPA CLI.
 * The [oslo_policy] switches are OPA data (`data.config.oslo_policy`), so one compiled policy
 * serves every configuration.
 */
export interface RegoEngineOptions {
  readonly wasm: Buffer;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
  /** An operator's policy file compiled by compileRegoOverrides. */
  readonly overrides?: Readonly<Record<string, CompiledOverride>>;
  /**
   * The credential members the rule set reads (see referencedCredentials); the others are left
   * out of the input, since parsing the input is most of the cost of a decision. All when unset.
   */
  readonly credentialKeys?: readonly string[];
}

/** The committed Wasm policy compiled from policies/rego. */
export function readDefaultRegoWasm(): Buffer {
  return readFileSync(projectPath('policies', 'rego.wasm'));
}

interface RegoDecision {
  readonly allow: boolean;
  readonly violations: readonly Violation[];
}

function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value as Record<string, unknown>);
}

/** OPA's data document: the [oslo_policy] switches and the compiled overrides. */
export function regoData(options: Pick<RegoEngineOptions, 'enforceScope' | 'enforceNewDefaults' | 'overrides'>): Record<string, unknown> {
  const switches = { enforce_scope: options.enforceScope, enforce_new_defaults: options.enforceNewDefaults };
  return { ...nest(REGO_CONFIG_PATH, switches), ...nest(REGO_OVERRIDES_PATH, options.overrides ?? {}) };
}

/**
 * The input document as JSON text. Credentials are serialized once per credentials object (they
 * live as long as their validated token), so a decision serializes only the request's own parts.
 * `request` is left out unless a restriction's source ranges need it: no oslo check can read it.
 */
function inputSerializer(credentialKeys: readonly string[] | undefined): (action: string, input: PolicyInput) => string {
  const credentialsJson = new WeakMap<Credentials, string>();
  const serializeCredentials = (creds: Credentials): string => {
    if (!credentialKeys) return JSON.stringify(creds);
    const picked: Record<string, unknown> = {};
    for (const key of credentialKeys) if (key in creds) picked[key] = creds[key as keyof Credentials];
    return JSON.stringify(picked);
  };
  return (action, input) => {
    let creds = credentialsJson.get(input.credentials);
    if (creds === undefined) credentialsJson.set(input.credentials, (creds = serializeCredentials(input.credentials)));
    let text = `{"action":${JSON.stringify(action)},"credentials":${creds}`;
    for (const key of ['path', 'target', 'request_body', 'filter_attr'] as const) {
      const value = input[key];
      if (value !== undefined) text += `,"${key}":${JSON.stringify(value)}`;
    }
    // Only a restriction's source ranges read the request.
    if (input.credentials.restriction?.source_cidrs && input.request) text += `,"request":${JSON.stringify(input.request)}`;
    return `${text}}`;
  };
}

const encoder = new TextEncoder();

function isRegoDecision(value: unknown): value is RegoDecision {
  if (value === null || typeof value !== 'object') return false;
  const d = value as Record<string, unknown>;
  return typeof d.allow === 'boolean' && Array.isArray(d.violations);
}

export async function createRegoEngine(options: RegoEngineOptions): Promise<PolicyEngine> {
  const policy = await loadPolicy(options.wasm);
  const entrypoints = policy.entrypoints as Record<string, number>;
  const root = entrypoints[REGO_DECISION_ENTRYPOINT];
  if (root === undefined) {
    throw new Error(`the Rego policy has no ${REGO_DECISION_ENTRYPOINT} entrypoint; rebuild it with scripts/policy-build.sh`);
  }
  policy.setData(regoData(options));
  const inputJson = inputSerializer(options.credentialKeys);
  // Each area package has its own decision entrypoint: asking the action's package directly
  // evaluates one package instead of all thirty (the root one stays for unknown actions).
  const areaEntrypoints = new Map<string, number>();
  const entrypointFor = (action: string): number => {
    const area = regoArea(action);
    let id = areaEntrypoints.get(area);
    if (id === undefined) {
      id = entrypoints[`${regoPackage(area).replaceAll('.', '/')}/decision`] ?? root;
      areaEntrypoints.set(area, id);
    }
    return id;
  };
  const evaluate = (json: ArrayBuffer, entrypoint: number): RegoDecision | undefined => {
    const results: unknown = policy.evaluate(json, entrypoint);
    const result = Array.isArray(results) ? (results[0] as { result?: unknown } | undefined)?.result : undefined;
    return isRegoDecision(result) ? result : undefined;
  };
  return {
    decide(action, input): Decision {
      const decisionId = randomUUID();
      const json = encoder.encode(inputJson(action, input)).buffer as ArrayBuffer;
      const entrypoint = entrypointFor(action);
      let result = evaluate(json, entrypoint);
      // A package that does not know the action denies without a reason; the root names it.
      if (result && !result.allow && result.violations.length === 0 && entrypoint !== root) result = evaluate(json, root);
      if (!result) {
        // Fail closed: an undefined or malformed decision is a deny, never an allow.
        return { allow: false, decisionId, violations: [{ field: 'policy', message: `the Rego policy gave no decision for ${action}` }] };
      }
      // A set in Rego arrives as an array in an order of OPA's choosing; sort for stable bodies.
      const violations = result.violations
        .map((v) => ({ field: String(v.field), message: String(v.message) }))
        .sort((a, b) => a.field.localeCompare(b.field) || a.message.localeCompare(b.message));
      return { allow: result.allow && violations.length === 0, decisionId, violations };
    },
  };
}

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { projectPath } from '../common/paths.js';
import type { Decision, PolicyEngine, Violation } from './pdp.js';
import { REGO_CONFIG_PATH, REGO_DECISION_ENTRYPOINT } from './rego-compile.js';

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
}

/** The committed Wasm policy compiled from policies/rego. */
export function readDefaultRegoWasm(): Buffer {
  return readFileSync(projectPath('policies', 'rego.wasm'));
}

interface RegoDecision {
  readonly allow: boolean;
  readonly violations: readonly Violation[];
}

function configData(options: RegoEngineOptions): Record<string, unknown> {
  const switches = { enforce_scope: options.enforceScope, enforce_new_defaults: options.enforceNewDefaults };
  return REGO_CONFIG_PATH.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), switches);
}

function isRegoDecision(value: unknown): value is RegoDecision {
  if (value === null || typeof value !== 'object') return false;
  const d = value as Record<string, unknown>;
  return typeof d.allow === 'boolean' && Array.isArray(d.violations);
}

export async function createRegoEngine(options: RegoEngineOptions): Promise<PolicyEngine> {
  const policy = await loadPolicy(options.wasm);
  if (!(REGO_DECISION_ENTRYPOINT in (policy.entrypoints as Record<string, number>))) {
    throw new Error(`the Rego policy has no ${REGO_DECISION_ENTRYPOINT} entrypoint; rebuild it with scripts/policy-build.sh`);
  }
  policy.setData(configData(options));
  return {
    decide(action, input): Decision {
      const decisionId = randomUUID();
      const results: unknown = policy.evaluate({ ...input, action }, REGO_DECISION_ENTRYPOINT);
      const result = Array.isArray(results) ? (results[0] as { result?: unknown } | undefined)?.result : undefined;
      if (!isRegoDecision(result)) {
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

/**
 * Policy bundles as a service: operators upload an oslo.policy rule set (checked by building the
 * deployment's engine over it before anything is stored), and OPA agents of other services pull
 * the policy in force as an OPA bundle.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../common/errors.js';
import { type BundleStore, DEFAULT_BUNDLE } from './bundles.js';
import { buildPolicyEngine, type PolicyEngineKind } from './engines.js';
import { buildOpaBundle, type OpaBundle } from './opa-bundle.js';
import type { PolicyRule } from './pdp.js';
import { parsePolicyFile } from './policy-file.js';
import { compileRegoOverrides } from './rego-overrides.js';

export interface BundleServiceDeps {
  readonly store: BundleStore;
  readonly rules: readonly PolicyRule[];
  readonly engine: PolicyEngineKind;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
  /** The operator's policy file as it reads now ({} without one): part of the default bundle. */
  readonly policyFileOverrides: () => Record<string, string>;
}

export type BundleService = ReturnType<typeof createBundleService>;

const BUNDLE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function createBundleService(deps: BundleServiceDeps) {
  /** Recent archives by content: agents poll often, the policy changes rarely. */
  const built = new Map<string, OpaBundle>();

  return {
    isValidName: (name: string) => BUNDLE_NAME.test(name),

    /**
     * Checks a rule set against the deployment's engine and stores it as the bundle's next
     * revision, which every process then loads. Refused rule sets store nothing.
     */
    async upload(name: string, overrides: Record<string, string>): Promise<number> {
      if (!BUNDLE_NAME.test(name)) throw new ValidationError('Invalid bundle name: 1 to 64 letters, digits, ".", "_" or "-".');
      try {
        await buildPolicyEngine({ kind: deps.engine, rules: deps.rules, overrides, enforceScope: deps.enforceScope, enforceNewDefaults: deps.enforceNewDefaults });
      } catch (error) {
        throw new ValidationError(`The policy was refused: ${error instanceof Error ? error.message : String(error)}`);
      }
      return deps.store.publish(name, 'oslo', JSON.stringify(overrides));
    },

    /**
     * The OPA bundle of `name`: Keystone's rules with the stored overrides, and for the default
     * bundle the policy file's too, as this deployment enforces them. Undefined for an unknown name.
     */
    async opaBundle(name: string): Promise<OpaBundle | undefined> {
      if (!BUNDLE_NAME.test(name)) return undefined;
      const stored = await deps.store.latest(name);
      if (!stored && name !== DEFAULT_BUNDLE) return undefined;
      const overrides = {
        ...(name === DEFAULT_BUNDLE ? deps.policyFileOverrides() : {}),
        ...(stored ? parsePolicyFile(stored.content, `bundle ${stored.name} revision ${stored.revision}.json`) : {}),
      };
      const key = createHash('sha256').update(name).update('\0').update(JSON.stringify(overrides)).digest('hex');
      let bundle = built.get(key);
      if (!bundle) {
        bundle = buildOpaBundle({
          revision: `${name}:${stored?.revision ?? 0}:${key.slice(0, 12)}`,
          enforceScope: deps.enforceScope,
          enforceNewDefaults: deps.enforceNewDefaults,
          overrides: compileRegoOverrides(deps.rules, overrides, deps.enforceNewDefaults),
        });
        if (built.size >= 16) built.delete(built.keys().next().value!);
        built.set(key, bundle);
      }
      return bundle;
    },
  };
}

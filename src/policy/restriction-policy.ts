import { ValidationError } from '../common/errors.js';
import { createCedarPolicyEvaluator, loadCedarBundle } from './cedar-engine.js';
import type { CredentialsRestriction, PolicyEngine } from './pdp.js';

/**
 * A restriction's inline policy: a second policy that must also allow every request made with
 * the restricted token (decision 0009). Cedar only: opa-wasm runs compiled Wasm, and compiling
 * Rego needs the OPA CLI, which the service never runs; a Rego inline policy is refused on write
 * with that reason rather than stored unusable.
 */
export type InlinePolicy = NonNullable<CredentialsRestriction['inline_policy']>;

/** Inline policies are small: a few rules narrowing one token, not a bundle. */
export const INLINE_POLICY_MAX_BYTES = 16 * 1024;

export function createInlinePolicies(options: { readonly enforceScope: boolean; readonly enforceNewDefaults: boolean; readonly schema?: string }) {
  // Built on first use: most deployments never see an inline policy, and engines are rebuilt on every reload.
  let built: ReturnType<typeof createCedarPolicyEvaluator> | undefined;
  const evaluator = () => (built ??= createCedarPolicyEvaluator({ schema: options.schema ?? loadCedarBundle().schema, ...options }));

  return {
    /** Refuses (400) what could never be evaluated: another language, a parse or schema error, too large. */
    async validate(language: InlinePolicy['language'], source: string): Promise<void> {
      if (language === 'rego') {
        throw new ValidationError(
          'Rego inline policies are not supported: keystone-ts evaluates Rego only as Wasm compiled by the OPA CLI, which it does not run; write the inline policy in Cedar.',
        );
      }
      if (Buffer.byteLength(source, 'utf8') > INLINE_POLICY_MAX_BYTES) {
        throw new ValidationError(`The inline policy is larger than ${INLINE_POLICY_MAX_BYTES} bytes.`);
      }
      const problems = evaluator().problems(source);
      if (problems.length > 0) throw new ValidationError(`Invalid Cedar inline policy: ${problems.join('; ')}`);
    },

    /**
     * The engine with inline policies applied: what it allows for a restricted token whose
     * restriction carries one is allowed only if that policy permits it too.
     */
    wrap(engine: PolicyEngine): PolicyEngine {
      return {
        decide(action, input) {
          const decision = engine.decide(action, input);
          const restriction = input.credentials.restriction;
          if (!decision.allow || !restriction?.inline_policy) return decision;
          const inline = restriction.inline_policy;
          if (inline.language !== 'cedar') {
            return { ...decision, allow: false, violations: [{ field: 'credentials.restriction.inline_policy', message: `token restriction ${restriction.id}: only Cedar inline policies can be evaluated` }] };
          }
          const verdict = evaluator().decide(inline.source, action, input);
          if (verdict.allow) return decision;
          const reason = verdict.errors.length > 0 ? `failed: ${verdict.errors.join('; ')}` : `does not permit ${action}`;
          return { ...decision, allow: false, violations: [{ field: 'credentials.restriction.inline_policy', message: `the inline policy of token restriction ${restriction.id} ${reason}` }] };
        },
      };
    },
  };
}

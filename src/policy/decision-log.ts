import type { Metrics } from '../common/metrics.js';
import type { Decision, PolicyEngine, PolicyInput } from './pdp.js';

/**
 * Members whose values never leave the process: passwords, secrets, tokens and the like can sit
 * anywhere in a request body, so masking goes by name at every depth (as OPA's decision-log mask).
 */
const SECRET_NAMES = /password|passcode|secret|^token$|_token$|^blob$|^key$|signature|assertion/i;

export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 16) return '***';
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_NAMES.test(key) && inner !== null && typeof inner !== 'boolean' ? '***' : maskSecrets(inner, depth + 1);
  }
  return out;
}

export interface DecisionLogOptions {
  /** Receives one JSON line per logged decision; undefined: no decision log. */
  readonly write?: (line: string) => void;
  /** Share of allowed decisions logged (0..1); denials are always logged. */
  readonly sampleRate: number;
  readonly revision: () => number;
  readonly metrics: Metrics;
  /**
   * Rule names that may label the decision metrics. Callers of the decision APIs choose action
   * names, and each distinct label is a new Prometheus series: any other name is counted as
   * `other`, so a caller cannot grow the metrics without bound (the log keeps the real name).
   */
  readonly knownActions?: ReadonlySet<string>;
  readonly random?: () => number;
  readonly now?: () => Date;
}

/**
 * Wraps an engine so that every decision, on every exit path, is counted, timed and (sampled)
 * logged with its decision id, and the logged input has its secrets masked before it leaves.
 */
export function observeDecisions(engine: PolicyEngine, options: DecisionLogOptions): PolicyEngine {
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  return {
    decide(action: string, input: PolicyInput): Decision {
      const started = process.hrtime.bigint();
      const decision = engine.decide(action, input);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const label = !options.knownActions || options.knownActions.has(action) ? action : 'other';
      options.metrics.decisions.inc(label, decision.allow ? 'allow' : 'deny');
      options.metrics.decisionLatency.observe(seconds);
      if (options.write && (!decision.allow || random() < options.sampleRate)) {
        options.write(
          JSON.stringify({
            decision_id: decision.decisionId,
            timestamp: now().toISOString(),
            action,
            result: decision.allow,
            violations: decision.violations,
            bundle_revision: options.revision(),
            latency_us: Math.round(seconds * 1e6),
            // Credentials are built by keystone-ts from the validated token and hold ids, names
            // and roles only (their `token` member is Keystone's token view, not a token body):
            // they are logged whole. Everything the caller sent is masked by name.
            input: { ...(maskSecrets({ ...input, credentials: undefined }) as object), credentials: input.credentials },
          }),
        );
      }
      return decision;
    },
  };
}

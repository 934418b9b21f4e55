import type { Metrics } from '../../common/metrics.js';
import type { PolicyEngine } from '../../policy/pdp.js';
import type { Route } from '../http.js';

/**
 * Authorization for other services: the same decision point that guards this API answers
 * "may the holder of this token do <action> to <target>?". The X-Auth-Token is the subject; an
 * X-Service-Token adds its roles as `service_roles`, so composite rules work as they do here.
 */
export function authzRoutes(deps: { policy: PolicyEngine }): Route[] {
  return [
    {
      method: 'POST',
      path: '/v4/authz/decision',
      action: 'keystone_ts:authz_decision',
      authenticated: true,
      requestSchema: 'authz-decision-request',
      statuses: [200, 400, 401, 403],
      async handle(ctx) {
        const body = ctx.body as { action: string; target?: Record<string, unknown>; path?: Record<string, string>; request_body?: unknown; filter_attr?: Record<string, unknown> };
        const decision = deps.policy.decide(body.action, {
          credentials: ctx.caller!.credentials,
          target: body.target ?? {},
          path: body.path ?? {},
          request_body: body.request_body,
          filter_attr: body.filter_attr,
          request: { method: 'POST', path: ctx.path, source: ctx.sourceAddress },
        });
        return { status: 200, body: { allow: decision.allow, violations: decision.violations, decision_id: decision.decisionId } };
      },
    },
  ];
}

/** Prometheus scrapes without a token: the figures are counts and latencies, nothing personal. */
export function metricsRoutes(deps: { metrics: Metrics }): Route[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      action: null,
      authenticated: false,
      statuses: [200],
      handle: async () => ({ status: 200, text: { body: deps.metrics.render(), contentType: 'text/plain; version=0.0.4' } }),
    },
  ];
}

import { KeystoneError, ValidationError } from '../../common/errors.js';
import type { Credentials } from '../../policy/pdp.js';
import type { Caller, RequestContext, Route } from '../http.js';
import { assertedSubject, tokenSubject, type AuthzApiDeps } from './subject.js';

interface Entity {
  type: string;
  id: string;
  properties?: Record<string, unknown>;
}

interface Evaluation {
  subject?: Entity;
  action?: { name: string; properties?: Record<string, unknown> };
  resource?: Entity;
  context?: Record<string, unknown>;
}

interface EvaluationsRequest extends Evaluation {
  evaluations?: Evaluation[];
  options?: { evaluations_semantic?: 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit' };
}

interface EvaluationResponse {
  decision: boolean;
  context: Record<string, unknown>;
}

/** Subject types this PDP understands; see docs/policy.md. */
const TOKEN_SUBJECT = 'keystone_token';
const USER_SUBJECT = 'user';

/** The Credentials members an AuthZEN `user` subject may assert in its properties. */
const CREDENTIAL_PROPERTIES = [
  'user_domain_id', 'project_id', 'project_domain_id', 'domain_id', 'system_scope', 'roles', 'role_ids', 'methods',
  'audit_ids', 'is_admin_project', 'trust_id', 'app_cred_id', 'identity_provider_id', 'protocol_id',
  'service_user_id', 'service_roles', 'token', 'is_admin',
] as const;

/** The spec's X-Request-ID is echoed; an absurdly long one is not worth a response header. */
function requestIdHeader(ctx: RequestContext): Record<string, string> {
  const id = ctx.headers['x-request-id'];
  return typeof id === 'string' && id.length > 0 && id.length <= 1024 ? { 'X-Request-ID': id } : {};
}

function requireMembers(evaluation: Evaluation, at: string): Required<Omit<Evaluation, 'context'>> & Evaluation {
  for (const member of ['subject', 'action', 'resource'] as const) {
    if (evaluation[member] === undefined) {
      const message = `'${member}' is a required property`;
      throw new ValidationError(at ? `Invalid input for field '${at}': ${message}` : message);
    }
  }
  return evaluation as Required<Omit<Evaluation, 'context'>> & Evaluation;
}

/**
 * The OpenID AuthZEN 1.0 Access Evaluation API over the decision point. `action.name` is the
 * policy rule (`identity:get_user`); the resource becomes the target the rule reads
 * (`{"type": "user", "id": "u1", "properties": {"domain_id": "d"}}` → `target.user` and the
 * path value `user_id`); the subject is a `keystone_token` (its id a token, validated) or a
 * `user` whose properties assert the credentials (roles, scope), as the spec's trusted PEP does.
 */
export function authzenRoutes(deps: AuthzApiDeps): Route[] {
  async function subjectCredentials(subject: Entity, caller: Caller, at: string): Promise<Credentials> {
    if (subject.type === TOKEN_SUBJECT) return tokenSubject(deps, subject.id, caller);
    if (subject.type === USER_SUBJECT) {
      const asserted: Record<string, unknown> = { user_id: subject.id };
      for (const name of CREDENTIAL_PROPERTIES) {
        if (subject.properties && Object.hasOwn(subject.properties, name)) asserted[name] = subject.properties[name];
      }
      return assertedSubject(deps, asserted, `${at}subject/properties`);
    }
    throw new ValidationError(
      `Invalid input for field '${at}subject/type': subject type is not supported; use '${TOKEN_SUBJECT}' or '${USER_SUBJECT}'`,
    );
  }

  async function evaluate(evaluation: Required<Omit<Evaluation, 'context'>> & Evaluation, ctx: RequestContext, at: string): Promise<EvaluationResponse> {
    const credentials = await subjectCredentials(evaluation.subject, ctx.caller!, at);
    const { type, id, properties } = evaluation.resource;
    const decision = deps.policy.decide(evaluation.action.name, {
      credentials,
      target: { [type]: { ...properties, id } },
      path: { [`${type}_id`]: id },
      request: { method: ctx.method, path: ctx.path, source: ctx.sourceAddress },
    });
    if (decision.allow) return { decision: true, context: { decision_id: decision.decisionId } };
    return {
      decision: false,
      context: {
        decision_id: decision.decisionId,
        // The spec's reason for administrators; the rule text is not for end users.
        reason_admin: { en: decision.violations.map((v) => v.message).join('; ') },
        violations: decision.violations,
      },
    };
  }

  const common = { action: 'keystone_ts:authzen', authenticated: true, bearerToken: true, requestSchema: 'authzen-request', statuses: [200, 400, 401, 403, 404, 413] } as const;
  return [
    {
      ...common,
      method: 'POST',
      path: '/access/v1/evaluation',
      async handle(ctx) {
        const body = ctx.body as EvaluationsRequest;
        for (const member of ['evaluations', 'options'] as const) {
          if (body[member] !== undefined) {
            throw new ValidationError(`Additional properties are not allowed ('${member}' was unexpected); send it to /access/v1/evaluations`);
          }
        }
        const result = await evaluate(requireMembers(body, ''), ctx, '');
        return { status: 200, body: result, headers: requestIdHeader(ctx) };
      },
    },
    {
      ...common,
      method: 'POST',
      path: '/access/v1/evaluations',
      async handle(ctx) {
        const body = ctx.body as EvaluationsRequest;
        const headers = requestIdHeader(ctx);
        // Without an evaluations array the request is a single evaluation (spec 7.1).
        if (body.evaluations === undefined) return { status: 200, body: await evaluate(requireMembers(body, ''), ctx, ''), headers };
        const defaults = { subject: body.subject, action: body.action, resource: body.resource, context: body.context };
        // The whole payload is checked before anything is decided: a malformed batch is a 400.
        const evaluations = body.evaluations.map((item, i) =>
          requireMembers({ ...defaults, ...Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined)) }, `evaluations/${i}`),
        );
        const semantic = body.options?.evaluations_semantic ?? 'execute_all';
        const results: EvaluationResponse[] = [];
        for (const [i, evaluation] of evaluations.entries()) {
          let result: EvaluationResponse;
          try {
            result = await evaluate(evaluation, ctx, `evaluations/${i}/`);
          } catch (error) {
            // An evaluation that cannot be made is denied with its error (spec 7.2 Errors);
            // anything unexpected still fails the request.
            if (!(error instanceof KeystoneError) || error.status >= 500) throw error;
            result = { decision: false, context: { error: { status: error.status, message: error.message } } };
          }
          results.push(result);
          if ((semantic === 'deny_on_first_deny' && !result.decision) || (semantic === 'permit_on_first_permit' && result.decision)) break;
        }
        return { status: 200, body: { evaluations: results }, headers };
      },
    },
    {
      method: 'GET',
      path: '/.well-known/authzen-configuration',
      action: null,
      authenticated: false,
      statuses: [200],
      // PDP metadata (spec 9): where the endpoints are; nothing about policies or subjects.
      handle: async (ctx) => ({
        status: 200,
        body: {
          policy_decision_point: ctx.baseUrl,
          access_evaluation_endpoint: `${ctx.baseUrl}/access/v1/evaluation`,
          access_evaluations_endpoint: `${ctx.baseUrl}/access/v1/evaluations`,
        },
      }),
    },
  ];
}

import { KeystoneError, ValidationError } from '../../common/errors.js';
import type { OperationMatcher } from '../../policy/operations.js';
import type { PolicyEngine } from '../../policy/pdp.js';
import type { HttpMethod, RequestContext, Route } from '../http.js';

/** Envoy's `http_service.path_prefix`: the original path follows it. */
export const EXT_AUTHZ_PREFIX = '/v4/ext_authz';

/** Set by the proxy (Envoy `authorization_request.headers_to_add`), never forwarded from a client. */
const ACTION_HEADER = 'x-keystone-action';

/**
 * Header values are Latin-1 on the wire; a name outside printable ASCII (a user called 日本)
 * is percent-encoded rather than refused, so an odd name cannot turn an allow into an error.
 */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** The request as the client sent it to the proxy: method, and the path after our prefix. */
function originalPath(ctx: RequestContext): string {
  return ctx.path.slice(EXT_AUTHZ_PREFIX.length) || '/';
}

/**
 * What the path alone says about the target: `/v3/users/{user_id}` names `target.user.id`, as the
 * entity Keystone would load has that id. Other attributes (a user's domain) are not known
 * here, so a rule that needs them denies: the gateway errs on the strict side, and the
 * service behind it still enforces its own policy.
 */
function targetOf(pathValues: Readonly<Record<string, string>>): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(pathValues)) {
    const entity = /^([a-z][a-z0-9_]*)_id$/.exec(name)?.[1];
    if (entity) target[entity] = { id: value };
  }
  return target;
}

/**
 * keystonemiddleware's identity headers (X-User-Id, X-Project-Id, X-Roles, ...), so a service
 * behind Envoy reads the caller as it would behind auth_token. Envoy copies the ones listed in
 * `allowed_upstream_headers` onto the upstream request.
 */
function identityHeaders(ctx: RequestContext, decisionId: string): Record<string, string> {
  const { token, credentials } = ctx.caller!;
  const headers: Record<string, string> = {
    'X-Identity-Status': 'Confirmed',
    'X-User-Id': token.user.id,
    'X-User-Name': token.user.name,
    'X-User-Domain-Id': token.userDomain.id,
    'X-User-Domain-Name': token.userDomain.name,
    'X-Roles': credentials.roles.join(','),
    'X-Is-Admin-Project': credentials.is_admin_project ? 'True' : 'False',
    'X-Keystone-Decision-Id': decisionId,
  };
  const scope = token.scope;
  if (scope.kind === 'project') {
    Object.assign(headers, {
      'X-Project-Id': scope.project.id,
      'X-Project-Name': scope.project.name,
      'X-Project-Domain-Id': scope.domain.id,
      'X-Project-Domain-Name': scope.domain.name,
    });
  } else if (scope.kind === 'domain') {
    Object.assign(headers, { 'X-Domain-Id': scope.domain.id, 'X-Domain-Name': scope.domain.name });
  } else if (scope.kind === 'system') {
    headers['X-System-Scope'] = 'all';
  }
  if (credentials.service_user_id) headers['X-Service-Roles'] = credentials.service_roles.join(',');
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, headerValue(value)]));
}

/**
 * Envoy's ext_authz HTTP service: Envoy sends the original method, `path_prefix` + original path
 * and the allowed headers (X-Auth-Token or `Authorization: Bearer`), with no body. The token is
 * the subject (the route table validates it, 401 otherwise, and checks keystone_ts:ext_authz);
 * the action comes from the proxy's x-keystone-action header, else from the operations the
 * policy rules document. 200 carries the identity headers; 403 the violations, which Envoy
 * passes to the client.
 */
export function extAuthzRoutes(deps: { policy: PolicyEngine; operations: OperationMatcher }): Route[] {
  async function check(ctx: RequestContext) {
    const path = originalPath(ctx);
    const header = ctx.headers[ACTION_HEADER];
    let action: string;
    let pathValues: Readonly<Record<string, string>> = {};
    if (typeof header === 'string' && header !== '') {
      if (header.length > 255) throw new ValidationError(`Invalid input for field '${ACTION_HEADER}': A string is too long`);
      action = header;
    } else {
      const match = deps.operations(ctx.method, path);
      // Unmapped requests are denied: an allow needs a rule that said so.
      if (!match) {
        throw new KeystoneError(403, 'Forbidden', 'You are not authorized to perform the requested action: no policy action is mapped to this request.', {
          extra: { violations: [{ field: 'action', message: `no rule documents this method and path; set ${ACTION_HEADER} in the proxy` }] },
        });
      }
      action = match.action;
      pathValues = match.path;
    }
    const decision = deps.policy.decide(action, {
      credentials: ctx.caller!.credentials,
      path: pathValues,
      target: targetOf(pathValues),
      request: { method: ctx.method, path, source: ctx.sourceAddress },
    });
    if (!decision.allow) {
      throw new KeystoneError(403, 'Forbidden', `You are not authorized to perform the requested action: ${action}.`, {
        extra: { violations: decision.violations, decision_id: decision.decisionId },
      });
    }
    return { status: 200, headers: identityHeaders(ctx, decision.decisionId) };
  }

  // HEAD before GET: express would otherwise hand a HEAD check to the GET route.
  const methods: HttpMethod[] = ['HEAD', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  return methods.map((method) => ({
    method,
    path: `${EXT_AUTHZ_PREFIX}/*original`,
    action: 'keystone_ts:ext_authz',
    authenticated: true,
    bearerToken: true,
    readBody: false,
    statuses: [200, 400, 401, 403, 404],
    // The wildcard's segments as one string: the policy input's path values are strings.
    target: async (ctx) => ({ path: { original: originalPath(ctx) } }),
    handle: check,
  }));
}

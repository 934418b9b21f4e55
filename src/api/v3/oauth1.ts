/**
 * OS-OAUTH1 routes (keystone/api/os_oauth1.py and the OS-OAUTH1 part of keystone/api/users.py).
 * The signed steps (request_token, access_token) are unenforced as upstream: the signature is
 * the credential. The service does the work; this file maps HTTP to it and back.
 */
import { Forbidden, NotFound } from '../../common/errors.js';
import type { RoleRef } from '../../assignment/store.js';
import type { OAuth1Service, SignedHttpRequest } from '../../oauth1/service.js';
import type { AccessTokenRecord, ConsumerRecord } from '../../oauth1/store.js';
import type { RequestContext, Route } from '../http.js';
import { collection } from './resource-views.js';
import { roleDict } from './roles.js';

export interface OAuth1RoutesDeps {
  readonly oauth1: OAuth1Service;
  readonly getRole: (id: string) => Promise<RoleRef | undefined>;
  /** [oauth1] request_token_duration and access_token_duration: 0 leaves oauth_expires_at out. */
  readonly requestTokenDuration: number;
  readonly accessTokenDuration: number;
}

function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A signed request as the signature checks need it. Keystone verifies against the request URL
 * with the base URL's scheme (_update_url_scheme) or, for authentication, against
 * `base_url(path)`; both forms are offered, so a client that signed the catalog's endpoint
 * (`[DEFAULT] public_endpoint` behind a proxy) and one that signed what reached us both verify.
 */
export function signedHttpRequest(ctx: RequestContext): SignedHttpRequest {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(ctx.baseUrl)?.[1] ?? 'http';
  const query = ctx.queryString ? `?${ctx.queryString}` : '';
  return {
    method: ctx.method,
    authorization: header(ctx, 'authorization'),
    queryString: ctx.queryString,
    contentType: header(ctx, 'content-type'),
    uris: [`${scheme}://${header(ctx, 'host') ?? 'localhost'}${ctx.path}${query}`, `${ctx.baseUrl}${ctx.path}`],
  };
}

/** Trust, OAuth1 and application-credential tokens may not delegate further (_block_delegated_token). */
function isDelegated(ctx: RequestContext): boolean {
  const data = ctx.caller!.token.data;
  // A restricted token counts as delegated: it holds less than its user, whose roles OAuth1 hands out.
  return data.trustId !== null || data.accessTokenId !== null || data.restriction !== null || data.methods.includes('application_credential');
}

function blockDelegated(ctx: RequestContext): void {
  if (isDelegated(ctx)) throw new Forbidden('Cannot manage OAuth access tokens with a token issued via delegation.');
}

/** ModelDictMixinWithExtras.to_dict: extra members first; the secret only right after create. */
function consumerDict(ctx: RequestContext, consumer: ConsumerRecord, withSecret: boolean): Record<string, unknown> {
  return {
    ...consumer.extra,
    id: consumer.id,
    description: consumer.description,
    ...(withSecret ? { secret: consumer.secret } : {}),
    links: { self: `${ctx.baseUrl}/v3/OS-OAUTH1/consumers/${consumer.id}` },
  };
}

/** _format_token_entity: no secret, no role ids, a link to the roles and one to itself. */
function accessTokenDict(ctx: RequestContext, token: AccessTokenRecord): Record<string, unknown> {
  const self = `${ctx.baseUrl}/v3/users/${token.authorizing_user_id}/OS-OAUTH1/access_tokens/${token.id}`;
  return {
    id: token.id,
    authorizing_user_id: token.authorizing_user_id,
    project_id: token.project_id,
    consumer_id: token.consumer_id,
    expires_at: token.expires_at,
    links: { roles: `${self}/roles`, self },
  };
}

function bodyObject(ctx: RequestContext, member: string): Record<string, unknown> {
  const value = (ctx.body as Record<string, unknown> | undefined)?.[member];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}

/** Keystone's _normalize_dict: ':' and '-' in member names become '_'. */
function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

function formEncoded(fields: [string, string | null][], status = 201) {
  const body = fields
    .filter((f): f is [string, string] => f[1] !== null)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return { status, text: { body, contentType: 'application/x-www-form-urlencoded' } };
}

export function oauth1Routes(deps: OAuth1RoutesDeps): Route[] {
  const { oauth1 } = deps;

  /** _format_role_entity: the role without description (and enabled), linked to /v3/roles. */
  async function roleEntity(ctx: RequestContext, roleId: string): Promise<Record<string, unknown>> {
    const role = await deps.getRole(roleId);
    if (!role) throw NotFound.entity('role', roleId);
    const { description: _description, ...dict } = roleDict(role);
    return { ...dict, links: { self: `${ctx.baseUrl}/v3/roles/${role.id}` } };
  }

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/OS-OAUTH1/consumers',
        action: 'identity:list_consumers',
        authenticated: true,
        statuses: [200, 401, 403],
        handle: async (ctx) => ({
          status: 200,
          body: collection(ctx, 'consumers', (await oauth1.listConsumers()).map((c) => consumerDict(ctx, c, false)), false),
        }),
      },
      {
        method,
        path: '/v3/OS-OAUTH1/consumers/{consumer_id}',
        action: 'identity:get_consumer',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        handle: async (ctx) => ({ status: 200, body: { consumer: consumerDict(ctx, await oauth1.getConsumer(ctx.params['consumer_id']!), false) } }),
      },
      {
        method,
        path: '/v3/users/{user_id}/OS-OAUTH1/access_tokens',
        action: 'identity:list_access_tokens',
        authenticated: true,
        statuses: [200, 401, 403],
        async handle(ctx) {
          blockDelegated(ctx);
          const tokens = await oauth1.listAccessTokens(ctx.params['user_id']!);
          return { status: 200, body: collection(ctx, 'access_tokens', tokens.map((t) => accessTokenDict(ctx, t)), false) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}',
        action: 'identity:get_access_token',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        async handle(ctx) {
          blockDelegated(ctx);
          const token = await oauth1.getAccessToken(ctx.params['user_id']!, ctx.params['access_token_id']!);
          return { status: 200, body: { access_token: accessTokenDict(ctx, token) } };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles',
        action: 'identity:list_access_token_roles',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        async handle(ctx) {
          const roleIds = await oauth1.accessTokenRoleIds(ctx.params['user_id']!, ctx.params['access_token_id']!);
          const roles = await Promise.all(roleIds.map((id) => roleEntity(ctx, id)));
          return { status: 200, body: collection(ctx, 'roles', roles, false) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}',
        action: 'identity:get_access_token_role',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        async handle(ctx) {
          const roleId = await oauth1.accessTokenRoleId(ctx.params['user_id']!, ctx.params['access_token_id']!, ctx.params['role_id']!);
          return { status: 200, body: { role: await roleEntity(ctx, roleId) } };
        },
      },
    );
  }

  routes.push(
    {
      method: 'POST',
      path: '/v3/OS-OAUTH1/consumers',
      action: 'identity:create_consumer',
      authenticated: true,
      requestSchema: 'consumer-create',
      bodyMember: 'consumer',
      statuses: [201, 400, 401, 403],
      async handle(ctx) {
        const consumer = await oauth1.createConsumer(normalizeKeys(bodyObject(ctx, 'consumer')));
        return { status: 201, body: { consumer: consumerDict(ctx, consumer, true) } };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/OS-OAUTH1/consumers/{consumer_id}',
      action: 'identity:update_consumer',
      authenticated: true,
      requestSchema: 'consumer-update',
      bodyMember: 'consumer',
      statuses: [200, 400, 401, 403, 404],
      async handle(ctx) {
        const consumer = await oauth1.updateConsumer(ctx.params['consumer_id']!, normalizeKeys(bodyObject(ctx, 'consumer')));
        return { status: 200, body: { consumer: consumerDict(ctx, consumer, false) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/OS-OAUTH1/consumers/{consumer_id}',
      action: 'identity:delete_consumer',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      async handle(ctx) {
        await oauth1.deleteConsumer(ctx.params['consumer_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/v3/OS-OAUTH1/request_token',
      action: null,
      authenticated: false,
      // Keystone never reads the body of the signed steps (it signs the query arguments).
      readBody: false,
      statuses: [201, 400, 401, 404],
      async handle(ctx) {
        const token = await oauth1.createRequestToken(signedHttpRequest(ctx), header(ctx, 'requested-project-id'));
        return formEncoded([
          ['oauth_token', token.id],
          ['oauth_token_secret', token.request_secret],
          ['oauth_expires_at', deps.requestTokenDuration > 0 ? token.expires_at : null],
        ]);
      },
    },
    {
      method: 'POST',
      path: '/v3/OS-OAUTH1/access_token',
      action: null,
      authenticated: false,
      readBody: false,
      statuses: [201, 400, 401, 404],
      async handle(ctx) {
        const token = await oauth1.createAccessToken(signedHttpRequest(ctx));
        return formEncoded([
          ['oauth_token', token.id],
          ['oauth_token_secret', token.access_secret],
          ['oauth_expires_at', deps.accessTokenDuration > 0 ? token.expires_at : null],
        ]);
      },
    },
    {
      method: 'PUT',
      path: '/v3/OS-OAUTH1/authorize/{request_token_id}',
      action: 'identity:authorize_request_token',
      authenticated: true,
      requestSchema: 'oauth1-authorize-roles',
      bodyMember: 'roles',
      bodyMemberDefault: [],
      statuses: [200, 400, 401, 403, 404],
      async handle(ctx) {
        const roles = ((ctx.body as Record<string, unknown> | undefined)?.['roles'] ?? []) as { id?: string; name?: string }[];
        const caller = { userId: ctx.caller!.token.user.id, delegated: isDelegated(ctx) };
        const verifier = await oauth1.authorizeRequestToken(ctx.params['request_token_id']!, caller, roles);
        return { status: 200, body: { token: { oauth_verifier: verifier } } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}',
      // Upstream enforces the EC2 credential rule here (identity:delete_access_token never is),
      // with no credential in the target: effectively admin only (spec, interop pitfall 10).
      action: 'identity:ec2_delete_credential',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      async handle(ctx) {
        blockDelegated(ctx);
        await oauth1.deleteAccessToken(ctx.params['user_id']!, ctx.params['access_token_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}

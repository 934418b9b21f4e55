import { ValidationError } from '../../common/errors.js';
import type { RoleRef } from '../../assignment/store.js';
import type { RestrictedTokenIssuer } from '../../token-restriction/exchange.js';
import { mergeRestriction, type TokenRestrictionInput, type TokenRestrictionService } from '../../token-restriction/service.js';
import type { TokenRestrictionRecord } from '../../token-restriction/store.js';
import type { TokenProvider } from '../../token/provider.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';

export interface TokenRestrictionRoutesDeps {
  readonly restrictions: TokenRestrictionService;
  readonly issuer: RestrictedTokenIssuer;
  readonly tokens: Pick<TokenProvider, 'render'>;
  readonly getRoles: (ids: readonly string[]) => Promise<readonly RoleRef[]>;
}

const COLLECTION = '/v4/tokens/restrictions';

/** The request body's `restriction`, already checked against its JSON schema. */
interface RestrictionBody {
  id?: string;
  domain_id?: string;
  user_id?: string | null;
  project_id?: string | null;
  allow_renew?: boolean;
  allow_rescope?: boolean;
  /** Keystone-NG names roles as RoleRefs ({id, name?, domain_id?}); only the ids are read. */
  roles?: { id: string }[];
  role_ids?: string[];
  actions?: string[] | null;
  source_cidrs?: string[] | null;
  max_lifetime?: number | null;
  inline_policy?: { language: 'rego' | 'cedar'; source: string } | null;
}

function inputOf(body: RestrictionBody): TokenRestrictionInput {
  if (body.roles !== undefined && body.role_ids !== undefined) throw new ValidationError("Give either 'roles' (Keystone-NG) or 'role_ids', not both.");
  const roleIds = body.role_ids ?? body.roles?.map((role) => role.id);
  return {
    ...(body.id !== undefined ? { id: body.id } : {}),
    ...(body.domain_id !== undefined ? { domainId: body.domain_id } : {}),
    ...(body.user_id !== undefined ? { userId: body.user_id } : {}),
    ...(body.project_id !== undefined ? { projectId: body.project_id } : {}),
    ...(body.allow_renew !== undefined ? { allowRenew: body.allow_renew } : {}),
    ...(body.allow_rescope !== undefined ? { allowRescope: body.allow_rescope } : {}),
    ...(roleIds !== undefined ? { roleIds } : {}),
    ...(body.actions !== undefined ? { actions: body.actions } : {}),
    ...(body.source_cidrs !== undefined ? { sourceCidrs: body.source_cidrs } : {}),
    ...(body.max_lifetime !== undefined ? { maxLifetime: body.max_lifetime } : {}),
    ...(body.inline_policy !== undefined ? { inlinePolicy: body.inline_policy } : {}),
  };
}

/** The policy's view of a restriction: its stored fields under their API names. */
export function policyView(record: TokenRestrictionRecord): Record<string, unknown> {
  return {
    id: record.id,
    domain_id: record.domainId,
    user_id: record.userId,
    project_id: record.projectId,
    allow_renew: record.allowRenew,
    allow_rescope: record.allowRescope,
    role_ids: record.roleIds,
    actions: record.actions,
    source_cidrs: record.sourceCidrs,
    max_lifetime: record.maxLifetime,
    inline_policy: record.inlinePolicy,
  };
}

function bodyOf(ctx: RequestContext): RestrictionBody {
  return (ctx.body as { restriction: RestrictionBody }).restriction;
}

/**
 * Keystone-NG's /v4/tokens/restrictions (crates/keystone/src/api/v4/token/restriction): NG's
 * fields in NG's order (project_id and user_id left out when null, roles as RoleRefs), then
 * keystone-ts' own: role_ids, actions, source_cidrs, max_lifetime, inline_policy, links.
 */
export function tokenRestrictionRoutes(deps: TokenRestrictionRoutesDeps): Route[] {
  async function render(ctx: RequestContext, record: TokenRestrictionRecord): Promise<Record<string, unknown>> {
    const roles = await deps.getRoles(record.roleIds);
    return {
      allow_renew: record.allowRenew,
      allow_rescope: record.allowRescope,
      domain_id: record.domainId,
      id: record.id,
      ...(record.projectId !== null ? { project_id: record.projectId } : {}),
      ...(record.userId !== null ? { user_id: record.userId } : {}),
      roles: roles.map((role) => ({ id: role.id, name: role.name, ...(role.domain_id !== null ? { domain_id: role.domain_id } : {}) })),
      role_ids: record.roleIds,
      actions: record.actions,
      source_cidrs: record.sourceCidrs,
      max_lifetime: record.maxLifetime,
      inline_policy: record.inlinePolicy,
      links: { self: `${ctx.baseUrl}${COLLECTION}/${record.id}` },
    };
  }

  const currentTarget = async (ctx: RequestContext) => ({ target: { restriction: policyView(await deps.restrictions.get(ctx.params['restriction_id']!)) } });

  const update: Omit<Route, 'method'> = {
    path: `${COLLECTION}/{restriction_id}`,
    action: 'keystone_ts:update_token_restriction',
    authenticated: true,
    requestSchema: 'token-restriction-update',
    bodyMember: 'restriction',
    bodyMemberDefault: REQUIRED,
    statuses: [200, 400, 401, 403, 404],
    // The policy sees the restriction as stored and as it would be, so a rule can require the
    // caller to own both (a user cannot hand their restriction to someone else).
    async target(ctx) {
      const current = await deps.restrictions.get(ctx.params['restriction_id']!);
      const input = inputOf(bodyOf(ctx));
      return { target: { restriction: policyView(current), new_restriction: policyView(mergeRestriction(current, input)) } };
    },
    async handle(ctx) {
      const updated = await deps.restrictions.update(ctx.params['restriction_id']!, inputOf(bodyOf(ctx)));
      return { status: 200, body: { restriction: await render(ctx, updated) } };
    },
  };

  return [
    {
      method: 'GET',
      path: COLLECTION,
      action: 'keystone_ts:list_token_restrictions',
      authenticated: true,
      statuses: [200, 400, 401, 403],
      // A list passes its query as the target: a domain manager lists their domain, a user their own.
      async target(ctx) {
        const { domain_id, user_id, project_id } = ctx.query;
        return { target: { ...(domain_id !== undefined ? { domain_id } : {}), ...(user_id !== undefined ? { user_id } : {}), ...(project_id !== undefined ? { project_id } : {}) } };
      },
      async handle(ctx) {
        const { domain_id, user_id, project_id } = ctx.query;
        const records = await deps.restrictions.list({
          ...(domain_id !== undefined ? { domainId: domain_id } : {}),
          ...(user_id !== undefined ? { userId: user_id } : {}),
          ...(project_id !== undefined ? { projectId: project_id } : {}),
        });
        return { status: 200, body: { restrictions: await Promise.all(records.map((r) => render(ctx, r))), links: { self: `${ctx.baseUrl}${COLLECTION}`, previous: null, next: null } } };
      },
    },
    {
      method: 'POST',
      path: COLLECTION,
      action: 'keystone_ts:create_token_restriction',
      authenticated: true,
      requestSchema: 'token-restriction-create',
      bodyMember: 'restriction',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 409],
      async target(ctx) {
        const body = bodyOf(ctx);
        return { target: { restriction: { domain_id: body.domain_id, user_id: body.user_id ?? null, project_id: body.project_id ?? null } } };
      },
      async handle(ctx) {
        const created = await deps.restrictions.create(inputOf(bodyOf(ctx)));
        return { status: 201, body: { restriction: await render(ctx, created) } };
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION}/{restriction_id}`,
      action: 'keystone_ts:get_token_restriction',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        return { status: 200, body: { restriction: await render(ctx, await deps.restrictions.get(ctx.params['restriction_id']!)) } };
      },
    },
    // Keystone-NG updates with PUT (utoipa `put`), taking only the fields given, which is a
    // PATCH in Keystone v3's terms: both verbs are served, with the same meaning.
    { method: 'PUT', ...update },
    { method: 'PATCH', ...update },
    {
      method: 'DELETE',
      path: `${COLLECTION}/{restriction_id}`,
      action: 'keystone_ts:delete_token_restriction',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await deps.restrictions.delete(ctx.params['restriction_id']!);
        return { status: 204 };
      },
    },
    {
      // Down-scoping by the holder. Keystone-NG has no such route (it issues restricted tokens
      // only through federation mappings); as a sub-resource of the restriction it names what
      // is exchanged for what, and answers like POST /v3/auth/tokens.
      method: 'POST',
      path: `${COLLECTION}/{restriction_id}/tokens`,
      action: 'keystone_ts:create_restricted_token',
      authenticated: true,
      statuses: [201, 400, 401, 403, 404],
      // The restriction as target, so an operator's rule can say which ones may be used.
      target: currentTarget,
      async handle(ctx) {
        const issued = await deps.issuer.exchange(ctx.caller!.token, ctx.params['restriction_id']!);
        const body = await deps.tokens.render(issued.token, { includeCatalog: !('nocatalog' in ctx.query) });
        return { status: 201, body, headers: { 'X-Subject-Token': issued.tokenText }, trailingNewline: false };
      },
    },
  ];
}

import { ForbiddenAction, NotFound } from '../../common/errors.js';
import { keystoneIsoTime } from '../../common/time.js';
import type { RoleRef } from '../../assignment/store.js';
import type { TrustRecord } from '../../trust/store.js';
import type { TrustCreateRequest, TrustService } from '../../trust/service.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { collection } from './resource-views.js';
import { roleMember } from './roles.js';

export interface TrustRoutesDeps {
  readonly trusts: TrustService;
  readonly getRole: (id: string) => Promise<RoleRef | undefined>;
  /** [security_compliance] allow_insecure_application_credential_trust_escalation. */
  readonly allowApplicationCredentialTrusts: boolean;
}

/** TrustModel.to_dict, attribute order included; expires_at as utils.isotime(subsecond=True). */
function trustDict(trust: TrustRecord): Record<string, unknown> {
  return {
    id: trust.id,
    trustor_user_id: trust.trustorUserId,
    trustee_user_id: trust.trusteeUserId,
    project_id: trust.projectId,
    impersonation: trust.impersonation,
    expires_at: trust.expiresAt ? keystoneIsoTime(trust.expiresAt) : null,
    remaining_uses: trust.remainingUses,
    deleted_at: trust.deletedAt ? keystoneIsoTime(trust.deletedAt) : null,
    redelegated_trust_id: trust.redelegatedTrustId,
    redelegation_count: trust.redelegationCount,
  };
}

const selfLink = (ctx: RequestContext, id: string) => ({ self: `${ctx.baseUrl}/v3/OS-TRUST/trusts/${id}` });

export function trustRoutes(deps: TrustRoutesDeps): Route[] {
  const { trusts } = deps;

  /**
   * _check_application_credential: a credential bound to one project must not read or steer the
   * delegation chain, whatever its `unrestricted` flag.
   */
  function refuseApplicationCredential(ctx: RequestContext): void {
    if (deps.allowApplicationCredentialTrusts) return;
    if (ctx.caller!.token.data.methods.includes('application_credential')) {
      throw new ForbiddenAction("Using method 'application_credential' is not allowed for managing trusts.");
    }
  }

  /** _normalize_trust_roles: full roles with links (vanished roles skipped) and the quirky roles_links. */
  async function rolesOf(ctx: RequestContext, trust: TrustRecord) {
    const roles: Record<string, unknown>[] = [];
    for (const id of trust.roleIds) {
      const role = await deps.getRole(id);
      if (role) roles.push(roleMember(ctx, role));
    }
    // Upstream builds this link without the OS-TRUST/trusts prefix (spec 5.4).
    return { roles, roles_links: { self: `${ctx.baseUrl}/v3/${trust.id}/roles`, next: null, previous: null } };
  }

  async function member(ctx: RequestContext, trust: TrustRecord) {
    return { trust: { ...trustDict(trust), ...(await rolesOf(ctx, trust)), links: selfLink(ctx, trust.id) } };
  }

  /** _build_trust_target_enforcement: the trust is read before policy, so a missing one is 404. */
  const trustTarget = async (ctx: RequestContext) => ({ target: { trust: trustDict(await trusts.get(ctx.params['trust_id']!)) } });

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/OS-TRUST/trusts',
        action: 'identity:list_trusts',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => {
          const { trustor_user_id: trustor, trustee_user_id: trustee } = ctx.query;
          if (trustor) return { target: { trust: { trustor_user_id: trustor } } };
          if (trustee) return { target: { trust: { trustee_user_id: trustee } } };
          return {};
        },
        // The filter decides the rule: a user may list the trusts where they are trustor or trustee.
        actions: (ctx) =>
          ctx.query['trustor_user_id'] ? ['identity:list_trusts_for_trustor'] : ctx.query['trustee_user_id'] ? ['identity:list_trusts_for_trustee'] : ['identity:list_trusts'],
        async handle(ctx) {
          refuseApplicationCredential(ctx);
          const { trustor_user_id: trustor, trustee_user_id: trustee } = ctx.query;
          let found: TrustRecord[];
          if (trustor) found = await trusts.list({ trustorUserId: trustor });
          else if (trustee) found = await trusts.list({ trusteeUserId: trustee });
          // Any other query argument lists nothing, as upstream's `if not flask.request.args`.
          else found = ctx.queryString === '' ? await trusts.list() : [];
          const members = found.map((t) => ({ ...trustDict(t), links: selfLink(ctx, t.id) }));
          return { status: 200, body: collection(ctx, 'trusts', members, false) };
        },
      },
      {
        method,
        path: '/v3/OS-TRUST/trusts/{trust_id}',
        action: 'identity:get_trust',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: trustTarget,
        async handle(ctx) {
          refuseApplicationCredential(ctx);
          return { status: 200, body: await member(ctx, await trusts.get(ctx.params['trust_id']!)) };
        },
      },
      {
        method,
        path: '/v3/OS-TRUST/trusts/{trust_id}/roles',
        action: 'identity:list_roles_for_trust',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: trustTarget,
        async handle(ctx) {
          refuseApplicationCredential(ctx);
          const { roles, roles_links } = await rolesOf(ctx, await trusts.get(ctx.params['trust_id']!));
          return { status: 200, body: { roles, links: roles_links } };
        },
      },
      {
        method,
        path: '/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}',
        action: 'identity:get_role_for_trust',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: trustTarget,
        async handle(ctx) {
          refuseApplicationCredential(ctx);
          const trust = await trusts.get(ctx.params['trust_id']!);
          const roleId = ctx.params['role_id']!;
          const role = trust.roleIds.includes(roleId) ? await deps.getRole(roleId) : undefined;
          if (!role) throw NotFound.entity('role', roleId);
          return { status: 200, body: { role: roleMember(ctx, role) } };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/OS-TRUST/trusts',
      action: 'identity:create_trust',
      authenticated: true,
      requestSchema: 'trust-create',
      bodyMember: 'trust',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 404],
      target: async (ctx) => ({ target: { trust: (ctx.body as { trust?: unknown } | undefined)?.trust ?? {} } }),
      async handle(ctx) {
        refuseApplicationCredential(ctx);
        const token = ctx.caller!.token;
        const data = token.data;
        // is_delegated_auth: only a trust token may create a trust from a delegation (redelegation).
        if (!data.trustId && (data.accessTokenId || data.appCredId)) throw new ForbiddenAction('Redelegation allowed for delegated by trust only');
        // A trust delegates the trustor's roles, which a restricted token does not hold in full.
        if (data.restriction) throw new ForbiddenAction('Using a restricted token to create a trust is not allowed.');
        const request = (ctx.body as { trust: TrustCreateRequest }).trust;
        const created = await trusts.create(request, { userId: token.user.id, parentTrustId: data.trustId ?? null });
        return { status: 201, body: await member(ctx, created) };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/OS-TRUST/trusts/{trust_id}',
      action: 'identity:delete_trust',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: trustTarget,
      async handle(ctx) {
        refuseApplicationCredential(ctx);
        await trusts.delete(ctx.params['trust_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}

import { Forbidden, ForbiddenAction } from '../../common/errors.js';
import { applyListHints } from '../../common/list-hints.js';
import {
  renderExpiry,
  type ApplicationCredentialService,
  type ApplicationCredentialView,
  type CreateRequest,
} from '../../application-credential/service.js';
import type { AccessRuleRecord } from '../../application-credential/store.js';
import type { IdentityService } from '../../identity/service.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { userDict } from './identity-views.js';
import { collection, filterAttr, listFilters, withSelfLink } from './resource-views.js';
import { roleDict } from './roles.js';

export interface ApplicationCredentialRoutesDeps {
  readonly applicationCredentials: ApplicationCredentialService;
  readonly identity: IdentityService;
}

const APP_CRED_FILTERS = ['name'] as const;
const ACCESS_RULE_FILTERS = ['service', 'path', 'method'] as const;

/** The stored credential as Keystone's driver and manager render it (backends/sql.py _to_dict). */
function appCredDict({ record, roles }: ApplicationCredentialView): Record<string, unknown> {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    user_id: record.userId,
    project_id: record.projectId,
    system: record.system,
    expires_at: renderExpiry(record.expiresAt),
    unrestricted: record.unrestricted,
    roles: roles.map(roleDict),
    // Only when the credential has any: the relationship is falsy otherwise.
    ...(record.accessRules.length > 0 ? { access_rules: record.accessRules.map(accessRuleDict) } : {}),
  };
}

function accessRuleDict(rule: AccessRuleRecord): Record<string, unknown> {
  return { id: rule.id, service: rule.service, path: rule.path, method: rule.method };
}

/**
 * Trust- and OAuth1-scoped tokens must not mint credentials that outlive their delegation
 * (_block_delegated_token_app_creds); application-credential tokens are judged by
 * `unrestricted` instead.
 */
function blockDelegatedTokens(ctx: RequestContext): void {
  const data = ctx.caller!.token.data;
  // A restricted token (payload 11) holds less than its user: a credential made with it would
  // carry the user's roles, not the token's, and outlive the restriction.
  if (data.trustId || data.accessTokenId || data.restriction) throw new Forbidden('Cannot manage application credentials with a token issued via delegation.');
}

/**
 * A restricted credential cannot make or remove credentials: otherwise a leaked one could
 * replace itself with a credential its owner does not know of (_check_unrestricted_application_credential).
 */
function refuseRestrictedApplicationCredential(ctx: RequestContext): void {
  const token = ctx.caller!.token;
  if (token.data.methods.includes('application_credential') && !token.applicationCredential?.unrestricted) {
    throw new ForbiddenAction("Using method 'application_credential' is not allowed for managing additional application credentials.");
  }
}

export function applicationCredentialRoutes(deps: ApplicationCredentialRoutesDeps): Route[] {
  const { applicationCredentials: appCreds, identity } = deps;
  const member = (ctx: RequestContext, dict: Record<string, unknown>) => ({ application_credential: withSelfLink(ctx, 'application_credentials', dict) });

  /**
   * _update_request_user_id_attribute: the rule's `user_id` is the credential's owner, not the
   * path's, or anyone could read or delete a credential by putting their own id in the path.
   */
  const ownerTarget = async (ctx: RequestContext) => {
    const found = await appCreds.find(ctx.params['application_credential_id']!);
    return found ? { path: { user_id: found.userId }, target: { user_id: found.userId } } : {};
  };

  /** _build_user_target_enforcement: the user when it exists (existence is checked after policy). */
  const userTarget = async (ctx: RequestContext) => {
    const user = await identity.showUser(ctx.params['user_id']!).catch(() => undefined);
    return { target: user ? { user: userDict(user) } : {} };
  };

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/users/{user_id}/application_credentials',
        action: 'identity:list_application_credentials',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ filter_attr: filterAttr(ctx, APP_CRED_FILTERS) }),
        async handle(ctx) {
          blockDelegatedTokens(ctx);
          const dicts = (await appCreds.list(ctx.params['user_id']!)).map(appCredDict);
          const { records } = applyListHints(dicts, listFilters(ctx, APP_CRED_FILTERS), null);
          return { status: 200, body: collection(ctx, 'application_credentials', records.map((d) => withSelfLink(ctx, 'application_credentials', d)), false) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/application_credentials/{application_credential_id}',
        action: 'identity:get_application_credential',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: ownerTarget,
        async handle(ctx) {
          blockDelegatedTokens(ctx);
          return { status: 200, body: member(ctx, appCredDict(await appCreds.get(ctx.params['application_credential_id']!))) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/access_rules',
        action: 'identity:list_access_rules',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ ...(await userTarget(ctx)), filter_attr: filterAttr(ctx, ACCESS_RULE_FILTERS) }),
        async handle(ctx) {
          blockDelegatedTokens(ctx);
          const dicts = (await appCreds.listAccessRules(ctx.params['user_id']!)).map(accessRuleDict);
          const { records } = applyListHints(dicts, listFilters(ctx, ACCESS_RULE_FILTERS), null);
          return { status: 200, body: collection(ctx, 'access_rules', records.map((d) => withSelfLink(ctx, 'access_rules', d)), false) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/access_rules/{access_rule_id}',
        action: 'identity:get_access_rule',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: userTarget,
        async handle(ctx) {
          blockDelegatedTokens(ctx);
          const rule = await appCreds.getAccessRule(ctx.params['user_id']!, ctx.params['access_rule_id']!);
          return { status: 200, body: { access_rule: withSelfLink(ctx, 'access_rules', accessRuleDict(rule)) } };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/users/{user_id}/application_credentials',
      action: 'identity:create_application_credential',
      authenticated: true,
      requestSchema: 'application-credential-create',
      bodyMember: 'application_credential',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 404, 409],
      async handle(ctx) {
        blockDelegatedTokens(ctx);
        refuseRestrictedApplicationCredential(ctx);
        const token = ctx.caller!.token;
        const userId = ctx.params['user_id']!;
        if (token.user.id !== userId) throw new ForbiddenAction('Cannot create an application credential for another user.');
        const request = (ctx.body as { application_credential: CreateRequest }).application_credential;
        const created = await appCreds.create(request, {
          userId,
          projectId: token.scope.kind === 'project' ? token.scope.project.id : null,
          tokenRoleIds: token.roles.map((r) => r.id),
        });
        return { status: 201, body: member(ctx, { ...appCredDict(created), secret: created.secret }) };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/{user_id}/application_credentials/{application_credential_id}',
      action: 'identity:delete_application_credential',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: ownerTarget,
      async handle(ctx) {
        blockDelegatedTokens(ctx);
        refuseRestrictedApplicationCredential(ctx);
        await appCreds.delete(ctx.params['application_credential_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/{user_id}/access_rules/{access_rule_id}',
      action: 'identity:delete_access_rule',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: userTarget,
      async handle(ctx) {
        blockDelegatedTokens(ctx);
        await appCreds.deleteAccessRule(ctx.params['user_id']!, ctx.params['access_rule_id']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}

import { Forbidden, TokenNotFound } from '../../common/errors.js';
import type { Authenticator } from '../../auth/authenticate.js';
import type { AssignmentService } from '../../assignment/service.js';
import type { AssignmentStore } from '../../assignment/store.js';
import type { CatalogProvider } from '../../catalog/catalog.js';
import type { IdentityService } from '../../identity/service.js';
import type { ResourceStore } from '../../resource/store.js';
import type { TokenProvider, ValidatedToken } from '../../token/provider.js';
import type { RequestContext, Route } from '../http.js';
import { signedHttpRequest } from './oauth1.js';
import { InsufficientAuthMethods } from '../../auth/mfa.js';
import type { ReceiptReplies } from '../../receipt/handlers.js';

export interface AuthRoutesDeps {
  readonly authenticator: Authenticator;
  readonly tokens: TokenProvider;
  readonly identity: IdentityService;
  readonly resource: ResourceStore;
  readonly assignments: AssignmentStore;
  readonly assignment: AssignmentService;
  readonly catalog: CatalogProvider;
  /** MFA: the 401 carrying an auth receipt; absent, unmet MFA rules are a plain 401. */
  readonly receipts?: ReceiptReplies;
}

/** oslo's bool_from_string, as `?allow_expired=` is read (spec 3.2). */
function truthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.trim().toLowerCase());
}

function subjectHeader(ctx: RequestContext): string {
  const subject = ctx.headers['x-subject-token'];
  if (typeof subject !== 'string' || subject === '') throw new TokenNotFound('No token in the request');
  return subject;
}

function collectionLinks(ctx: RequestContext, path: string): { self: string; previous: null; next: null } {
  return { self: `${ctx.baseUrl}${path}`, previous: null, next: null };
}

export function authRoutes(deps: AuthRoutesDeps): Route[] {
  /** Subject tokens are validated before policy: the rule needs `target.token.user_id`. */
  const subjectTarget = async (ctx: RequestContext) => {
    const accessRules = ctx.headers['openstack-identity-access-rules'];
    const subject = await deps.tokens.validate(subjectHeader(ctx), {
      allowExpired: truthy(ctx.query['allow_expired']),
      accessRulesVersion: typeof accessRules === 'string' ? accessRules : null,
    });
    subjects.set(ctx, subject);
    return { target: { token: { user_id: subject.user.id, user: { domain: { id: subject.userDomain.id } } } } };
  };
  const subjects = new WeakMap<RequestContext, ValidatedToken>();

  const validateReply = async (ctx: RequestContext) => {
    const subject = subjects.get(ctx)!;
    const json = await deps.tokens.renderJson(subject, { includeCatalog: !('nocatalog' in ctx.query) });
    return { status: 200, json, headers: { 'X-Subject-Token': subjectHeader(ctx) }, trailingNewline: false };
  };

  async function userProjects(ctx: RequestContext) {
    const token = ctx.caller!.token;
    const groupIds = await deps.identity.listGroupIds(token.user.id);
    const ids = await deps.assignments.projectIdsWithGrants(token.user.id, groupIds);
    const projects = [];
    for (const id of ids.sort()) {
      const project = await deps.resource.getProject(id);
      if (!project) continue;
      projects.push({
        ...project.extra,
        id: project.id,
        name: project.name,
        domain_id: project.domain_id,
        description: project.description,
        enabled: project.enabled,
        parent_id: project.parent_id,
        is_domain: project.is_domain,
        links: { self: `${ctx.baseUrl}/v3/projects/${project.id}` },
      });
    }
    return projects;
  }

  async function userDomains(ctx: RequestContext) {
    const token = ctx.caller!.token;
    const groupIds = await deps.identity.listGroupIds(token.user.id);
    const ids = await deps.assignments.domainIdsWithGrants(token.user.id, groupIds);
    const domains = [];
    for (const id of ids.sort()) {
      const domain = await deps.resource.getDomain(id);
      if (!domain) continue;
      domains.push({ ...domain.extra, id: domain.id, name: domain.name, description: domain.description, enabled: domain.enabled, links: { self: `${ctx.baseUrl}/v3/domains/${domain.id}` } });
    }
    return domains;
  }

  const routes: Route[] = [
    {
      method: 'POST',
      path: '/v3/auth/tokens',
      action: null,
      authenticated: false,
      requestSchema: 'auth-tokens-request',
      bodyMember: 'auth',
      statuses: [201, 400, 401, 403, 404, 413],
      async handle(ctx) {
        const auth = (ctx.body as Record<string, unknown> | undefined)?.['auth'];
        // The oauth1 method verifies the request's own OAuth signature (URL, headers).
        const receipt = ctx.headers['openstack-auth-receipt'];
        let issued;
        try {
          issued = await deps.authenticator.authenticate(auth, signedHttpRequest(ctx), typeof receipt === 'string' ? receipt : undefined);
        } catch (error) {
          // Every method succeeded but the user's MFA rules want more: a receipt, not an error (spec 1.7).
          if (error instanceof InsufficientAuthMethods && deps.receipts) return deps.receipts.reply(error.userId, error.methods);
          throw error;
        }
        const body = await deps.tokens.render(issued.token, { includeCatalog: !('nocatalog' in ctx.query), methodsAsIssued: issued.methods });
        return { status: 201, body, headers: { 'X-Subject-Token': issued.tokenText }, trailingNewline: false };
      },
    },
    {
      method: 'GET',
      path: '/v3/auth/tokens',
      action: 'identity:validate_token',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: subjectTarget,
      handle: validateReply,
    },
    {
      method: 'HEAD',
      path: '/v3/auth/tokens',
      action: 'identity:check_token',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: subjectTarget,
      handle: validateReply,
    },
    {
      method: 'DELETE',
      path: '/v3/auth/tokens',
      action: 'identity:revoke_token',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: subjectTarget,
      async handle(ctx) {
        await deps.tokens.revoke(subjects.get(ctx)!);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v3/auth/tokens/OS-PKI/revoked',
      action: null,
      authenticated: false,
      statuses: [403],
      async handle() {
        // PKI tokens are long gone; Keystone answers 403 here (410 with revoke_by_id=false).
        throw new Forbidden('PKI revocation lists are not supported');
      },
    },
  ];

  const discovery: { path: string; action: string; handle: (ctx: RequestContext) => Promise<unknown> }[] = [
    {
      path: '/v3/auth/catalog',
      action: 'identity:get_auth_catalog',
      async handle(ctx) {
        const token = ctx.caller!.token;
        // Keystone serves the catalog only for project-scoped tokens (403 otherwise).
        if (token.scope.kind !== 'project') throw new Forbidden('catalog requires a project-scoped token');
        const catalog = await deps.catalog.catalogFor({ userId: token.user.id, projectId: token.scope.project.id });
        return { catalog, links: { self: `${ctx.baseUrl}/v3/auth/catalog` } };
      },
    },
    {
      path: '/v3/auth/projects',
      action: 'identity:get_auth_projects',
      handle: async (ctx) => ({ projects: await userProjects(ctx), links: collectionLinks(ctx, '/v3/auth/projects') }),
    },
    {
      path: '/v3/OS-FEDERATION/projects',
      action: 'identity:get_auth_projects',
      handle: async (ctx) => ({ projects: await userProjects(ctx), links: collectionLinks(ctx, '/v3/OS-FEDERATION/projects') }),
    },
    {
      path: '/v3/auth/domains',
      action: 'identity:get_auth_domains',
      handle: async (ctx) => ({ domains: await userDomains(ctx), links: collectionLinks(ctx, '/v3/auth/domains') }),
    },
    {
      path: '/v3/OS-FEDERATION/domains',
      action: 'identity:get_auth_domains',
      handle: async (ctx) => ({ domains: await userDomains(ctx), links: collectionLinks(ctx, '/v3/OS-FEDERATION/domains') }),
    },
    {
      path: '/v3/auth/system',
      action: 'identity:get_auth_system',
      async handle(ctx) {
        const token = ctx.caller!.token;
        const roles = await deps.assignment.effectiveRolesOnSystem(token.user.id, await deps.identity.listGroupIds(token.user.id));
        return { system: roles.length > 0 ? [{ all: true }] : [], links: collectionLinks(ctx, '/v3/auth/system') };
      },
    },
  ];
  for (const entry of discovery) {
    for (const method of ['GET', 'HEAD'] as const) {
      routes.push({
        method,
        path: entry.path,
        action: entry.action,
        authenticated: true,
        statuses: [200, 401, 403],
        handle: async (ctx) => ({ status: 200, body: await entry.handle(ctx) }),
      });
    }
  }
  return routes;
}

/**
 * /v3/credentials (keystone/api/credentials.py), the OS-EC2 credentials under
 * /v3/users/{user_id} (keystone/api/users.py) and EC2/S3 token validation (keystone/api/
 * ec2tokens.py, s3tokens.py).
 *
 * Besides the route's rule, Keystone decides some things per request, and so do these routes:
 * a credential list keeps only what `identity:get_credential` lets the caller see; an update is
 * checked again against the credential as it would be after the change, so an owner cannot
 * hand a credential to someone else; delegated tokens (trust, application credential, OAuth1)
 * stay within the project they were delegated for.
 */
import { ForbiddenAction, NotFound, Unauthorized } from '../../common/errors.js';
import type { Ec2Authenticator, SignatureKind } from '../../credential/ec2-auth.js';
import {
  assertDelegationScope,
  credentialDict,
  credentialTarget,
  EC2,
  ec2View,
  hashAccessKey,
  type Credential,
  type CredentialService,
  type Delegation,
} from '../../credential/service.js';
import type { User } from '../../identity/service.js';
import type { PolicyEngine, PolicyInput } from '../../policy/pdp.js';
import type { ProjectRef } from '../../resource/store.js';
import type { TokenProvider } from '../../token/provider.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { collection, filterAttr, listFilters, withSelfLink } from './resource-views.js';

export interface CredentialRoutesDeps {
  readonly credentials: CredentialService;
  /** The policy in force, for the decisions Keystone makes inside the handlers. */
  readonly policy: PolicyEngine;
  readonly getUser: (id: string) => Promise<User | undefined>;
  readonly getProject: (id: string) => Promise<ProjectRef | undefined>;
  readonly ec2: Ec2Authenticator;
  readonly tokens: TokenProvider;
  /** Whether an application credential is unrestricted; without it every one counts as restricted. */
  readonly isUnrestrictedAppCred?: (id: string) => Promise<boolean>;
}

const CREDENTIAL_FILTERS = ['user_id', 'type'] as const;
const CREDENTIAL_SCOPE_MESSAGE = 'Credential project does not match the project scope of the delegated token';
const EC2_SCOPE_MESSAGE = 'EC2 credential project does not match the project scope of the delegated token';

function delegationOf(ctx: RequestContext): Delegation {
  const data = ctx.caller!.token.data;
  return { trustId: data.trustId, appCredId: data.appCredId, accessTokenId: data.accessTokenId };
}

function tokenProjectId(ctx: RequestContext): string | null {
  return ctx.caller!.credentials.project_id;
}

function bodyMember(ctx: RequestContext, name: string): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.[name];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

function credentialRef(ctx: RequestContext, credential: Credential): Record<string, unknown> {
  return withSelfLink(ctx, 'credentials', credentialDict(credential));
}

function ec2Ref(ctx: RequestContext, credential: Credential): Record<string, unknown> {
  const view = ec2View(credential);
  return { ...view, links: { self: `${ctx.baseUrl}/v3/users/${view.user_id}/credentials/OS-EC2/${String(view.access)}` } };
}

export function credentialRoutes(deps: CredentialRoutesDeps): Route[] {
  const { credentials } = deps;
  const loaded = new WeakMap<RequestContext, Credential>();

  /** A decision inside a handler, with the route's credentials and request. */
  const allowed = (ctx: RequestContext, action: string, target: PolicyInput['target']) =>
    deps.policy.decide(action, {
      credentials: ctx.caller!.credentials,
      path: ctx.params,
      target,
      request: { method: ctx.method, path: ctx.path, ...(ctx.sourceAddress === undefined ? {} : { source: ctx.sourceAddress }) },
    });

  /**
   * _check_unrestricted_application_credential: a restricted application credential must not
   * mint further credentials (it would outlive and outgrow its own restrictions).
   */
  const assertNotRestrictedAppCred = async (ctx: RequestContext) => {
    const token = ctx.caller!.token.data;
    // An EC2 credential authenticates with its user's roles: a restricted token must not mint one.
    if (token.restriction) throw new ForbiddenAction('Using a restricted token is not allowed for managing additional credentials.');
    if (!token.methods.includes('application_credential')) return;
    const unrestricted = token.appCredId !== null && deps.isUnrestrictedAppCred ? await deps.isUnrestrictedAppCred(token.appCredId) : false;
    if (!unrestricted) throw new ForbiddenAction("Using method 'application_credential' is not allowed for managing additional credentials.");
  };

  /** _build_target_enforcement: the stored credential, or nothing (existence is checked after policy). */
  const currentTarget = async (ctx: RequestContext) => {
    const credential = await credentials.find(ctx.params['credential_id']!);
    if (credential) loaded.set(ctx, credential);
    return { target: credential ? { credential: credentialTarget(credential) } : {} };
  };
  const current = async (ctx: RequestContext) => {
    const credential = loaded.get(ctx) ?? (await credentials.get(ctx.params['credential_id']!));
    assertDelegationScope(delegationOf(ctx), tokenProjectId(ctx), credential.project_id, CREDENTIAL_SCOPE_MESSAGE);
    return credential;
  };

  /**
   * users.py _build_enforcer_target_data_owner_and_user_id_match: the path holds the access key;
   * unlike /v3/credentials, an unknown key is a 404 before policy, as upstream.
   */
  const ec2Target = async (ctx: RequestContext) => {
    const credential = await credentials.get(hashAccessKey(ctx.params['credential_id']!));
    loaded.set(ctx, credential);
    return { target: { credential: credentialTarget(credential) } };
  };
  const ec2Current = async (ctx: RequestContext) => {
    const user = await deps.getUser(ctx.params['user_id']!);
    if (!user) throw NotFound.entity('user', ctx.params['user_id']!);
    const credential = loaded.get(ctx)!;
    if (credential.type !== EC2) throw new Unauthorized('EC2 access key not found.');
    assertDelegationScope(delegationOf(ctx), tokenProjectId(ctx), credential.project_id, EC2_SCOPE_MESSAGE);
    return credential;
  };

  const tokenRoute = (path: string, action: string, kind: SignatureKind): Route => ({
    method: 'POST',
    path,
    action,
    authenticated: true,
    statuses: [200, 400, 401, 403, 404],
    target: async () => ({}),
    async handle(ctx) {
      const issued = await deps.ec2.authenticate(ctx.body, kind);
      const body = await deps.tokens.render(issued.token, { includeCatalog: true });
      // s3tokens mints the token but only hands out its body (swift's s3api wants the roles and catalog).
      return { status: 200, body, trailingNewline: false, ...(kind === 'ec2' ? { headers: { 'X-Subject-Token': issued.tokenText } } : {}) };
    },
  });

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/credentials',
        action: 'identity:list_credentials',
        authenticated: true,
        statuses: [200, 400, 401, 403],
        target: async (ctx) => {
          const caller = ctx.caller!.credentials;
          // Outside system scope the rule is asked about the caller's own credentials; what the
          // caller may really see is decided per credential below.
          return {
            filter_attr: filterAttr(ctx, CREDENTIAL_FILTERS),
            ...(caller.system_scope ? {} : { target: { credential: { user_id: caller.user_id } } }),
          };
        },
        async handle(ctx) {
          const { refs, truncated } = await credentials.list(listFilters(ctx, CREDENTIAL_FILTERS));
          const delegation = delegationOf(ctx);
          const visible = refs.filter((credential) => {
            if (!allowed(ctx, 'identity:get_credential', { credential: credentialTarget(credential) }).allow) return false;
            try {
              assertDelegationScope(delegation, tokenProjectId(ctx), credential.project_id, CREDENTIAL_SCOPE_MESSAGE);
              return true;
            } catch {
              return false;
            }
          });
          return { status: 200, body: collection(ctx, 'credentials', visible.map((c) => credentialRef(ctx, c)), truncated) };
        },
      },
      {
        method,
        path: '/v3/credentials/{credential_id}',
        action: 'identity:get_credential',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        async handle(ctx) {
          return { status: 200, body: { credential: credentialRef(ctx, await current(ctx)) } };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/credentials/OS-EC2',
        action: 'identity:ec2_list_credentials',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: async () => ({}),
        async handle(ctx) {
          const userId = ctx.params['user_id']!;
          if (!(await deps.getUser(userId))) throw NotFound.entity('user', userId);
          const delegation = delegationOf(ctx);
          const refs = (await credentials.listForUser(userId, EC2)).filter((credential) => {
            try {
              assertDelegationScope(delegation, tokenProjectId(ctx), credential.project_id, EC2_SCOPE_MESSAGE);
              return true;
            } catch {
              return false;
            }
          });
          return { status: 200, body: collection(ctx, 'credentials', refs.map((c) => ec2Ref(ctx, c)), false) };
        },
      },
      {
        method,
        path: '/v3/users/{user_id}/credentials/OS-EC2/{credential_id}',
        action: 'identity:ec2_get_credential',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: ec2Target,
        async handle(ctx) {
          return { status: 200, body: { credential: ec2Ref(ctx, await ec2Current(ctx)) } };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/credentials',
      action: 'identity:create_credential',
      authenticated: true,
      requestSchema: 'credential-create',
      bodyMember: 'credential',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 409],
      // The rule sees the credential as sent (less its secret): `user_id` must be the caller's.
      target: async (ctx) => ({ target: { credential: credentialTarget(bodyMember(ctx, 'credential')) } }),
      async handle(ctx) {
        const body = bodyMember(ctx, 'credential');
        if (typeof body['type'] === 'string' && body['type'].toLowerCase() === EC2) await assertNotRestrictedAppCred(ctx);
        const delegation = delegationOf(ctx);
        assertDelegationScope(delegation, tokenProjectId(ctx), body['project_id'] as string | null | undefined, CREDENTIAL_SCOPE_MESSAGE);
        const created = await credentials.create(credentials.newCredential(body, delegation));
        return { status: 201, body: { credential: credentialRef(ctx, created) } };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/credentials/{credential_id}',
      action: 'identity:update_credential',
      authenticated: true,
      requestSchema: 'credential-update',
      bodyMember: 'credential',
      bodyMemberDefault: REQUIRED,
      statuses: [200, 400, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        const id = ctx.params['credential_id']!;
        const existing = await current(ctx);
        const patch = bodyMember(ctx, 'credential');
        credentials.checkUpdate(existing, patch, id);
        // Asked again about the credential as it would be: the owner may not give it away.
        const after = { ...credentialTarget(existing), ...credentialTarget(patch) };
        const decision = allowed(ctx, 'identity:update_credential', { credential: after });
        if (!decision.allow) throw new ForbiddenAction('identity:update_credential', decision.violations);
        const updated = await credentials.update(id, patch);
        return { status: 200, body: { credential: credentialRef(ctx, updated) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/credentials/{credential_id}',
      action: 'identity:delete_credential',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        const credential = await current(ctx);
        await credentials.delete(credential.id);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/v3/users/{user_id}/credentials/OS-EC2',
      action: 'identity:ec2_create_credential',
      authenticated: true,
      statuses: [201, 401, 403, 404],
      target: async (ctx) => ({ target: { credential: { user_id: ctx.params['user_id']! } } }),
      async handle(ctx) {
        await assertNotRestrictedAppCred(ctx);
        const userId = ctx.params['user_id']!;
        if (!(await deps.getUser(userId))) throw NotFound.entity('user', userId);
        const body = ctx.body !== null && typeof ctx.body === 'object' && !Array.isArray(ctx.body) ? (ctx.body as Record<string, unknown>) : {};
        const tenantId = body['tenant_id'];
        // Python renders a missing tenant as "None" in the 404.
        const project = typeof tenantId === 'string' ? await deps.getProject(tenantId) : undefined;
        if (!project) throw NotFound.entity('project', tenantId === undefined || tenantId === null ? 'None' : String(tenantId));
        const delegation = delegationOf(ctx);
        assertDelegationScope(delegation, tokenProjectId(ctx), project.id, EC2_SCOPE_MESSAGE);
        const created = await credentials.createEc2(userId, project.id, delegation.trustId);
        return { status: 201, body: { credential: ec2Ref(ctx, created) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/users/{user_id}/credentials/OS-EC2/{credential_id}',
      action: 'identity:ec2_delete_credential',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: ec2Target,
      async handle(ctx) {
        const credential = await ec2Current(ctx);
        await credentials.delete(credential.id);
        return { status: 204 };
      },
    },
    tokenRoute('/v3/ec2tokens', 'identity:ec2tokens_validate', 'ec2'),
    tokenRoute('/v3/s3tokens', 'identity:s3tokens_validate', 's3'),
  );
  return routes;
}

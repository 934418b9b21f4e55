import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { Unauthorized, ValidationError } from '../../common/errors.js';
import type { TokenProvider, ValidatedToken } from '../../token/provider.js';
import { renderBinding, renderIssuer, type WorkloadService } from '../../workload/service.js';
import { createJwtExchange } from '../../workload/token-exchange.js';
import type { SubjectTokenHandler } from './oauth2-token.js';

interface Deps {
  readonly workload: WorkloadService;
  readonly tokens: Pick<TokenProvider, 'render'>;
}

/** `Authorization: bearer <jwt>`, the scheme case-insensitive (RFC 6750 §2.1). */
function bearer(ctx: RequestContext): string {
  const match = /^bearer +(\S+) *$/i.exec(ctx.headers.authorization ?? '');
  if (!match) throw new Unauthorized('workload login refused: no bearer JWT in Authorization');
  return match[1]!;
}

function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Workload identity federation under Keystone-NG's v4 paths: JWT identity providers and their
 * mappings (binding rules), the JWT login, its dry run, and RFC 8693 token exchange.
 */
export function workloadIdentityRoutes(deps: Deps): Route[] {
  const { workload } = deps;
  const issuerTarget = async (ctx: RequestContext) => ({ target: { identity_provider: renderIssuer(await workload.getIssuer(ctx.params['idp_id']!)) } });
  const mappingTarget = async (ctx: RequestContext) => {
    const { binding, issuer } = await workload.getBinding(ctx.params['mapping_id']!);
    return { target: { mapping: renderBinding(binding, issuer) } };
  };
  const tokenReply = async (tokenText: string, token: ValidatedToken, status: number) => ({
    status,
    body: await deps.tokens.render(token, { includeCatalog: true }),
    headers: { 'X-Subject-Token': tokenText },
    trailingNewline: false,
  });
  return [
    {
      method: 'GET',
      path: '/v4/federation/identity_providers',
      action: 'keystone_ts:list_workload_identity_providers',
      authenticated: true,
      statuses: [200, 401, 403],
      async handle(ctx) {
        const filter = { ...(ctx.query['domain_id'] ? { domain_id: ctx.query['domain_id'] } : {}), ...(ctx.query['name'] ? { name: ctx.query['name'] } : {}) };
        return { status: 200, body: { identity_providers: (await workload.listIssuers(filter)).map(renderIssuer) } };
      },
    },
    {
      method: 'POST',
      path: '/v4/federation/identity_providers',
      action: 'keystone_ts:create_workload_identity_provider',
      authenticated: true,
      requestSchema: 'workload-identity-provider-create',
      bodyMember: 'identity_provider',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ target: { identity_provider: (ctx.body as { identity_provider: Record<string, unknown> }).identity_provider } }),
      async handle(ctx) {
        const issuer = await workload.createIssuer((ctx.body as { identity_provider: Record<string, unknown> }).identity_provider);
        return { status: 201, body: { identity_provider: renderIssuer(issuer) } };
      },
    },
    {
      method: 'GET',
      path: '/v4/federation/identity_providers/{idp_id}',
      action: 'keystone_ts:get_workload_identity_provider',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: issuerTarget,
      handle: async (ctx) => ({ status: 200, body: { identity_provider: renderIssuer(await workload.getIssuer(ctx.params['idp_id']!)) } }),
    },
    {
      method: 'PUT',
      path: '/v4/federation/identity_providers/{idp_id}',
      action: 'keystone_ts:update_workload_identity_provider',
      authenticated: true,
      requestSchema: 'workload-identity-provider-update',
      bodyMember: 'identity_provider',
      bodyMemberDefault: REQUIRED,
      statuses: [200, 400, 401, 403, 404, 409],
      target: issuerTarget,
      async handle(ctx) {
        const issuer = await workload.updateIssuer(ctx.params['idp_id']!, (ctx.body as { identity_provider: Record<string, unknown> }).identity_provider);
        return { status: 200, body: { identity_provider: renderIssuer(issuer) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v4/federation/identity_providers/{idp_id}',
      action: 'keystone_ts:delete_workload_identity_provider',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: issuerTarget,
      async handle(ctx) {
        await workload.deleteIssuer(ctx.params['idp_id']!);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v4/federation/mappings',
      action: 'keystone_ts:list_workload_mappings',
      authenticated: true,
      statuses: [200, 401, 403],
      async handle(ctx) {
        const filter = { ...(ctx.query['idp_id'] ? { issuer_id: ctx.query['idp_id'] } : {}), ...(ctx.query['name'] ? { name: ctx.query['name'] } : {}) };
        const listed = await workload.listBindings(filter);
        const domainId = ctx.query['domain_id'];
        return {
          status: 200,
          body: { mappings: listed.filter(({ issuer }) => !domainId || issuer.domain_id === domainId).map(({ binding, issuer }) => renderBinding(binding, issuer)) },
        };
      },
    },
    {
      method: 'POST',
      path: '/v4/federation/mappings',
      action: 'keystone_ts:create_workload_mapping',
      authenticated: true,
      requestSchema: 'workload-mapping-create',
      bodyMember: 'mapping',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403, 409],
      async target(ctx) {
        const idpId = (ctx.body as { mapping: { idp_id: string } }).mapping.idp_id;
        const issuer = await workload.getIssuer(idpId).catch(() => undefined);
        return { target: { mapping: { idp_id: idpId, domain_id: issuer?.domain_id ?? null } } };
      },
      async handle(ctx) {
        const { binding, issuer } = await workload.createBinding((ctx.body as { mapping: Record<string, unknown> }).mapping);
        return { status: 201, body: { mapping: renderBinding(binding, issuer) } };
      },
    },
    {
      method: 'GET',
      path: '/v4/federation/mappings/{mapping_id}',
      action: 'keystone_ts:get_workload_mapping',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: mappingTarget,
      async handle(ctx) {
        const { binding, issuer } = await workload.getBinding(ctx.params['mapping_id']!);
        return { status: 200, body: { mapping: renderBinding(binding, issuer) } };
      },
    },
    {
      method: 'PUT',
      path: '/v4/federation/mappings/{mapping_id}',
      action: 'keystone_ts:update_workload_mapping',
      authenticated: true,
      requestSchema: 'workload-mapping-update',
      bodyMember: 'mapping',
      bodyMemberDefault: REQUIRED,
      statuses: [200, 400, 401, 403, 404, 409],
      target: mappingTarget,
      async handle(ctx) {
        const { binding, issuer } = await workload.updateBinding(ctx.params['mapping_id']!, (ctx.body as { mapping: Record<string, unknown> }).mapping);
        return { status: 200, body: { mapping: renderBinding(binding, issuer) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v4/federation/mappings/{mapping_id}',
      action: 'keystone_ts:delete_workload_mapping',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: mappingTarget,
      async handle(ctx) {
        await workload.deleteBinding(ctx.params['mapping_id']!);
        return { status: 204 };
      },
    },
    {
      // Keystone-NG's JWT login: no body, the JWT as bearer, the mapping by header (NG's current
      // `openstack-mapping` or the earlier `openstack-mapping-name`).
      method: 'POST',
      path: '/v4/federation/identity_providers/{idp_id}/jwt',
      action: null,
      authenticated: false,
      readBody: false,
      statuses: [200, 401],
      async handle(ctx) {
        const mapping = header(ctx, 'openstack-mapping-name') ?? header(ctx, 'openstack-mapping');
        const { tokenText, token } = await workload.login(ctx.params['idp_id']!, bearer(ctx), mapping);
        return tokenReply(tokenText, token, 200);
      },
    },
    {
      method: 'POST',
      path: '/v4/federation/identity_providers/{idp_id}/simulate',
      action: 'keystone_ts:simulate_workload_login',
      authenticated: true,
      requestSchema: 'workload-simulate',
      statuses: [200, 400, 401, 403, 404],
      target: issuerTarget,
      async handle(ctx) {
        const body = ctx.body as { jwt?: string; claims?: Record<string, unknown>; mapping_name?: string };
        if ((body.jwt === undefined) === (body.claims === undefined)) throw new ValidationError('Give either jwt or claims.');
        return { status: 200, body: { simulation: await workload.simulate(ctx.params['idp_id']!, body) } };
      },
    },
  ];
}

/**
 * RFC 8693 exchange of a workload JWT (subject_token_type urn:ietf:params:oauth:token-type:jwt),
 * one handler of the /v4/oauth2/token dispatcher: RFC 8693's members, X-Subject-Token, and
 * Keystone's token body as the JWT login answers it.
 */
export function jwtSubjectTokenHandler(deps: Deps): SubjectTokenHandler {
  const exchange = createJwtExchange(deps.workload);
  return async (request) => {
    const { tokenText, token } = await exchange(Object.fromEntries(request.params));
    return { tokenText, expiresAt: token.data.expiresAt, tokenBody: await deps.tokens.render(token, { includeCatalog: true }) };
  };
}

/**
 * The OS-FEDERATION object API as Keystone serves it (keystone/api/os_federation.py): identity
 * providers, their protocols, mappings and service providers. Federated login itself (the
 * protocol `auth` route, websso, SAML) is not here.
 *
 * Policy targets follow schemas/policy-input.json: a list gets its honoured filters as
 * `filter_attr`, a show or delete the stored record, a create the record about to be stored, an
 * update the stored record and the body as `request_body`.
 */
import { applyListHints } from '../../common/list-hints.js';
import type { FederationService } from '../../federation/service.js';
import type { IdentityProviderRecord, MappingRecord, ProtocolRecord, ServiceProviderRecord } from '../../federation/store.js';
import type { PolicyInput } from '../../policy/pdp.js';
import type { HttpMethod, RequestContext, Route } from '../http.js';
import { collection, filterAttr, listFilters } from './resource-views.js';

export interface FederationRoutesDeps {
  readonly federation: FederationService;
}

type Target = Omit<PolicyInput, 'credentials'>;

const IDPS = '/v3/OS-FEDERATION/identity_providers';
const IDP = `${IDPS}/{idp_id}`;
const PROTOCOLS = `${IDP}/protocols`;
const PROTOCOL = `${PROTOCOLS}/{protocol_id}`;
const MAPPINGS = '/v3/OS-FEDERATION/mappings';
const MAPPING = `${MAPPINGS}/{mapping_id}`;
const SPS = '/v3/OS-FEDERATION/service_providers';
const SP = `${SPS}/{service_provider_id}`;

/** The list filters Keystone honours for identity and service providers. */
const PROVIDER_FILTERS = ['id', 'enabled'] as const;

/**
 * ks_flask.base_url(path): `<base>/v3/<path>`, where a path starting with "v3" loses it
 * (Keystone strips a leading version from the path it is given).
 */
function keystoneUrl(ctx: RequestContext, path: string): string {
  let trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed.startsWith('v3')) trimmed = trimmed.slice(2).replace(/^\/+/, '');
  return [ctx.baseUrl, 'v3', trimmed].filter((part) => part !== '').join('/');
}

export function identityProviderRef(ctx: RequestContext, idp: IdentityProviderRecord): Record<string, unknown> {
  const self = keystoneUrl(ctx, `OS-FEDERATION/identity_providers/${idp.id}`);
  return {
    id: idp.id,
    domain_id: idp.domain_id,
    enabled: idp.enabled,
    description: idp.description,
    remote_ids: [...idp.remote_ids],
    authorization_ttl: idp.authorization_ttl,
    links: { self, protocols: `${self}/protocols` },
  };
}

/**
 * Keystone's protocol links, as its code builds them rather than as its api-ref shows them: the
 * protocol resource has no api_prefix, so `self` is `<base>/v3/protocols/<id>`, and
 * `identity_provider` is base_url(idp_id), `<base>/v3/<idp_id>`.
 */
function protocolLinks(ctx: RequestContext, protocol: ProtocolRecord): Record<string, string> {
  return { self: keystoneUrl(ctx, `protocols/${protocol.id}`), identity_provider: keystoneUrl(ctx, protocol.idp_id) };
}

/** One protocol: filter_params keeps id, mapping_id and links. */
export function protocolRef(ctx: RequestContext, protocol: ProtocolRecord): Record<string, unknown> {
  return { id: protocol.id, mapping_id: protocol.mapping_id, links: protocolLinks(ctx, protocol) };
}

/** Listed protocols are not filtered: idp_id and remote_id_attribute show there only. */
function listedProtocolRef(ctx: RequestContext, protocol: ProtocolRecord): Record<string, unknown> {
  return { ...protocol, links: protocolLinks(ctx, protocol) };
}

export function mappingRef(ctx: RequestContext, mapping: MappingRecord): Record<string, unknown> {
  return { id: mapping.id, rules: mapping.rules, schema_version: mapping.schema_version, links: { self: keystoneUrl(ctx, `OS-FEDERATION/mappings/${mapping.id}`) } };
}

export function serviceProviderRef(ctx: RequestContext, sp: ServiceProviderRecord): Record<string, unknown> {
  return {
    auth_url: sp.auth_url,
    id: sp.id,
    enabled: sp.enabled,
    description: sp.description,
    relay_state_prefix: sp.relay_state_prefix,
    sp_url: sp.sp_url,
    links: { self: keystoneUrl(ctx, `OS-FEDERATION/service_providers/${sp.id}`) },
  };
}

/** The body's member (`{}` when absent, as Keystone's body.get(member, {})). */
function member(ctx: RequestContext, name: string): Record<string, unknown> {
  const value = (ctx.body as Record<string, unknown> | undefined)?.[name];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Strips links: policy sees the stored record. */
function stored(ref: Record<string, unknown>): Record<string, unknown> {
  const { links: _links, ...rest } = ref;
  return rest;
}

const READ_METHODS: readonly HttpMethod[] = ['GET', 'HEAD'];

export function federationRoutes(deps: FederationRoutesDeps): Route[] {
  const { federation } = deps;
  const param = (ctx: RequestContext, name: string) => ctx.params[name]!;

  const idpTarget = async (ctx: RequestContext): Promise<Target> => {
    const idp = await federation.findIdp(param(ctx, 'idp_id'));
    return { target: idp ? { identity_provider: stored(identityProviderRef(ctx, idp)) } : {} };
  };
  const protocolTarget = async (ctx: RequestContext): Promise<Target> => {
    const protocol = await federation.findProtocol(param(ctx, 'idp_id'), param(ctx, 'protocol_id'));
    return { target: protocol ? { protocol: { ...protocol } } : {} };
  };
  const mappingTarget = async (ctx: RequestContext): Promise<Target> => {
    const mapping = await federation.findMapping(param(ctx, 'mapping_id'));
    return { target: mapping ? { mapping: stored(mappingRef(ctx, mapping)) } : {} };
  };
  const spTarget = async (ctx: RequestContext): Promise<Target> => {
    const sp = await federation.findSp(param(ctx, 'service_provider_id'));
    return { target: sp ? { service_provider: stored(serviceProviderRef(ctx, sp)) } : {} };
  };

  const routes: Route[] = [];
  for (const method of READ_METHODS) {
    routes.push(
      {
        method,
        path: IDPS,
        action: 'identity:list_identity_providers',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ filter_attr: filterAttr(ctx, PROVIDER_FILTERS) }),
        async handle(ctx) {
          const refs = (await federation.listIdps()).map((idp) => identityProviderRef(ctx, idp));
          const { records } = applyListHints(refs, listFilters(ctx, PROVIDER_FILTERS), null);
          return { status: 200, body: collection(ctx, 'identity_providers', records, false) };
        },
      },
      {
        method,
        path: IDP,
        action: 'identity:get_identity_provider',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: idpTarget,
        async handle(ctx) {
          return { status: 200, body: { identity_provider: identityProviderRef(ctx, await federation.getIdp(param(ctx, 'idp_id'))) } };
        },
      },
      {
        method,
        path: PROTOCOLS,
        action: 'identity:list_protocols',
        authenticated: true,
        statuses: [200, 401, 403],
        async handle(ctx) {
          const refs = (await federation.listProtocols(param(ctx, 'idp_id'))).map((p) => listedProtocolRef(ctx, p));
          return { status: 200, body: collection(ctx, 'protocols', refs, false) };
        },
      },
      {
        method,
        path: PROTOCOL,
        action: 'identity:get_protocol',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: protocolTarget,
        async handle(ctx) {
          return { status: 200, body: { protocol: protocolRef(ctx, await federation.getProtocol(param(ctx, 'idp_id'), param(ctx, 'protocol_id'))) } };
        },
      },
      {
        method,
        path: MAPPINGS,
        action: 'identity:list_mappings',
        authenticated: true,
        statuses: [200, 401, 403],
        async handle(ctx) {
          const refs = (await federation.listMappings()).map((m) => mappingRef(ctx, m));
          return { status: 200, body: collection(ctx, 'mappings', refs, false) };
        },
      },
      {
        method,
        path: MAPPING,
        action: 'identity:get_mapping',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: mappingTarget,
        async handle(ctx) {
          return { status: 200, body: { mapping: mappingRef(ctx, await federation.getMapping(param(ctx, 'mapping_id'))) } };
        },
      },
      {
        method,
        path: SPS,
        action: 'identity:list_service_providers',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => ({ filter_attr: filterAttr(ctx, PROVIDER_FILTERS) }),
        async handle(ctx) {
          const refs = (await federation.listSps()).map((sp) => serviceProviderRef(ctx, sp));
          const { records } = applyListHints(refs, listFilters(ctx, PROVIDER_FILTERS), null);
          return { status: 200, body: collection(ctx, 'service_providers', records, false) };
        },
      },
      {
        method,
        path: SP,
        action: 'identity:get_service_provider',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: spTarget,
        async handle(ctx) {
          return { status: 200, body: { service_provider: serviceProviderRef(ctx, await federation.getSp(param(ctx, 'service_provider_id'))) } };
        },
      },
    );
  }

  routes.push(
    // ---- identity providers ----------------------------------------------------------------
    {
      method: 'PUT',
      path: IDP,
      action: 'identity:create_identity_provider',
      authenticated: true,
      requestSchema: 'identity-provider-create',
      statuses: [201, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ target: { identity_provider: { ...member(ctx, 'identity_provider'), id: param(ctx, 'idp_id') } } }),
      async handle(ctx) {
        const idp = await federation.createIdp(param(ctx, 'idp_id'), member(ctx, 'identity_provider'));
        return { status: 201, body: { identity_provider: identityProviderRef(ctx, idp) } };
      },
    },
    {
      method: 'PATCH',
      path: IDP,
      action: 'identity:update_identity_provider',
      authenticated: true,
      requestSchema: 'identity-provider-update',
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await idpTarget(ctx)), request_body: member(ctx, 'identity_provider') }),
      async handle(ctx) {
        const idp = await federation.updateIdp(param(ctx, 'idp_id'), member(ctx, 'identity_provider'));
        return { status: 200, body: { identity_provider: identityProviderRef(ctx, idp) } };
      },
    },
    {
      method: 'DELETE',
      path: IDP,
      action: 'identity:delete_identity_provider',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: idpTarget,
      async handle(ctx) {
        await federation.deleteIdp(param(ctx, 'idp_id'));
        return { status: 204 };
      },
    },

    // ---- protocols ---------------------------------------------------------------------------
    {
      method: 'PUT',
      path: PROTOCOL,
      action: 'identity:create_protocol',
      authenticated: true,
      requestSchema: 'protocol-create',
      statuses: [201, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ target: { protocol: { ...member(ctx, 'protocol'), id: param(ctx, 'protocol_id'), idp_id: param(ctx, 'idp_id') } } }),
      async handle(ctx) {
        const protocol = await federation.createProtocol(param(ctx, 'idp_id'), param(ctx, 'protocol_id'), member(ctx, 'protocol'));
        return { status: 201, body: { protocol: protocolRef(ctx, protocol) } };
      },
    },
    {
      method: 'PATCH',
      path: PROTOCOL,
      action: 'identity:update_protocol',
      authenticated: true,
      requestSchema: 'protocol-update',
      statuses: [200, 400, 401, 403, 404],
      target: async (ctx) => ({ ...(await protocolTarget(ctx)), request_body: member(ctx, 'protocol') }),
      async handle(ctx) {
        const protocol = await federation.updateProtocol(param(ctx, 'idp_id'), param(ctx, 'protocol_id'), member(ctx, 'protocol'));
        return { status: 200, body: { protocol: protocolRef(ctx, protocol) } };
      },
    },
    {
      method: 'DELETE',
      path: PROTOCOL,
      action: 'identity:delete_protocol',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: protocolTarget,
      async handle(ctx) {
        await federation.deleteProtocol(param(ctx, 'idp_id'), param(ctx, 'protocol_id'));
        return { status: 204 };
      },
    },

    // ---- mappings ----------------------------------------------------------------------------
    {
      method: 'PUT',
      path: MAPPING,
      action: 'identity:create_mapping',
      authenticated: true,
      requestSchema: 'mapping-create',
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ target: { mapping: { ...member(ctx, 'mapping'), id: param(ctx, 'mapping_id') } } }),
      async handle(ctx) {
        const mapping = await federation.createMapping(param(ctx, 'mapping_id'), member(ctx, 'mapping'));
        return { status: 201, body: { mapping: mappingRef(ctx, mapping) } };
      },
    },
    {
      method: 'PATCH',
      path: MAPPING,
      action: 'identity:update_mapping',
      authenticated: true,
      requestSchema: 'mapping-update',
      statuses: [200, 400, 401, 403, 404],
      target: async (ctx) => ({ ...(await mappingTarget(ctx)), request_body: member(ctx, 'mapping') }),
      async handle(ctx) {
        const mapping = await federation.updateMapping(param(ctx, 'mapping_id'), member(ctx, 'mapping'));
        return { status: 200, body: { mapping: mappingRef(ctx, mapping) } };
      },
    },
    {
      method: 'DELETE',
      path: MAPPING,
      action: 'identity:delete_mapping',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: mappingTarget,
      async handle(ctx) {
        await federation.deleteMapping(param(ctx, 'mapping_id'));
        return { status: 204 };
      },
    },

    // ---- service providers -------------------------------------------------------------------
    {
      method: 'PUT',
      path: SP,
      action: 'identity:create_service_provider',
      authenticated: true,
      requestSchema: 'service-provider-create',
      statuses: [201, 400, 401, 403, 409],
      target: async (ctx) => ({ target: { service_provider: { ...member(ctx, 'service_provider'), id: param(ctx, 'service_provider_id') } } }),
      async handle(ctx) {
        const sp = await federation.createSp(param(ctx, 'service_provider_id'), member(ctx, 'service_provider'));
        return { status: 201, body: { service_provider: serviceProviderRef(ctx, sp) } };
      },
    },
    {
      method: 'PATCH',
      path: SP,
      action: 'identity:update_service_provider',
      authenticated: true,
      requestSchema: 'service-provider-update',
      statuses: [200, 400, 401, 403, 404],
      target: async (ctx) => ({ ...(await spTarget(ctx)), request_body: member(ctx, 'service_provider') }),
      async handle(ctx) {
        const sp = await federation.updateSp(param(ctx, 'service_provider_id'), member(ctx, 'service_provider'));
        return { status: 200, body: { service_provider: serviceProviderRef(ctx, sp) } };
      },
    },
    {
      method: 'DELETE',
      path: SP,
      action: 'identity:delete_service_provider',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: spTarget,
      async handle(ctx) {
        await federation.deleteSp(param(ctx, 'service_provider_id'));
        return { status: 204 };
      },
    },
  );
  return routes;
}

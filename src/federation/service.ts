/**
 * Keystone's federation manager (keystone/federation/core.py) over its SQL driver
 * (backends/sql.py): identity providers, their protocols, mappings and service providers.
 * Routers call this; it calls the store; nothing here knows HTTP.
 */
import { Conflict, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { DEFAULT_SCHEMA_VERSION, validateMappingStructure } from './mapping-rules.js';
import {
  DuplicateEntry,
  type FederationStore,
  type IdentityProviderRecord,
  type MappingRecord,
  type ProtocolRecord,
  type ServiceProviderRecord,
} from './store.js';

type Body = Readonly<Record<string, unknown>>;

/** What federation needs of the resource service: IdPs own a domain. */
export interface FederationDomains {
  /** Throws Keystone's 404 (Could not find domain: <id>.) when there is no such domain. */
  readonly get: (id: string) => Promise<unknown>;
}

export interface FederationServiceDeps {
  readonly store: FederationStore;
  readonly domains: FederationDomains;
  readonly options: {
    /** [federation] attribute_mapping_default_schema_version. */
    readonly defaultMappingSchemaVersion: string;
    /** [saml] relay_state_prefix: a new service provider's default. */
    readonly relayStatePrefix: string;
  };
}

/** flask's _normalize_dict: `:` and `-` in top-level keys become `_`. */
function normalize(body: Body): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replace(/[:-]/g, '_'), v]));
}

/**
 * Keystone's boolean schema also admits strings ("true", "off", "") and null, which its
 * SQLAlchemy Boolean column then refuses (a 500). They are read here as oslo's
 * bool_from_string reads them, and null as false.
 */
function asBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.trim().toLowerCase());
  return false;
}

/**
 * sql.handle_conflicts' details: the name (or else the id) and domain_id found in the dicts
 * the driver method was called with.
 */
function duplicateDetails(...dicts: readonly Body[]): string {
  let field: string | undefined;
  let name: unknown;
  let domainId: unknown;
  for (const dict of dicts) {
    if ('name' in dict) {
      field = 'name';
      name = dict['name'];
    } else if ('id' in dict) {
      field = 'ID';
      name = dict['id'];
    }
    if ('domain_id' in dict) domainId = dict['domain_id'];
  }
  const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  if (name && domainId) return `Duplicate entry found with ${field} ${shown(name)} at domain ID ${shown(domainId)}`;
  if (name) return `Duplicate entry found with ${field} ${shown(name)}`;
  if (domainId) return `Duplicate entry at domain ID ${shown(domainId)}`;
  return 'Duplicate entry';
}

function idpNotFound(id: string): NotFound {
  return new NotFound(`Could not find Identity Provider: ${id}.`);
}

function protocolNotFound(idpId: string, protocolId: string): NotFound {
  return new NotFound(`Could not find federated protocol ${protocolId} for Identity Provider: ${idpId}.`);
}

function mappingNotFound(id: string): NotFound {
  return new NotFound(`Could not find mapping: ${id}.`);
}

function spNotFound(id: string): NotFound {
  return new NotFound(`Could not find Service Provider: ${id}.`);
}

/** _handle_idp_conflict: a remote id says so, anything else is a duplicate entry. */
function idpConflict(error: DuplicateEntry): Conflict {
  return new Conflict('identity_provider', error.column === 'remote_id' ? `Duplicate remote ID: ${error.value}` : `Duplicate entry: ${error.value}`);
}

export type FederationService = ReturnType<typeof createFederationService>;

export function createFederationService(deps: FederationServiceDeps) {
  const { store, domains, options } = deps;

  async function getIdp(id: string): Promise<IdentityProviderRecord> {
    const idp = await store.getIdp(id);
    if (!idp) throw idpNotFound(id);
    return idp;
  }

  async function getProtocol(idpId: string, protocolId: string): Promise<ProtocolRecord> {
    const protocol = await store.getProtocol(idpId, protocolId);
    if (!protocol) throw protocolNotFound(idpId, protocolId);
    return protocol;
  }

  async function getMapping(id: string): Promise<MappingRecord> {
    const mapping = await store.getMapping(id);
    if (!mapping) throw mappingNotFound(id);
    return mapping;
  }

  async function getSp(id: string): Promise<ServiceProviderRecord> {
    const sp = await store.getSp(id);
    if (!sp) throw spNotFound(id);
    return sp;
  }

  /** _validate_mapping_exists: a protocol naming an unknown mapping is a bad request, not a 404. */
  async function requireMapping(id: string): Promise<void> {
    if (!(await store.getMapping(id))) throw new ValidationError(`Invalid mapping id: ${id}`);
  }

  /** The API's default schema_version, then validate_mapping_structure, then what the schema can store. */
  async function mappingFromBody(body: Body): Promise<Record<string, unknown>> {
    const mapping = normalize(body);
    if (!mapping['schema_version']) mapping['schema_version'] = options.defaultMappingSchemaVersion || DEFAULT_SCHEMA_VERSION;
    validateMappingStructure(mapping);
    if (mapping['schema_version'] !== DEFAULT_SCHEMA_VERSION && !(await store.storesMappingSchemaVersion())) {
      throw new ValidationError(
        `Mapping schema_version ${String(mapping['schema_version'])} cannot be stored: the database has Keystone's Zed schema, which holds ${DEFAULT_SCHEMA_VERSION} mappings only (upgrade it with keystone-manage db_sync).`,
      );
    }
    return mapping;
  }

  function remoteIdsOf(value: unknown): string[] {
    return Array.isArray(value) ? [...(value as string[])].sort() : [];
  }

  async function refuseTakenRemoteIds(remoteIds: readonly string[], idpId: string): Promise<void> {
    const [taken] = await store.remoteIdsTaken(remoteIds, idpId);
    if (taken !== undefined) throw idpConflict(new DuplicateEntry(taken, 'remote_id'));
  }

  return {
    // ---- identity providers ------------------------------------------------------------------
    listIdps: () => store.listIdps(),
    getIdp,
    findIdp: (id: string) => store.getIdp(id),

    /**
     * create_idp: without a domain_id, a new domain is made for the provider (and removed again
     * if the provider cannot be stored); a given domain_id must exist.
     */
    async createIdp(id: string, body: Body): Promise<IdentityProviderRecord> {
      const input = normalize(body);
      const givenDomain = input['domain_id'];
      const record = {
        id,
        domain_id: '',
        enabled: 'enabled' in input ? asBoolean(input['enabled']) : false,
        description: (input['description'] as string | null | undefined) ?? null,
        remote_ids: remoteIdsOf(input['remote_ids']),
        authorization_ttl: (input['authorization_ttl'] as number | null | undefined) ?? null,
      };
      if (typeof givenDomain === 'string' && givenDomain !== '') await domains.get(givenDomain);
      // Checked before a domain is made for it, so a refused provider leaves nothing behind.
      if (await store.getIdp(id)) throw idpConflict(new DuplicateEntry(id));
      await refuseTakenRemoteIds(record.remote_ids, id);
      const explicitDomain = typeof givenDomain === 'string' && givenDomain !== '';
      // _create_idp_domain: the id is a fresh uuid hex and the name is the id.
      record.domain_id = explicitDomain ? givenDomain : newId();
      try {
        await store.insertIdp(record, explicitDomain ? undefined : { description: `Auto generated federated domain for Identity Provider: ${id}` });
      } catch (error) {
        if (!(error instanceof DuplicateEntry)) throw error;
        throw idpConflict(error);
      }
      return getIdp(id);
    },

    /** update_idp: description, enabled, remote_ids (replaced as a whole) and authorization_ttl. */
    async updateIdp(id: string, body: Body): Promise<IdentityProviderRecord> {
      const input = normalize(body);
      const current = await getIdp(id);
      const next: IdentityProviderRecord = {
        ...current,
        ...('enabled' in input ? { enabled: asBoolean(input['enabled']) } : {}),
        ...('description' in input ? { description: input['description'] as string | null } : {}),
        ...('remote_ids' in input ? { remote_ids: remoteIdsOf(input['remote_ids']) } : {}),
        ...('authorization_ttl' in input ? { authorization_ttl: input['authorization_ttl'] as number | null } : {}),
      };
      await refuseTakenRemoteIds(next.remote_ids, id);
      try {
        if (!(await store.updateIdp(next))) throw idpNotFound(id);
      } catch (error) {
        if (error instanceof DuplicateEntry) throw idpConflict(error);
        throw error;
      }
      return getIdp(id);
    },

    /** delete_idp: the provider's domain stays (core.py removes it only when creation fails). */
    async deleteIdp(id: string): Promise<void> {
      if (!(await store.deleteIdp(id))) throw idpNotFound(id);
    },

    // ---- protocols -----------------------------------------------------------------------------
    /** An unknown provider has no protocols: Keystone lists none rather than answering 404. */
    listProtocols: (idpId: string) => store.listProtocols(idpId),
    getProtocol,
    findProtocol: (idpId: string, protocolId: string) => store.getProtocol(idpId, protocolId),

    /** create_protocol: the mapping must exist (400), then the provider (404). */
    async createProtocol(idpId: string, protocolId: string, body: Body): Promise<ProtocolRecord> {
      const input = normalize(body);
      const mappingId = input['mapping_id'] as string;
      await requireMapping(mappingId);
      await getIdp(idpId);
      const record: ProtocolRecord = {
        id: protocolId,
        idp_id: idpId,
        mapping_id: mappingId,
        remote_id_attribute: (input['remote_id_attribute'] as string | null | undefined) ?? null,
      };
      try {
        await store.insertProtocol(record);
      } catch (error) {
        if (error instanceof DuplicateEntry) throw new Conflict('federation_protocol', duplicateDetails({ ...input, id: protocolId, idp_id: idpId }));
        throw error;
      }
      return record;
    },

    async updateProtocol(idpId: string, protocolId: string, body: Body): Promise<ProtocolRecord> {
      await requireMapping(body['mapping_id'] as string);
      const current = await getProtocol(idpId, protocolId);
      const next: ProtocolRecord = {
        ...current,
        mapping_id: body['mapping_id'] as string,
        ...('remote_id_attribute' in body ? { remote_id_attribute: body['remote_id_attribute'] as string } : {}),
      };
      await store.updateProtocol(next);
      return next;
    },

    async deleteProtocol(idpId: string, protocolId: string): Promise<void> {
      if (!(await store.deleteProtocol(idpId, protocolId))) throw protocolNotFound(idpId, protocolId);
    },

    // ---- mappings ------------------------------------------------------------------------------
    listMappings: () => store.listMappings(),
    getMapping,
    findMapping: (id: string) => store.getMapping(id),

    async createMapping(id: string, body: Body): Promise<MappingRecord> {
      const mapping = await mappingFromBody(body);
      const record: MappingRecord = { id, rules: mapping['rules'], schema_version: mapping['schema_version'] as string };
      try {
        await store.insertMapping(record);
      } catch (error) {
        // Keystone's details come from the body's own name or id, if it has one.
        if (error instanceof DuplicateEntry) throw new Conflict('mapping', duplicateDetails(mapping));
        throw error;
      }
      return record;
    },

    /** update_mapping: the rules and schema_version are replaced (the version by the default when absent). */
    async updateMapping(id: string, body: Body): Promise<MappingRecord> {
      const mapping = await mappingFromBody(body);
      const record: MappingRecord = { id, rules: mapping['rules'], schema_version: mapping['schema_version'] as string };
      if (!(await store.updateMapping(record))) throw mappingNotFound(id);
      return record;
    },

    /** Protocols naming the mapping keep it (Keystone checks nothing). */
    async deleteMapping(id: string): Promise<void> {
      if (!(await store.deleteMapping(id))) throw mappingNotFound(id);
    },

    // ---- service providers ---------------------------------------------------------------------
    listSps: () => store.listSps(),
    getSp,
    findSp: (id: string) => store.getSp(id),

    /**
     * get_enabled_service_providers: what tokens list as `service_providers`, each
     * {auth_url, id, sp_url}.
     */
    async enabledServiceProviders(): Promise<{ auth_url: string; id: string; sp_url: string }[]> {
      return (await store.listEnabledSps()).map((sp) => ({ auth_url: sp.auth_url, id: sp.id, sp_url: sp.sp_url }));
    },

    async createSp(id: string, body: Body): Promise<ServiceProviderRecord> {
      const input = normalize(body);
      const record: ServiceProviderRecord = {
        auth_url: input['auth_url'] as string,
        id,
        enabled: 'enabled' in input ? asBoolean(input['enabled']) : false,
        description: (input['description'] as string | null | undefined) ?? null,
        // An explicit null is stored by Keystone's schema and refused by its NOT NULL column;
        // the configured prefix is what a client asking for "none in particular" means.
        relay_state_prefix: (input['relay_state_prefix'] as string | null | undefined) ?? options.relayStatePrefix,
        sp_url: input['sp_url'] as string,
      };
      try {
        await store.insertSp(record);
      } catch (error) {
        if (error instanceof DuplicateEntry) throw new Conflict('service_provider', duplicateDetails({ ...input, id }));
        throw error;
      }
      return record;
    },

    async updateSp(id: string, body: Body): Promise<ServiceProviderRecord> {
      const input = normalize(body);
      const current = await getSp(id);
      const next: ServiceProviderRecord = {
        ...current,
        ...('auth_url' in input ? { auth_url: input['auth_url'] as string } : {}),
        ...('sp_url' in input ? { sp_url: input['sp_url'] as string } : {}),
        ...('enabled' in input ? { enabled: asBoolean(input['enabled']) } : {}),
        ...('description' in input ? { description: input['description'] as string | null } : {}),
        ...('relay_state_prefix' in input && input['relay_state_prefix'] !== null ? { relay_state_prefix: input['relay_state_prefix'] as string } : {}),
      };
      if (!(await store.updateSp(next))) throw spNotFound(id);
      return next;
    },

    async deleteSp(id: string): Promise<void> {
      if (!(await store.deleteSp(id))) throw spNotFound(id);
    },
  };
}

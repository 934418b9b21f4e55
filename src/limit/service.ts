/**
 * Unified limits as keystone/limit/core.py and backends/sql.py keep them: registered limits
 * (a service's default for a resource) and project or domain limits that override them.
 * Every create, update and delete runs in one transaction, so a list that fails on its third
 * entry stores none of them.
 */
import { Conflict, ForbiddenNotSecurity, KeystoneError, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import type { CheckedLimit, EnforcementModel, HierarchyView } from './models.js';
import type { LimitQueries, LimitRow, LimitStore, RegisteredLimitChanges, RegisteredLimitRow } from './store.js';

/** Keystone's NoLimitReference: a Forbidden whose template text is shown. */
export class NoLimitReference extends KeystoneError {
  constructor() {
    super(403, 'Forbidden', 'Unable to create a limit that has no corresponding registered limit.');
  }
}

export interface RegisteredLimitInput {
  readonly service_id: string;
  readonly region_id?: string | null;
  readonly resource_name: string;
  readonly default_limit: number;
  readonly description?: string | null;
}

export interface LimitInput {
  readonly project_id?: string | null;
  readonly domain_id?: string | null;
  readonly service_id: string;
  readonly region_id?: string | null;
  readonly resource_name: string;
  readonly resource_limit: number;
  readonly description?: string | null;
}

export interface LimitServiceDeps {
  readonly store: LimitStore;
  readonly model: EnforcementModel;
  readonly serviceExists: (id: string) => Promise<boolean>;
  readonly regionExists: (id: string) => Promise<boolean>;
  /** A project or a domain (a project acting as one) by id. */
  readonly getProject: (id: string) => Promise<{ readonly is_domain: boolean; readonly parent_id: string | null } | undefined>;
  readonly domainExists: (id: string) => Promise<boolean>;
  readonly subtreeIds: (id: string) => Promise<string[]>;
  readonly newId?: () => string;
}

export type LimitService = ReturnType<typeof createLimitService>;

/** Keystone's ValidationError for a reference to nothing: `Expecting to find <attr> in <target>. ...` */
function missingReference(attribute: string, target: 'registered_limit' | 'limit'): ValidationError {
  return new ValidationError(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

const registeredLimitNotFound = (id: string) => new NotFound(`Could not find registered limit for ${id}.`);
const limitNotFound = (id: string) => new NotFound(`Could not find limit for ${id}.`);
const registeredLimitInUse = (id: string) =>
  new ForbiddenNotSecurity(`Unable to update or delete registered limit ${id} because there are project limits associated with it.`);
const duplicate = (type: 'registered_limit' | 'limit') => new Conflict(type, 'Duplicate entry');

export function createLimitService(deps: LimitServiceDeps) {
  const { store, model } = deps;
  const makeId = deps.newId ?? newId;

  /**
   * _assert_resource_exist: every id given must name something, else a 400 naming the field.
   * A project_id naming a domain makes the limit a domain limit.
   */
  async function assertReferences<T extends { service_id?: string | null; region_id?: string | null; project_id?: string | null; domain_id?: string | null }>(
    entry: T,
    target: 'registered_limit' | 'limit',
  ): Promise<T> {
    let result = entry;
    if (entry.service_id != null && !(await deps.serviceExists(entry.service_id))) throw missingReference('service_id', target);
    if (entry.region_id != null && !(await deps.regionExists(entry.region_id))) throw missingReference('region_id', target);
    if (entry.project_id != null) {
      const project = await deps.getProject(entry.project_id);
      if (!project) throw missingReference('project_id', target);
      if (project.is_domain) {
        const { project_id: domainId, ...rest } = entry;
        result = { ...rest, domain_id: domainId } as T;
      }
    }
    if (result.domain_id != null && !(await deps.domainExists(result.domain_id))) throw missingReference('domain_id', target);
    return result;
  }

  /**
   * The project tree the model will ask about, read before the limit transaction: the resource
   * tables are not the limit store's (and PGlite's one connection is the transaction's then).
   */
  async function treeAround(limits: readonly CheckedLimit[]) {
    const parents = new Map<string, string | null>();
    const subtrees = new Map<string, string[]>();
    if (!model.hierarchical) return { parents, subtrees };
    for (const limit of limits) {
      if (limit.project_id) parents.set(limit.project_id, (await deps.getProject(limit.project_id))?.parent_id ?? null);
      else if (limit.domain_id) subtrees.set(limit.domain_id, await deps.subtreeIds(limit.domain_id));
    }
    return { parents, subtrees };
  }

  function viewOver(tx: LimitQueries, tree: Awaited<ReturnType<typeof treeAround>>): HierarchyView {
    return {
      findLimits: (owner, key) => tx.findLimits(owner, key),
      findRegisteredLimits: (key) => tx.findRegisteredLimits(key),
      parentOf: async (projectId) => tree.parents.get(projectId) ?? null,
      subtreeIds: async (id) => tree.subtrees.get(id) ?? [],
    };
  }

  async function getLimitIn(tx: LimitQueries, id: string): Promise<LimitRow> {
    const row = await tx.getLimit(id);
    if (!row) throw limitNotFound(id);
    return row;
  }

  return {
    model,

    async listRegisteredLimits(): Promise<RegisteredLimitRow[]> {
      return store.listRegisteredLimits();
    },

    async getRegisteredLimit(id: string): Promise<RegisteredLimitRow> {
      const row = await store.getRegisteredLimit(id);
      if (!row) throw registeredLimitNotFound(id);
      return row;
    },

    async findRegisteredLimit(id: string): Promise<RegisteredLimitRow | undefined> {
      return store.getRegisteredLimit(id);
    },

    async createRegisteredLimits(entries: readonly RegisteredLimitInput[]): Promise<RegisteredLimitRow[]> {
      for (const entry of entries) await assertReferences(entry, 'registered_limit');
      return store.writing(async (tx) => {
        const created: RegisteredLimitRow[] = [];
        for (const entry of entries) {
          const row: RegisteredLimitRow = {
            id: makeId(),
            service_id: entry.service_id,
            region_id: entry.region_id ?? null,
            resource_name: entry.resource_name,
            default_limit: entry.default_limit,
            description: entry.description ?? null,
          };
          // Earlier entries of the same request count: they are already in the transaction.
          if ((await tx.findRegisteredLimits({ service_id: entry.service_id, resource_name: entry.resource_name, region_id: row.region_id })).length > 0) {
            throw duplicate('registered_limit');
          }
          await tx.insertRegisteredLimit(row);
          created.push(row);
        }
        return created;
      });
    },

    async updateRegisteredLimit(id: string, changes: RegisteredLimitChanges): Promise<RegisteredLimitRow> {
      await assertReferences(changes, 'registered_limit');
      return store.writing(async (tx) => {
        const current = await tx.getRegisteredLimit(id);
        if (!current) throw registeredLimitNotFound(id);
        // Limits copy nothing from their registered limit but read through it: changing it would
        // silently move them to another service or resource.
        if (await tx.isRegisteredLimitReferenced(id)) throw registeredLimitInUse(id);
        const merged: RegisteredLimitRow = { ...current, ...changes };
        // Keystone checks uniqueness only when the body names a key field, and does not exclude
        // the row itself: restating the current key is a conflict too.
        if (changes.service_id || 'region_id' in changes || changes.resource_name) {
          const clash = await tx.findRegisteredLimits({ service_id: merged.service_id ?? '', resource_name: merged.resource_name ?? '', region_id: merged.region_id });
          if (clash.length > 0) throw duplicate('registered_limit');
        }
        await tx.updateRegisteredLimit(id, changes);
        return merged;
      });
    },

    async deleteRegisteredLimit(id: string): Promise<void> {
      await store.writing(async (tx) => {
        if (!(await tx.getRegisteredLimit(id))) throw registeredLimitNotFound(id);
        if (await tx.isRegisteredLimitReferenced(id)) throw registeredLimitInUse(id);
        await tx.deleteRegisteredLimit(id);
      });
    },

    async listLimits(): Promise<LimitRow[]> {
      return store.listLimits();
    },

    async getLimit(id: string): Promise<LimitRow> {
      return getLimitIn(store, id);
    },

    async findLimit(id: string): Promise<LimitRow | undefined> {
      return store.getLimit(id);
    },

    async createLimits(entries: readonly LimitInput[]): Promise<LimitRow[]> {
      const resolved: LimitInput[] = [];
      for (const entry of entries) resolved.push(await assertReferences(entry, 'limit'));
      const rows: LimitRow[] = resolved.map((entry) => ({
        id: makeId(),
        project_id: entry.project_id ?? null,
        domain_id: entry.domain_id ?? null,
        service_id: entry.service_id,
        region_id: entry.region_id ?? null,
        resource_name: entry.resource_name,
        resource_limit: entry.resource_limit,
        description: entry.description ?? null,
      }));
      const tree = await treeAround(rows.map(checked));
      return store.writing(async (tx) => {
        await model.check(rows.map(checked), viewOver(tx, tree));
        for (const row of rows) {
          const key = { service_id: row.service_id!, resource_name: row.resource_name!, region_id: row.region_id };
          const [registered] = await tx.findRegisteredLimits(key);
          if (!registered) throw new NoLimitReference();
          const owner = row.project_id ? { project_id: row.project_id } : { domain_id: row.domain_id! };
          if (await tx.hasLimitFor(registered.id, owner)) throw duplicate('limit');
          await tx.insertLimit({
            id: row.id,
            project_id: row.project_id,
            domain_id: row.domain_id,
            resource_limit: row.resource_limit,
            description: row.description,
            registered_limit_id: registered.id,
          });
        }
        return rows;
      });
    },

    async updateLimit(id: string, changes: { resource_limit?: number; description?: string | null }): Promise<LimitRow> {
      const current = await getLimitIn(store, id);
      const candidate = checked({ ...current, resource_limit: changes.resource_limit ?? current.resource_limit });
      const tree = await treeAround([candidate]);
      return store.writing(async (tx) => {
        // Deleted meanwhile is still a 404; its key cannot have changed (registered limits in use are frozen).
        const fresh = await getLimitIn(tx, id);
        await model.check([candidate], viewOver(tx, tree));
        // Keystone's driver sets only truthy values: 0, "" and null leave the stored ones.
        const applied: { resource_limit?: number; description?: string } = {};
        if (changes.resource_limit) applied.resource_limit = changes.resource_limit;
        if (changes.description) applied.description = changes.description;
        await tx.updateLimit(id, applied);
        return { ...fresh, ...applied };
      });
    },

    async deleteLimit(id: string): Promise<void> {
      await store.writing(async (tx) => {
        await getLimitIn(tx, id);
        await tx.deleteLimit(id);
      });
    },
  };
}

function checked(row: LimitRow): CheckedLimit {
  return {
    project_id: row.project_id,
    domain_id: row.domain_id,
    service_id: row.service_id ?? '',
    region_id: row.region_id,
    resource_name: row.resource_name ?? '',
    resource_limit: row.resource_limit,
  };
}

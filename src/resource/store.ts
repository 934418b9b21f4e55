import { sql, type Kysely, type Transaction } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { newId, parseExtra } from '../common/ids.js';

/** Domains are `project` rows with is_domain=true under this hidden sentinel (spec 5.3). */
export const DOMAIN_ROOT = '<<keystone.domain.root>>';

export interface ProjectRef {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly parent_id: string | null;
  readonly is_domain: boolean;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface DomainRef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly extra: Readonly<Record<string, unknown>>;
}

interface ProjectRow {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  enabled: boolean | null;
  parent_id: string | null;
  is_domain: boolean;
  extra: string | null;
}

function toProject(row: ProjectRow): ProjectRef {
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    description: row.description ?? '',
    // Keystone's model treats a NULL enabled column as enabled.
    enabled: row.enabled !== false,
    parent_id: row.parent_id,
    is_domain: row.is_domain,
    extra: parseExtra(row.extra),
  };
}

function toDomain(row: ProjectRow): DomainRef {
  return { id: row.id, name: row.name, description: row.description ?? '', enabled: row.enabled !== false, extra: parseExtra(row.extra) };
}

const COLUMNS = ['id', 'name', 'domain_id', 'description', 'enabled', 'parent_id', 'is_domain', 'extra'] as const;

/**
 * A `project` row as the resource API sees it: Keystone's Project model with its tags and
 * options (`project_option`, option id → name) and the `extra` JSON. Domains are records with
 * is_domain=true and domain_id null (the sentinel is decoded, as Keystone's to_dict does).
 */
export interface ProjectRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string | null;
  readonly description: string | null;
  readonly enabled: boolean | null;
  readonly parent_id: string | null;
  readonly is_domain: boolean;
  readonly tags: readonly string[];
  readonly options: Readonly<Record<string, unknown>>;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Keystone's registered project options (keystone/resource/backends/resource_options.py). */
export const PROJECT_OPTION_IDS: Readonly<Record<string, string>> = { immutable: 'IMMU' };
const PROJECT_OPTION_NAMES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(PROJECT_OPTION_IDS).map(([n, i]) => [i, n]));

/** What a list may ask of SQL (the service applies what SQL cannot, like Keystone's hints). */
export interface ProjectListQuery {
  readonly isDomain?: boolean;
  readonly equals?: Readonly<Partial<Record<'name' | 'domain_id' | 'parent_id' | 'id', string>>>;
  readonly enabled?: boolean;
  /** Case-insensitive patterns, as Keystone's unescaped `ILIKE`. */
  readonly ilike?: readonly { readonly column: 'name' | 'domain_id' | 'parent_id' | 'description' | 'id'; readonly pattern: string }[];
  readonly tags?: { readonly all?: readonly string[]; readonly any?: readonly string[]; readonly notAll?: readonly string[]; readonly notAny?: readonly string[] };
}

export interface ProjectChanges {
  readonly name?: string;
  readonly description?: string | null;
  readonly enabled?: boolean;
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly tags?: readonly string[];
  /** Option name → value; null removes the option (Keystone's resource_options_ref_to_mapper). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** A unique constraint refused the write (Keystone's DBDuplicateEntry → 409). */
export class DuplicateEntry extends Error {}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export type ResourceStore = ReturnType<typeof createResourceStore>;

type Db = Kysely<KeystoneDatabase> | Transaction<KeystoneDatabase>;

async function loadRecords(db: Db, rows: readonly ProjectRow[]): Promise<ProjectRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [tags, options] = await Promise.all([
    db.selectFrom('project_tag').select(['project_id', 'name']).where('project_id', 'in', ids).orderBy('project_id').orderBy('name').execute(),
    db.selectFrom('project_option').select(['project_id', 'option_id', 'option_value']).where('project_id', 'in', ids).execute(),
  ]);
  const tagsById = new Map<string, string[]>();
  for (const t of tags) {
    const list = tagsById.get(t.project_id) ?? [];
    list.push(t.name);
    tagsById.set(t.project_id, list);
  }
  const optionsById = new Map<string, Record<string, unknown>>();
  for (const o of options) {
    const name = PROJECT_OPTION_NAMES[o.option_id];
    if (!name) continue; // unregistered options are invisible, as Keystone's registry makes them
    const opts = optionsById.get(o.project_id) ?? {};
    opts[name] = o.option_value == null ? null : JSON.parse(o.option_value);
    optionsById.set(o.project_id, opts);
  }
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    domain_id: row.domain_id === DOMAIN_ROOT ? null : row.domain_id,
    description: row.description,
    enabled: row.enabled,
    parent_id: row.parent_id,
    is_domain: row.is_domain,
    tags: tagsById.get(row.id) ?? [],
    options: optionsById.get(row.id) ?? {},
    extra: parseExtra(row.extra),
  }));
}

async function writeOptions(db: Db, projectId: string, options: Readonly<Record<string, unknown>>): Promise<void> {
  for (const [name, value] of Object.entries(options)) {
    const optionId = PROJECT_OPTION_IDS[name];
    if (!optionId) continue;
    await db.deleteFrom('project_option').where('project_id', '=', projectId).where('option_id', '=', optionId).execute();
    if (value !== null && value !== undefined) {
      await db.insertInto('project_option').values({ project_id: projectId, option_id: optionId, option_value: JSON.stringify(value) }).execute();
    }
  }
}

async function writeTags(db: Db, projectId: string, tags: readonly string[]): Promise<void> {
  await db.deleteFrom('project_tag').where('project_id', '=', projectId).execute();
  const unique = [...new Set(tags)];
  if (unique.length > 0) await db.insertInto('project_tag').values(unique.map((name) => ({ project_id: projectId, name }))).execute();
}

/**
 * What deleting projects leaves behind elsewhere, removed as Keystone's delete callbacks do:
 * role assignments on them, credentials, trusts (soft-deleted), limits, endpoint-filter
 * associations, and users' default_project_id.
 */
async function deleteProjectRows(trx: Transaction<KeystoneDatabase>, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await trx.deleteFrom('assignment').where('target_id', 'in', ids).where('type', 'in', ['UserProject', 'GroupProject']).execute();
  await trx.deleteFrom('credential').where('project_id', 'in', ids).execute();
  await trx.updateTable('trust').set({ deleted_at: now }).where('project_id', 'in', ids).where('deleted_at', 'is', null).execute();
  await trx.deleteFrom('limit').where('project_id', 'in', ids).execute();
  await trx.deleteFrom('project_endpoint').where('project_id', 'in', ids).execute();
  await trx.deleteFrom('project_endpoint_group').where('project_id', 'in', ids).execute();
  await trx.updateTable('user').set({ default_project_id: null }).where('default_project_id', 'in', ids).execute();
  await trx.deleteFrom('project_tag').where('project_id', 'in', ids).execute();
  await trx.deleteFrom('project_option').where('project_id', 'in', ids).execute();
  // One statement for the whole set: the parent_id foreign key is checked at its end.
  await trx.deleteFrom('project').where('id', 'in', ids).where('id', '!=', DOMAIN_ROOT).execute();
}

export function createResourceStore(db: Kysely<KeystoneDatabase>) {
  const projects = () => db.selectFrom('project').select(COLUMNS);
  return {
    /** Any project or domain by id (never the hidden root). */
    async getRecord(id: string): Promise<ProjectRecord | undefined> {
      if (id === DOMAIN_ROOT) return undefined;
      const rows = await projects().where('id', '=', id).execute();
      return (await loadRecords(db, rows))[0];
    },

    async listRecords(query: ProjectListQuery): Promise<ProjectRecord[]> {
      let q = projects().where('id', '!=', DOMAIN_ROOT);
      if (query.isDomain !== undefined) q = q.where('is_domain', '=', query.isDomain);
      for (const [column, value] of Object.entries(query.equals ?? {}) as ['name' | 'domain_id' | 'parent_id' | 'id', string][]) {
        q = q.where(column, '=', value);
      }
      if (query.enabled !== undefined) q = q.where('enabled', '=', query.enabled);
      for (const { column, pattern } of query.ilike ?? []) q = q.where(sql<boolean>`${sql.ref(column)} ILIKE ${pattern}`);
      const tags = query.tags ?? {};
      const withTag = (names: readonly string[]) =>
        db.selectFrom('project_tag').select('project_id').where('name', 'in', names);
      if (tags.all && tags.all.length > 0) {
        const names = [...new Set(tags.all)];
        q = q.where('id', 'in', withTag(names).groupBy('project_id').having(sql<number>`count(distinct name)`, '=', names.length));
      }
      if (tags.any && tags.any.length > 0) q = q.where('id', 'in', withTag(tags.any));
      if (tags.notAll && tags.notAll.length > 0) {
        const names = [...new Set(tags.notAll)];
        q = q.where('id', 'not in', withTag(names).groupBy('project_id').having(sql<number>`count(distinct name)`, '=', names.length));
      }
      if (tags.notAny && tags.notAny.length > 0) q = q.where('id', 'not in', withTag(tags.notAny));
      return loadRecords(db, await q.orderBy('id').execute());
    },

    /** Direct children of any of `parentIds`. */
    /**
     * Ids of the projects below `id`, level by level and by id within a level (the order of
     * subtreeOf), in one recursive query; a cycle written by another tool ends where it started.
     */
    async subtreeIds(id: string): Promise<string[]> {
      const { rows } = await sql<{ id: string }>`
        WITH RECURSIVE below(id, depth, path) AS (
          SELECT p.id, 1, ARRAY[${id}::varchar, p.id] FROM project p WHERE p.parent_id = ${id} AND p.id <> ${id}
          UNION ALL
          SELECT p.id, b.depth + 1, b.path || p.id FROM project p JOIN below b ON p.parent_id = b.id WHERE NOT p.id = ANY(b.path)
        )
        SELECT id FROM below GROUP BY id ORDER BY min(depth), id`.execute(db);
      return rows.map((r) => r.id);
    },

    /**
     * Ids of the projects more than `maxDepth` levels below their domain (a top-level project is
     * level 1), deepest chains' ends only, by id; a cycle written by another tool ends where it started.
     */
    async projectsDeeperThan(maxDepth: number): Promise<string[]> {
      const { rows } = await sql<{ id: string }>`
        WITH RECURSIVE below(id, depth, path) AS (
          SELECT p.id, 1, ARRAY[p.id::varchar] FROM project p JOIN project d ON d.id = p.parent_id AND d.is_domain WHERE NOT p.is_domain
          UNION ALL
          SELECT p.id, b.depth + 1, b.path || p.id::varchar FROM project p JOIN below b ON p.parent_id = b.id
          WHERE NOT p.id = ANY(b.path) AND b.depth <= ${maxDepth}
        )
        SELECT DISTINCT id FROM below WHERE depth > ${maxDepth} ORDER BY id`.execute(db);
      return rows.map((r) => r.id);
    },

    /** Ids of a domain's projects (not the domain itself), by id. */
    async projectIdsInDomain(domainId: string): Promise<string[]> {
      const rows = await db.selectFrom('project').select('id').where('domain_id', '=', domainId).where('is_domain', '=', false).orderBy('id').execute();
      return rows.map((r) => r.id);
    },

    async listChildren(parentIds: readonly string[]): Promise<ProjectRecord[]> {
      if (parentIds.length === 0) return [];
      return loadRecords(db, await projects().where('parent_id', 'in', parentIds).orderBy('id').execute());
    },

    /** Inserts a project or domain with its tags and options in one transaction. */
    async insertRecord(record: ProjectRecord): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('project')
            .values({
              id: record.id,
              name: record.name,
              domain_id: record.domain_id ?? DOMAIN_ROOT,
              description: record.description,
              enabled: record.enabled,
              parent_id: record.parent_id,
              is_domain: record.is_domain,
              extra: JSON.stringify(record.extra),
            })
            .execute();
          await writeTags(trx, record.id, record.tags);
          await writeOptions(trx, record.id, record.options);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEntry();
        throw error;
      }
    },

    /** Updates one record; `cascadeEnabled` sets `enabled` on these other ids in the same transaction. */
    async updateRecord(id: string, changes: ProjectChanges, cascadeEnabled: readonly string[] = []): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          const set: { name?: string; description?: string | null; enabled?: boolean; extra?: string } = {};
          if (changes.name !== undefined) set.name = changes.name;
          if (changes.description !== undefined) set.description = changes.description;
          if (changes.enabled !== undefined) set.enabled = changes.enabled;
          if (changes.extra !== undefined) set.extra = JSON.stringify(changes.extra);
          if (Object.keys(set).length > 0) await trx.updateTable('project').set(set).where('id', '=', id).execute();
          if (changes.tags !== undefined) await writeTags(trx, id, changes.tags);
          if (changes.options !== undefined) await writeOptions(trx, id, changes.options);
          if (cascadeEnabled.length > 0 && changes.enabled !== undefined) {
            await trx.updateTable('project').set({ enabled: changes.enabled }).where('id', 'in', cascadeEnabled).execute();
          }
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEntry();
        throw error;
      }
    },

    /** Deletes projects (a subtree, leaves and parents together) and what refers to them, atomically. */
    async deleteProjects(ids: readonly string[], now: Date): Promise<void> {
      await db.transaction().execute((trx) => deleteProjectRows(trx, ids, now));
    },

    /**
     * Deletes a domain with its contents in one transaction (Keystone's _delete_domain_contents
     * and the DOMAIN_DELETED callbacks): its projects, groups and users with their memberships,
     * assignments and credentials, its domain-specific roles, its assignments, its SQL config.
     * Returns the ids of the users removed (their tokens need revocation events).
     */
    async deleteDomain(domainId: string, projectIds: readonly string[], now: Date): Promise<{ userIds: string[] }> {
      return db.transaction().execute(async (trx) => {
        await deleteProjectRows(trx, projectIds, now);
        const groupIds = (await trx.selectFrom('group').select('id').where('domain_id', '=', domainId).execute()).map((r) => r.id);
        const userIds = (await trx.selectFrom('user').select('id').where('domain_id', '=', domainId).execute()).map((r) => r.id);
        const actors = [...groupIds, ...userIds];
        if (actors.length > 0) {
          await trx.deleteFrom('assignment').where('actor_id', 'in', actors).execute();
          await trx.deleteFrom('system_assignment').where('actor_id', 'in', actors).execute();
        }
        if (groupIds.length > 0) {
          await trx.deleteFrom('user_group_membership').where('group_id', 'in', groupIds).execute();
          await trx.deleteFrom('expiring_user_group_membership').where('group_id', 'in', groupIds).execute();
          await trx.deleteFrom('group').where('id', 'in', groupIds).execute();
        }
        if (userIds.length > 0) {
          await trx.deleteFrom('user_group_membership').where('user_id', 'in', userIds).execute();
          await trx.deleteFrom('expiring_user_group_membership').where('user_id', 'in', userIds).execute();
          await trx.deleteFrom('credential').where('user_id', 'in', userIds).execute();
          await trx.deleteFrom('application_credential').where('user_id', 'in', userIds).execute();
          await trx.deleteFrom('access_rule').where('user_id', 'in', userIds).execute();
          // local_user, password, nonlocal/federated_user and user_option follow by ON DELETE CASCADE.
          await trx.deleteFrom('user').where('id', 'in', userIds).execute();
        }
        const roleIds = (await trx.selectFrom('role').select('id').where('domain_id', '=', domainId).execute()).map((r) => r.id);
        if (roleIds.length > 0) {
          await trx.deleteFrom('assignment').where('role_id', 'in', roleIds).execute();
          await trx.deleteFrom('system_assignment').where('role_id', 'in', roleIds).execute();
          await trx.deleteFrom('role').where('id', 'in', roleIds).execute();
        }
        await trx.deleteFrom('assignment').where('target_id', '=', domainId).where('type', 'in', ['UserDomain', 'GroupDomain']).execute();
        await trx.deleteFrom('whitelisted_config').where('domain_id', '=', domainId).execute();
        await trx.deleteFrom('sensitive_config').where('domain_id', '=', domainId).execute();
        await trx.deleteFrom('config_register').where('domain_id', '=', domainId).execute();
        await deleteProjectRows(trx, [domainId], now);
        return { userIds };
      });
    },

    /** A project (not a domain); undefined when missing. */
    async getProject(id: string): Promise<ProjectRef | undefined> {
      const row = await projects().where('id', '=', id).where('is_domain', '=', false).executeTakeFirst();
      return row && toProject(row);
    },

    async getDomain(id: string): Promise<DomainRef | undefined> {
      if (id === DOMAIN_ROOT) return undefined;
      const row = await projects().where('id', '=', id).where('is_domain', '=', true).executeTakeFirst();
      return row && toDomain(row);
    },

    async findProjectByName(name: string, domainId: string): Promise<ProjectRef | undefined> {
      const row = await projects()
        .where('name', '=', name)
        .where('domain_id', '=', domainId)
        .where('is_domain', '=', false)
        .executeTakeFirst();
      return row && toProject(row);
    },

    async findDomainByName(name: string): Promise<DomainRef | undefined> {
      const row = await projects()
        .where('name', '=', name)
        .where('domain_id', '=', DOMAIN_ROOT)
        .where('is_domain', '=', true)
        .executeTakeFirst();
      return row && toDomain(row);
    },

    /** Ids of the project's ancestors, nearest first, ending with its domain. */
    async listAncestorIds(projectId: string): Promise<string[]> {
      const ids: string[] = [];
      let current = await projects().where('id', '=', projectId).executeTakeFirst();
      // The depth bound guards against a corrupted cycle; Keystone caps trees at 5 (+ domain).
      for (let depth = 0; current?.parent_id && depth < 64; depth += 1) {
        ids.push(current.parent_id);
        current = await projects().where('id', '=', current.parent_id).executeTakeFirst();
      }
      return ids;
    },

    async createDomain(input: { id?: string; name: string; description?: string; enabled?: boolean }): Promise<DomainRef> {
      const row: ProjectRow = {
        id: input.id ?? newId(),
        name: input.name,
        domain_id: DOMAIN_ROOT,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        parent_id: null,
        is_domain: true,
        extra: '{}',
      };
      await db.insertInto('project').values(row).execute();
      return toDomain(row);
    },

    async createProject(input: {
      id?: string;
      name: string;
      domain_id: string;
      parent_id?: string;
      description?: string;
      enabled?: boolean;
    }): Promise<ProjectRef> {
      const row: ProjectRow = {
        id: input.id ?? newId(),
        name: input.name,
        domain_id: input.domain_id,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        parent_id: input.parent_id ?? input.domain_id,
        is_domain: false,
        extra: '{}',
      };
      await db.insertInto('project').values(row).execute();
      return toProject(row);
    },

    async setEnabled(id: string, enabled: boolean): Promise<void> {
      await db.updateTable('project').set({ enabled }).where('id', '=', id).execute();
    },
  };
}

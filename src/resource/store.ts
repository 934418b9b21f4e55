import type { Kysely } from 'kysely';
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

export type ResourceStore = ReturnType<typeof createResourceStore>;

export function createResourceStore(db: Kysely<KeystoneDatabase>) {
  const projects = () => db.selectFrom('project').select(COLUMNS);
  return {
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

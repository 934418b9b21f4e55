import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';

/** A registered limit: the default for a resource of a service (in a region). */
export interface RegisteredLimitRow {
  readonly id: string;
  readonly service_id: string | null;
  readonly region_id: string | null;
  readonly resource_name: string | null;
  readonly default_limit: number;
  readonly description: string | null;
}

/**
 * A project or domain limit. The limit table keeps only registered_limit_id; service_id,
 * region_id and resource_name are read through it, as Keystone's hybrid properties do.
 */
export interface LimitRow {
  readonly id: string;
  readonly project_id: string | null;
  readonly domain_id: string | null;
  readonly service_id: string | null;
  readonly region_id: string | null;
  readonly resource_name: string | null;
  readonly resource_limit: number;
  readonly description: string | null;
}

/** The identity of a registered limit: service, resource and region (null is a value: IS NULL). */
export interface LimitKey {
  readonly service_id: string;
  readonly resource_name: string;
  readonly region_id: string | null;
}

export interface NewLimit {
  readonly id: string;
  readonly project_id: string | null;
  readonly domain_id: string | null;
  readonly resource_limit: number;
  readonly description: string | null;
  readonly registered_limit_id: string;
}

export type RegisteredLimitChanges = Partial<Omit<RegisteredLimitRow, 'id'>>;

/**
 * Any constant shared by every unified-limit write: the uniqueness checks ("no other registered
 * limit for this service/resource/region", "no other limit of this project for it") and the
 * reference checks (a limit needs its registered limit, a registered limit in use cannot go)
 * read rows that no constraint protects, so writers take turns.
 */
const WRITE_LOCK_KEY = 0x4b53_4c4d; // "KSLM"

const REGISTERED_COLUMNS = ['id', 'service_id', 'region_id', 'resource_name', 'default_limit', 'description'] as const;

/** The queries, over the database or over one transaction. */
export type LimitQueries = ReturnType<typeof limitQueries>;
export type LimitStore = ReturnType<typeof createLimitStore>;

export function createLimitStore(db: Kysely<KeystoneDatabase>) {
  return {
    ...limitQueries(db),
    /** Runs `work` in one transaction holding the unified-limit write lock. */
    async writing<T>(work: (tx: LimitQueries) => Promise<T>): Promise<T> {
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`.execute(trx);
        return work(limitQueries(trx));
      });
    },
  };
}

function limitQueries(db: Kysely<KeystoneDatabase>) {
  const limits = () =>
    db
      .selectFrom('limit as l')
      .leftJoin('registered_limit as r', 'r.id', 'l.registered_limit_id')
      .select(['l.id', 'l.project_id', 'l.domain_id', 'r.service_id', 'r.region_id', 'r.resource_name', 'l.resource_limit', 'l.description'])
      .orderBy('l.internal_id');

  /** `column = value`, or `column IS NULL` for null, as SQLAlchemy's filter_by(x=None) does. */
  const keyMatches = (key: LimitKey) => (eb: ExpressionBuilder<KeystoneDatabase, 'registered_limit'>) =>
    eb.and([
      eb('service_id', '=', key.service_id),
      eb('resource_name', '=', key.resource_name),
      key.region_id === null ? eb('region_id', 'is', null) : eb('region_id', '=', key.region_id),
    ]);

  return {
    async listRegisteredLimits(): Promise<RegisteredLimitRow[]> {
      return db.selectFrom('registered_limit').select(REGISTERED_COLUMNS).orderBy('internal_id').execute();
    },

    async getRegisteredLimit(id: string): Promise<RegisteredLimitRow | undefined> {
      return db.selectFrom('registered_limit').select(REGISTERED_COLUMNS).where('id', '=', id).executeTakeFirst();
    },

    async findRegisteredLimits(key: LimitKey): Promise<RegisteredLimitRow[]> {
      return db.selectFrom('registered_limit').select(REGISTERED_COLUMNS).where(keyMatches(key)).orderBy('internal_id').execute();
    },

    async insertRegisteredLimit(row: RegisteredLimitRow): Promise<void> {
      await db.insertInto('registered_limit').values(row).execute();
    },

    async updateRegisteredLimit(id: string, changes: RegisteredLimitChanges): Promise<void> {
      if (Object.keys(changes).length === 0) return;
      await db.updateTable('registered_limit').set(changes).where('id', '=', id).execute();
    },

    async deleteRegisteredLimit(id: string): Promise<void> {
      await db.deleteFrom('registered_limit').where('id', '=', id).execute();
    },

    async isRegisteredLimitReferenced(id: string): Promise<boolean> {
      return (await db.selectFrom('limit').select('id').where('registered_limit_id', '=', id).limit(1).executeTakeFirst()) !== undefined;
    },

    async listLimits(): Promise<LimitRow[]> {
      return limits().execute();
    },

    async getLimit(id: string): Promise<LimitRow | undefined> {
      return limits().where('l.id', '=', id).executeTakeFirst();
    },

    /** The limits of one project (or domain) on one registered limit's key. */
    async findLimits(owner: { project_id: string } | { domain_id: string }, key: LimitKey): Promise<LimitRow[]> {
      let q = limits().where('r.service_id', '=', key.service_id).where('r.resource_name', '=', key.resource_name);
      q = key.region_id === null ? q.where('r.region_id', 'is', null) : q.where('r.region_id', '=', key.region_id);
      q = 'project_id' in owner ? q.where('l.project_id', '=', owner.project_id) : q.where('l.domain_id', '=', owner.domain_id);
      return q.execute();
    },

    /** Whether the project (or domain) already has a limit on this registered limit. */
    async hasLimitFor(registeredLimitId: string, owner: { project_id: string } | { domain_id: string }): Promise<boolean> {
      let q = db.selectFrom('limit').select('id').where('registered_limit_id', '=', registeredLimitId);
      q = 'project_id' in owner ? q.where('project_id', '=', owner.project_id) : q.where('domain_id', '=', owner.domain_id);
      return (await q.limit(1).executeTakeFirst()) !== undefined;
    },

    async insertLimit(row: NewLimit): Promise<void> {
      await db.insertInto('limit').values(row).execute();
    },

    async updateLimit(id: string, changes: { resource_limit?: number; description?: string }): Promise<void> {
      if (Object.keys(changes).length === 0) return;
      await db.updateTable('limit').set(changes).where('id', '=', id).execute();
    },

    async deleteLimit(id: string): Promise<void> {
      await db.deleteFrom('limit').where('id', '=', id).execute();
    },
  };
}

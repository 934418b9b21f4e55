import { sql, type Kysely } from 'kysely';
import { KEYSTONE_SCHEMA_MIGRATION, MIGRATIONS, type KyselyMigration, type MigrationDb } from '../../migrations/index.js';
import { identifyAlembicHeads, KEYSTONE_2026_HEADS, ZED_HEADS, type KnownKeystoneSchema } from './alembic.js';
import type { Db } from './database.js';
import { KEYSTONE_TABLES, type KeystoneDatabase } from './schema.js';

/**
 * What `migrateToLatest` found: a database without Keystone's schema (we created it, at the
 * 2026 heads), or one made by upstream `keystone-manage db_sync` (left exactly as it was).
 */
export type KeystoneSchemaOrigin = 'created' | 'existing-zed' | 'existing-2026';

export interface MigrateResult {
  keystoneSchema: KeystoneSchemaOrigin;
  /** Migrations run now, in order (empty when the database was already current). */
  applied: string[];
  /** Upstream's alembic heads after migrating, sorted. */
  alembicHeads: string[];
  /** Things an operator should know, e.g. that a Zed schema was not upgraded. */
  warnings: string[];
}

export type IncompatibleDatabaseReason = 'unknown-alembic-heads' | 'newer-schema' | 'unmanaged-keystone-tables';

/** The database is not one keystone-ts may migrate or share. Nothing was changed. */
export class IncompatibleDatabaseError extends Error {
  constructor(
    readonly reason: IncompatibleDatabaseReason,
    message: string,
  ) {
    super(message);
    this.name = 'IncompatibleDatabaseError';
  }
}

/** For `keystone-ts db version`. */
export interface SchemaVersion {
  /** keystone-ts migrations recorded in the database, in run order. */
  applied: string[];
  /** The last of `applied` (the database's keystone-ts schema version), if any. */
  current: string | undefined;
  /** Known migrations not yet applied (the Keystone-schema one only if there is no schema). */
  pending: string[];
  /** Recorded migrations this build does not know: the database is newer than the code. */
  unknown: string[];
  /** Rows of upstream's alembic_version, sorted (empty when absent). */
  alembicHeads: string[];
  keystoneSchema: KnownKeystoneSchema | 'none' | 'unknown';
}

export const MIGRATION_TABLE = 'keystone_ts_migration';

/**
 * Key of the PostgreSQL advisory lock held while migrating, so processes starting together
 * migrate one at a time and the later ones find the work done. Arbitrary; must never change.
 */
const MIGRATION_LOCK_KEY = 4_817_263_051_977;

type MigrationList = ReadonlyArray<readonly [name: string, migration: KyselyMigration]>;

/**
 * Brings the database to this build's schema, in one transaction under an advisory lock:
 * - no Keystone schema → create it (2026 heads) and this project's tables;
 * - Keystone schema from upstream (Zed or 2026 heads) → leave Keystone's tables alone, add only
 *   this project's tables;
 * - anything else (unknown alembic heads, Keystone tables without alembic_version, keystone-ts
 *   migrations this build does not know) → IncompatibleDatabaseError, nothing changed.
 *
 * `migrations` exists for tests; production always runs the static list in migrations/index.ts.
 */
export async function migrateToLatest(
  db: Db,
  options: { migrations?: MigrationList } = {},
): Promise<MigrateResult> {
  const migrations = options.migrations ?? MIGRATIONS;
  return db.kysely
    .transaction()
    // Each statement must see what a process that held the lock before us committed, whatever
    // default_transaction_isolation the server has.
    .setIsolationLevel('read committed')
    .execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`.execute(trx);
      const found = await inspect(trx, migrations);
      const origin = keystoneSchemaOrigin(found);

      await sql`CREATE TABLE IF NOT EXISTS ${sql.id(MIGRATION_TABLE)} (
        name varchar(255) NOT NULL PRIMARY KEY,
        timestamp varchar(255) NOT NULL
      )`.execute(trx);
      const applied: string[] = [];
      for (const [name, migration] of pendingMigrations(migrations, found.recorded, origin === 'created')) {
        await migration.up(trx as unknown as MigrationDb);
        await trx.insertInto('keystone_ts_migration').values({ name, timestamp: new Date().toISOString() }).execute();
        applied.push(name);
      }

      const alembicHeads = await readAlembicHeads(trx);
      await recordMeta(trx, 'alembic_heads', (alembicHeads ?? []).join(' '));
      const warnings =
        origin === 'existing-zed'
          ? [
              `Keystone's schema is Zed's (alembic heads ${ZED_HEADS.expand}, ${ZED_HEADS.contract}); keystone-ts ` +
                `did not upgrade it and never alters Keystone's tables. Upgrade it with upstream ` +
                `keystone-manage db_sync (2026 heads: ${KEYSTONE_2026_HEADS.expand}, ${KEYSTONE_2026_HEADS.contract}); ` +
                `until then 2026-only columns such as mapping.schema_version are absent.`,
            ]
          : [];
      return { keystoneSchema: origin, applied, alembicHeads: alembicHeads ?? [], warnings };
    });
}

/** Read-only: what the database holds, for `keystone-ts db version` and start-up checks. */
export async function schemaVersion(db: Db): Promise<SchemaVersion> {
  const found = await inspect(db.kysely, MIGRATIONS);
  const heads = found.alembicHeads;
  const keystoneSchema =
    heads === undefined ? (found.keystoneTables.length > 0 ? 'unknown' : 'none') : (identifyAlembicHeads(heads) ?? 'unknown');
  const applied = MIGRATIONS.map(([name]) => name).filter((name) => found.recorded.includes(name));
  return {
    applied,
    current: applied.at(-1),
    pending: pendingMigrations(MIGRATIONS, found.recorded, keystoneSchema === 'none').map(([name]) => name),
    unknown: found.unknown,
    alembicHeads: heads ?? [],
    keystoneSchema,
  };
}

/** One line per fact, as `keystone-ts db version` prints it. */
export function formatSchemaVersion(version: SchemaVersion): string {
  const release = { zed: 'Zed', '2026': '2026.1', none: 'no Keystone schema', unknown: 'unknown to this keystone-ts' };
  return [
    `keystone-ts migration: ${version.current ?? 'none'}` +
      (version.pending.length > 0 ? ` (pending: ${version.pending.join(', ')})` : '') +
      (version.unknown.length > 0 ? ` (unknown, newer than this build: ${version.unknown.join(', ')})` : ''),
    `keystone alembic heads: ${version.alembicHeads.length > 0 ? version.alembicHeads.join(', ') : 'none'} ` +
      `(${release[version.keystoneSchema]})`,
  ].join('\n');
}

interface Found {
  /** undefined: no alembic_version table. */
  alembicHeads: string[] | undefined;
  /** Names in keystone_ts_migration (empty if the table does not exist). */
  recorded: string[];
  /** Recorded names this build does not know. */
  unknown: string[];
  /** Keystone tables (and sqlalchemy-migrate's migrate_version) that exist. */
  keystoneTables: string[];
}

async function inspect(db: Kysely<KeystoneDatabase>, migrations: MigrationList): Promise<Found> {
  // Through search_path, as every other query resolves these tables.
  const present = await sql<{ relname: string }>`
    SELECT c.relname FROM pg_catalog.pg_class c
    WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)
      AND c.relname = ANY(${[...KEYSTONE_TABLES, 'migrate_version', MIGRATION_TABLE]})`.execute(db);
  const tables = new Set(present.rows.map((row) => row.relname));
  const recorded = tables.has(MIGRATION_TABLE)
    ? (await db.selectFrom('keystone_ts_migration').select('name').orderBy('name').execute()).map((row) => row.name)
    : [];
  const known = new Set(migrations.map(([name]) => name));
  tables.delete(MIGRATION_TABLE);
  return {
    alembicHeads: tables.has('alembic_version') ? await readAlembicHeads(db) : undefined,
    recorded,
    unknown: recorded.filter((name) => !known.has(name)),
    keystoneTables: [...tables].filter((name) => name !== 'alembic_version').sort(),
  };
}

async function readAlembicHeads(db: Kysely<KeystoneDatabase>): Promise<string[] | undefined> {
  const present = await sql<{ ok: boolean }>`SELECT to_regclass('alembic_version') IS NOT NULL AS ok`.execute(db);
  if (!present.rows[0]?.ok) return undefined;
  const rows = await db.selectFrom('alembic_version').select('version_num').execute();
  return rows.map((row) => row.version_num).sort();
}

function keystoneSchemaOrigin(found: Found): KeystoneSchemaOrigin {
  if (found.unknown.length > 0) {
    throw new IncompatibleDatabaseError(
      'newer-schema',
      `database schema is newer than this keystone-ts: unknown migrations ${found.unknown.join(', ')}; upgrade keystone-ts`,
    );
  }
  if (found.alembicHeads === undefined) {
    if (found.keystoneTables.length === 0) return 'created';
    throw new IncompatibleDatabaseError(
      'unmanaged-keystone-tables',
      `the database has Keystone tables (${found.keystoneTables.slice(0, 5).join(', ')}` +
        `${found.keystoneTables.length > 5 ? ', …' : ''}) but no alembic_version, so their schema version is ` +
        'unknown (a pre-Yoga sqlalchemy-migrate database?); upgrade it with upstream keystone-manage db_sync first',
    );
  }
  switch (identifyAlembicHeads(found.alembicHeads)) {
    case '2026':
      return 'existing-2026';
    case 'zed':
      return 'existing-zed';
    default:
      throw new IncompatibleDatabaseError(
        'unknown-alembic-heads',
        `Keystone's alembic_version has heads ${found.alembicHeads.length > 0 ? found.alembicHeads.join(', ') : '(none)'}, ` +
          `which this keystone-ts does not know; it can share a database at Zed (${ZED_HEADS.expand}, ${ZED_HEADS.contract}) ` +
          `or 2026.1 (${KEYSTONE_2026_HEADS.expand}, ${KEYSTONE_2026_HEADS.contract})`,
      );
  }
}

function pendingMigrations(
  migrations: MigrationList,
  recorded: readonly string[],
  createKeystoneSchema: boolean,
): MigrationList {
  return migrations.filter(
    ([name]) => !recorded.includes(name) && (name !== KEYSTONE_SCHEMA_MIGRATION || createKeystoneSchema),
  );
}

/** Upserts a keystone_ts_meta row, writing nothing when the value is already there. */
async function recordMeta(db: Kysely<KeystoneDatabase>, key: string, value: string): Promise<void> {
  const present = await sql<{ ok: boolean }>`SELECT to_regclass('keystone_ts_meta') IS NOT NULL AS ok`.execute(db);
  if (!present.rows[0]?.ok) return;
  await db
    .insertInto('keystone_ts_meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }).where('keystone_ts_meta.value', 'is distinct from', value))
    .execute();
}

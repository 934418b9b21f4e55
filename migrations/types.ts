import type { Kysely } from 'kysely';

/**
 * What a migration receives. Deliberately untyped: a migration describes the schema as it was
 * when the migration was written, so it must not compile against today's KeystoneDatabase.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MigrationDb = Kysely<any>;

/** A kysely migration (kysely's `Migration` shape, typed with {@link MigrationDb}). */
export interface KyselyMigration {
  up(db: MigrationDb): Promise<void>;
  down?(db: MigrationDb): Promise<void>;
}

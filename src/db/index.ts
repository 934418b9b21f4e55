/** The database layer's public surface (see docs/decisions/0001-database-layer.md). */
export { openDatabase, type Db, type DatabaseKind, type OpenDatabaseOptions } from './database.js';
export {
  formatSchemaVersion,
  IncompatibleDatabaseError,
  migrateToLatest,
  schemaVersion,
  type IncompatibleDatabaseReason,
  type KeystoneSchemaOrigin,
  type MigrateResult,
  type SchemaVersion,
} from './migrate.js';
export { KEYSTONE_2026_HEADS, ZED_HEADS, type AlembicHeads, type KnownKeystoneSchema } from './alembic.js';
export { dateFromEpochMicros, epochMicros } from './values.js';
export * from './schema.js';

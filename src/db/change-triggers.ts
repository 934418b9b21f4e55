import { sql } from 'kysely';
import { createChangeTrigger, WATCHED_TABLES } from '../../migrations/0003_keystone_ts_change_notifications.js';
import type { Db } from './database.js';

/**
 * Re-creates change triggers that are missing. An upstream Keystone migration that rebuilds a
 * table drops its trigger with it, and cache invalidation would then stop silently; checking
 * at every start turns that into a repaired trigger and a log line. Returns the tables fixed.
 */
export async function ensureChangeTriggers(db: Db): Promise<string[]> {
  const present = await sql<{ table: string }>`
    SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE t.tgname = 'keystone_ts_changes'`.execute(db.kysely);
  const have = new Set(present.rows.map((r) => r.table));
  const missing = WATCHED_TABLES.filter((table) => !have.has(table));
  for (const table of missing) {
    try {
      await createChangeTrigger(db.kysely, table);
    } catch (error) {
      // Another process starting at the same moment restored it first (duplicate_object).
      if ((error as { code?: string }).code !== '42710') throw error;
    }
  }
  return missing;
}

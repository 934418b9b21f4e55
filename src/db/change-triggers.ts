import { sql } from 'kysely';
import { createChangeTrigger, triggerNames, WATCHED_TABLES } from '../../migrations/0003_keystone_ts_change_notifications.js';
import { TOKEN_RESTRICTION_TABLES } from '../../migrations/0005_keystone_ts_token_restriction.js';
import type { Db } from './database.js';

/**
 * Re-creates change triggers that are missing. An upstream Keystone migration that rebuilds a
 * table drops its triggers with it, and cache invalidation would then stop silently; checking
 * at every start turns that into a repaired trigger and a log line. Returns `table.trigger` of
 * each one restored.
 */
export async function ensureChangeTriggers(db: Db): Promise<string[]> {
  const present = await sql<{ table: string; name: string }>`
    SELECT c.relname AS table, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE t.tgname LIKE 'keystone_ts_changes%'`.execute(db.kysely);
  const have = new Set(present.rows.map((r) => `${r.table}.${r.name}`));
  const restored: string[] = [];
  // Our own watched tables come with later migrations; they are checked the same way.
  for (const table of [...WATCHED_TABLES, ...TOKEN_RESTRICTION_TABLES]) {
    for (const name of triggerNames(table)) {
      if (have.has(`${table}.${name}`)) continue;
      try {
        await createChangeTrigger(db.kysely, table, name);
      } catch (error) {
        // Another process starting at the same moment restored it first (duplicate_object).
        if ((error as { code?: string }).code !== '42710') throw error;
      }
      restored.push(`${table}.${name}`);
    }
  }
  return restored;
}

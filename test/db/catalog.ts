/**
 * A database's schema as sorted lines of text, read from pg_catalog, so two schemas can be
 * compared with a set difference and a failure prints exactly what differs.
 */
import { sql, type Kysely } from 'kysely';

export interface SnapshotOptions {
  /**
   * Objects to leave out, by name: a table (with its columns, constraints, indexes, triggers and
   * sequences), or a trigger, function or enum type of that name.
   */
  exclude?: (name: string) => boolean;
}

export async function schemaSnapshot<DB>(db: Kysely<DB>, options: SnapshotOptions = {}): Promise<string[]> {
  const keep = (name: string): boolean => !(options.exclude?.(name) ?? false);
  const lines: string[] = [];

  const tables = await sql<{ table: string }>`
    SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`.execute(db);
  for (const { table } of tables.rows) if (keep(table)) lines.push(`table ${table}`);

  // Position among live columns: PostgreSQL never reuses a dropped column's attnum.
  const columns = await sql<{ table: string; column: string; position: number; type: string; notnull: boolean; default: string | null }>`
    SELECT c.relname AS table, a.attname AS column,
      row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)::int AS position,
      format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
      pg_get_expr(d.adbin, d.adrelid) AS default
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`.execute(db);
  for (const col of columns.rows) {
    if (!keep(col.table)) continue;
    lines.push(
      `column ${col.table}.${col.column} #${col.position} ${col.type}${col.notnull ? ' NOT NULL' : ''}` +
        (col.default === null ? '' : ` DEFAULT ${col.default}`),
    );
  }

  // contype 'n' (named NOT NULL constraints, PostgreSQL 18+) is already in the column lines.
  const constraints = await sql<{ table: string; name: string; def: string }>`
    SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND k.contype <> 'n'`.execute(db);
  for (const k of constraints.rows) if (keep(k.table)) lines.push(`constraint ${k.table}.${k.name} ${k.def}`);

  // Indexes that back a constraint are covered by the constraint line.
  const indexes = await sql<{ table: string; name: string; def: string }>`
    SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS def
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema()
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)`.execute(db);
  for (const ix of indexes.rows) if (keep(ix.table)) lines.push(`index ${ix.table}.${ix.name} ${ix.def}`);

  const sequences = await sql<{ name: string; type: string; owner: string | null }>`
    SELECT s.relname AS name, format_type(q.seqtypid, NULL) AS type,
      (SELECT t.relname || '.' || a.attname FROM pg_depend d
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a') AS owner
    FROM pg_class s JOIN pg_sequence q ON q.seqrelid = s.oid JOIN pg_namespace n ON n.oid = s.relnamespace
    WHERE n.nspname = current_schema()`.execute(db);
  for (const seq of sequences.rows) {
    if (seq.owner !== null && !keep(seq.owner.split('.')[0] ?? '')) continue;
    lines.push(`sequence ${seq.name} ${seq.type} owned by ${seq.owner ?? '(none)'}`);
  }

  const enums = await sql<{ name: string; labels: string }>`
    SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = current_schema() GROUP BY t.typname`.execute(db);
  for (const e of enums.rows) if (keep(e.name)) lines.push(`enum ${e.name} (${e.labels})`);

  const triggers = await sql<{ table: string; name: string; def: string }>`
    SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND NOT t.tgisinternal`.execute(db);
  for (const t of triggers.rows) if (keep(t.table) && keep(t.name)) lines.push(`trigger ${t.table}.${t.name} ${t.def}`);

  const functions = await sql<{ name: string; args: string; result: string; language: string }>`
    SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
      pg_get_function_result(p.oid) AS result, l.lanname AS language
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
    WHERE n.nspname = current_schema()`.execute(db);
  for (const f of functions.rows) {
    if (keep(f.name)) lines.push(`function ${f.name}(${f.args}) returns ${f.result} language ${f.language}`);
  }

  return lines.sort();
}

/** Lines only in `a` and only in `b`. */
export function schemaDiff(a: readonly string[], b: readonly string[]): { onlyInA: string[]; onlyInB: string[] } {
  const setA = new Set(a);
  const setB = new Set(b);
  return { onlyInA: a.filter((line) => !setB.has(line)), onlyInB: b.filter((line) => !setA.has(line)) };
}

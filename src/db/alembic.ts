/**
 * Upstream Keystone records its schema version in `alembic_version`: one row per branch head,
 * `expand` and `contract` (spec §6). These are the two states keystone-ts can share a database
 * with. Anything else is a schema we have not checked, and we refuse it (migrate.ts).
 */
export interface AlembicHeads {
  readonly expand: string;
  readonly contract: string;
}

/** Debian bookworm's Keystone 22 (Zed): the first alembic release, no-op initial heads. */
export const ZED_HEADS: AlembicHeads = { expand: '29e87d24a316', contract: 'e25ffa003242' };

/**
 * Upstream master 2026 (2026.1). Relative to Zed: mapping.schema_version, idx_project_id,
 * two revocation_event indexes, and the bobcat constraint fixes (spec §6).
 */
export const KEYSTONE_2026_HEADS: AlembicHeads = { expand: '742c857f1dfb', contract: 'c88cdce8f248' };

export type KnownKeystoneSchema = 'zed' | '2026';

/** Which known release these heads are, or undefined. Row order in alembic_version is irrelevant. */
export function identifyAlembicHeads(heads: readonly string[]): KnownKeystoneSchema | undefined {
  const sorted = [...heads].sort().join(' ');
  const matches = (known: AlembicHeads): boolean => sorted === [known.expand, known.contract].sort().join(' ');
  if (matches(KEYSTONE_2026_HEADS)) return '2026';
  if (matches(ZED_HEADS)) return 'zed';
  return undefined;
}

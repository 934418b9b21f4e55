import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';

/**
 * A process-wide generation number that moves whenever data that validated tokens depend on may
 * have changed: users, projects, roles, assignments, revocation events, the catalog. Caches tag
 * entries with the generation they were computed at and drop them when it moves.
 *
 * The database raises the signal (statement triggers → pg_notify, see migrations), so writes by
 * any process, including an upstream Python Keystone sharing the database, reach every process.
 * While the listening connection is down, every read returns a new generation: nothing is
 * cached rather than anything served stale.
 */
export interface ChangeFeed {
  readonly generation: number;
  /** Called by this process after its own writes commit, without waiting for the notification. */
  bump(): void;
  close(): Promise<void>;
}

export const CHANGE_CHANNEL = 'keystone_ts_changes';

export interface Listener {
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
}

export async function createChangeFeed(source: Listener | null, log: (message: string) => void = () => {}): Promise<ChangeFeed> {
  let generation = 0;
  let healthy = false;
  let unlisten: (() => Promise<void>) | undefined;
  if (source) {
    try {
      unlisten = await source.listen(CHANGE_CHANNEL, () => {
        generation += 1;
      });
      healthy = true;
    } catch (error) {
      log(`change notifications unavailable, caching disabled: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return {
    get generation() {
      if (!healthy) generation += 1;
      return generation;
    },
    bump() {
      generation += 1;
    },
    async close() {
      healthy = false;
      // The database may already be closed by its owner; there is nothing left to unsubscribe.
      await unlisten?.().catch(() => undefined);
    },
  };
}

/**
 * Moves the generation after every write statement this process runs, so its own changes are
 * visible to its own next request at once, without waiting for the notification round trip.
 */
export function trackWrites(changes: ChangeFeed): KyselyPlugin {
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      if (args.result.numAffectedRows !== undefined || args.result.numChangedRows !== undefined) changes.bump();
      return args.result;
    },
  };
}

/**
 * A loader whose result is kept while the generation stands still. A result computed while the
 * generation moved is returned but not kept: it may predate the change.
 */
export function cachedUntilChange<T>(changes: ChangeFeed, load: () => Promise<T>): () => Promise<T> {
  let cached: { generation: number; value: T } | undefined;
  return async () => {
    const generation = changes.generation;
    if (cached && cached.generation === generation) return cached.value;
    const value = await load();
    if (changes.generation === generation) cached = { generation, value };
    return value;
  };
}

/** {@link cachedUntilChange} per key, for at most `maxEntries` keys (oldest dropped first). */
export function keyedCacheUntilChange<K, T>(changes: ChangeFeed, maxEntries: number, load: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const entries = new Map<K, { generation: number; value: T }>();
  return async (key: K) => {
    const generation = changes.generation;
    const hit = entries.get(key);
    if (hit && hit.generation === generation) return hit.value;
    const value = await load(key);
    if (changes.generation === generation) {
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { generation, value });
    }
    return value;
  };
}

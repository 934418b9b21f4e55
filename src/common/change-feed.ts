import {
  ColumnNode,
  UpdateQueryNode,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';

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
  const bookkeeping = new WeakSet<object>();
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (isBookkeepingUpdate(args.node)) bookkeeping.add(args.queryId);
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const affected = args.result.numAffectedRows ?? args.result.numChangedRows;
      if (affected !== undefined && affected > 0n && !bookkeeping.has(args.queryId)) changes.bump();
      return args.result;
    },
  };
}

/**
 * Columns that record authentication attempts and activity. They decide whether a *login*
 * succeeds, never whether an issued token is valid, so writing them must not drop every
 * cached token: with lockout enabled, every login writes them.
 */
export const BOOKKEEPING_COLUMNS: ReadonlySet<string> = new Set(['failed_auth_count', 'failed_auth_at', 'last_active_at', 'last_used_at']);

function isBookkeepingUpdate(node: RootOperationNode): boolean {
  if (!UpdateQueryNode.is(node) || !node.updates || node.updates.length === 0) return false;
  return node.updates.every((update) => ColumnNode.is(update.column) && BOOKKEEPING_COLUMNS.has(update.column.column.name));
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
  // Single flight: concurrent misses for one key share one load instead of each querying.
  const inflight = new Map<K, { generation: number; promise: Promise<T> }>();
  return (key: K) => {
    const generation = changes.generation;
    const hit = entries.get(key);
    if (hit && hit.generation === generation) return Promise.resolve(hit.value);
    const pending = inflight.get(key);
    if (pending && pending.generation === generation) return pending.promise;
    const promise = load(key).then(
      (value) => {
        if (inflight.get(key)?.promise === promise) inflight.delete(key);
        if (changes.generation === generation) {
          entries.delete(key);
          if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
          entries.set(key, { generation, value });
        }
        return value;
      },
      (error: unknown) => {
        if (inflight.get(key)?.promise === promise) inflight.delete(key);
        throw error;
      },
    );
    inflight.set(key, { generation, promise });
    return promise;
  };
}

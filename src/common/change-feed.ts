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

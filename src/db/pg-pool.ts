import pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { TEXT_PARSERS, normalizeParameters } from './values.js';

/**
 * Per-pool type parsers (instead of mutating the process-wide `pg.types`, which would also change
 * every other pg user in the process, e.g. a test harness or a library).
 */
export function pgTypeParsers(): pg.CustomTypesConfig {
  const getTypeParser = (oid: number, format?: 'text' | 'binary'): unknown => {
    const ours = TEXT_PARSERS[oid];
    if (ours !== undefined && (format ?? 'text') === 'text') return ours;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  };
  return { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] };
}

/**
 * The `pg.Pool` as kysely sees it, with our parameter normalisation (Dates as UTC text, see
 * values.ts) in front of every query. kysely keys its connection objects by client identity, so
 * each pg client keeps one wrapper for its lifetime.
 */
export class PgPool implements PostgresPool {
  readonly #pool: pg.Pool;
  readonly #wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.#pool.connect();
    let wrapper = this.#wrappers.get(client);
    if (!wrapper) {
      const query = async (sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<unknown>> => {
        const result = await client.query(sql, normalizeParameters(parameters));
        return {
          command: result.command as PostgresQueryResult<unknown>['command'],
          rowCount: result.rowCount ?? 0,
          rows: result.rows,
        };
      };
      wrapper = { query: query as PostgresPoolClient['query'], release: () => client.release() };
      this.#wrappers.set(client, wrapper);
    }
    return wrapper;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}

/** Channel names are quoted identifiers; we refuse the characters that would need escaping. */
const CHANNEL_NAME = /^[A-Za-z0-9_.:-]{1,63}$/;

export function quoteChannel(channel: string): string {
  if (!CHANNEL_NAME.test(channel)) {
    throw new RangeError(`invalid LISTEN channel name ${JSON.stringify(channel)}: use 1-63 of [A-Za-z0-9_.:-]`);
  }
  return `"${channel}"`;
}

type Listener = (payload: string) => void;

/**
 * LISTEN/NOTIFY on one dedicated connection per Db (a pooled connection would be handed to other
 * queries and lose its LISTENs). Other processes publish with `SELECT pg_notify(channel, text)`.
 *
 * If the connection drops (server restart, failover, idle kill), it reconnects with backoff and
 * listens again. Notifications sent while it was down are lost — PostgreSQL does not queue them —
 * so `onReconnect` subscribers (cache owners) should treat a reconnect as "everything may have
 * changed".
 */
export class PgListener {
  readonly #config: pg.ClientConfig;
  readonly #onError: (error: Error) => void;
  readonly #channels = new Map<string, Set<Listener>>();
  readonly #reconnectListeners = new Set<() => void>();
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = 100;
  #closed = false;
  /** LISTEN / UNLISTEN run one at a time so a quick listen-unlisten-listen keeps its order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(config: pg.ClientConfig, onError: (error: Error) => void) {
    this.#config = config;
    this.#onError = onError;
  }

  async listen(channel: string, onPayload: Listener): Promise<() => Promise<void>> {
    const quoted = quoteChannel(channel);
    return this.#serial(async () => {
      if (this.#closed) throw new Error('the database is closed');
      let listeners = this.#channels.get(channel);
      if (!listeners) {
        const client = await this.#connected();
        await client.query(`LISTEN ${quoted}`);
        listeners = new Set();
        this.#channels.set(channel, listeners);
      }
      // A fresh wrapper per call, so the same function subscribed twice unsubscribes once each.
      const subscription: Listener = (payload) => onPayload(payload);
      listeners.add(subscription);
      return () => this.#unlisten(channel, quoted, subscription);
    });
  }

  /** Called after the listening connection was re-established (notifications may be lost). */
  onReconnect(callback: () => void): () => void {
    this.#reconnectListeners.add(callback);
    return () => this.#reconnectListeners.delete(callback);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#queue.catch(() => undefined);
    const client = this.#client;
    this.#client = undefined;
    this.#channels.clear();
    if (client) await client.end().catch(() => undefined);
  }

  #unlisten(channel: string, quoted: string, subscription: Listener): Promise<void> {
    return this.#serial(async () => {
      const listeners = this.#channels.get(channel);
      if (!listeners?.delete(subscription) || listeners.size > 0) return;
      this.#channels.delete(channel);
      // If the connection is down there is nothing to UNLISTEN; the reconnect skips the channel.
      if (this.#client && !this.#closed) await this.#client.query(`UNLISTEN ${quoted}`);
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #connected(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(this.#config);
    client.on('notification', (message) => {
      for (const listener of this.#channels.get(message.channel) ?? []) {
        try {
          listener(message.payload ?? '');
        } catch (error) {
          this.#onError(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    await client.connect();
    this.#client = client;
    this.#retryDelayMs = 100;
    return client;
  }

  #lost(client: pg.Client, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    if (this.#closed) return;
    if (error) this.#onError(error);
    void client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#channels.size === 0 || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#serial(async () => {
        if (this.#closed || this.#channels.size === 0) return;
        const client = await this.#connected();
        for (const channel of this.#channels.keys()) await client.query(`LISTEN ${quoteChannel(channel)}`);
        for (const callback of this.#reconnectListeners) callback();
      }).catch((error: unknown) => {
        this.#onError(error instanceof Error ? error : new Error(String(error)));
        this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 5000);
        // A half-open client that failed its LISTEN is dropped and retried from scratch.
        const client = this.#client;
        this.#client = undefined;
        void client?.end().catch(() => undefined);
        this.#scheduleReconnect();
      });
    }, this.#retryDelayMs);
    this.#retryTimer.unref();
  }
}

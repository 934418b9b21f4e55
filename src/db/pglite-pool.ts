import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { normalizeParameters } from './values.js';

/**
 * kysely's PostgresDialect wants a `pg`-like pool. PGlite is one PostgreSQL session, so this pool
 * has exactly one client: `connect()` hands it out and queues every other caller until
 * `release()`. A kysely transaction holds the client from BEGIN to COMMIT, so concurrent
 * transactions run one after the other instead of interleaving their statements in the one
 * session (which would silently merge them into a single transaction).
 */
export class PGlitePool implements PostgresPool {
  readonly #pglite: PGlite;
  readonly #client: PostgresPoolClient;
  readonly #waiting: { resolve: (client: PostgresPoolClient) => void; reject: (error: Error) => void }[] = [];
  #held = false;
  #ended = false;
  #closing: Promise<void> | undefined;
  readonly #onStall: (error: Error) => void;
  readonly #stallWarningMs: number;

  /**
   * `onStall` hears about callers waiting longer than `stallWarningMs`: on PGlite the
   * classic cause is a query through `db.kysely` inside a `transaction().execute(trx => …)` that
   * should have used `trx` — it waits for the connection its own transaction holds, forever.
   * (On PostgreSQL the same code runs, on another connection, without seeing the transaction.)
   */
  constructor(pglite: PGlite, onStall: (error: Error) => void, stallWarningMs = 10_000) {
    this.#pglite = pglite;
    this.#onStall = onStall;
    this.#stallWarningMs = stallWarningMs;
    const query = async (sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<unknown>> => {
      const result = await pglite.query(sql, normalizeParameters(parameters), { rowMode: 'object' });
      return {
        // kysely only reads `command` to decide whether rowCount is an affected-row count.
        command: (result.command ?? 'SELECT') as PostgresQueryResult<unknown>['command'],
        // rowCount is per statement; affectedRows (older PGlite) sums a multi-statement string.
        rowCount: result.rowCount ?? result.affectedRows ?? 0,
        rows: result.rows,
      };
    };
    this.#client = {
      query: query as PostgresPoolClient['query'],
      release: () => this.#release(),
    };
  }

  connect(): Promise<PostgresPoolClient> {
    if (this.#ended) return Promise.reject(new Error('the PGlite database is closed'));
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#client);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onStall(
          new Error(
            `waited ${this.#stallWarningMs / 1000}s for PGlite's only connection: is a query using db.kysely ` +
              'inside a transaction that holds it (use the transaction object instead)?',
          ),
        );
      }, this.#stallWarningMs);
      timer.unref();
      this.#waiting.push({
        resolve: (client) => {
          clearTimeout(timer);
          resolve(client);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Runs `fn` while holding the session, so it never lands inside someone's open transaction. */
  async exclusive<T>(fn: (pglite: PGlite) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(this.#pglite);
    } finally {
      client.release();
    }
  }

  end(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Take the session like any caller: whoever queued earlier finishes first, so closing never
    // cuts a transaction; whoever queues later is refused.
    await this.connect();
    this.#ended = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error('the PGlite database is closed'));
    await this.#pglite.close();
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve(this.#client);
    else this.#held = false;
  }
}

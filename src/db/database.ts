import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ConfigError } from '../common/errors.js';
import { PGlitePool } from './pglite-pool.js';
import { PgListener, PgPool, pgTypeParsers, quoteChannel } from './pg-pool.js';
import type { KeystoneDatabase } from './schema.js';
import { TEXT_PARSERS } from './values.js';

export type DatabaseKind = 'postgres' | 'pglite';

/** An open database: kysely for queries, plus what kysely does not cover. */
export interface Db {
  readonly kysely: Kysely<KeystoneDatabase>;
  readonly kind: DatabaseKind;
  /** Closes the pool (waiting for the current PGlite transaction) and the listening connection. */
  close(): Promise<void>;
  /**
   * Calls `onPayload` for every `NOTIFY channel` / `pg_notify(channel, payload)` until the
   * returned function is awaited. Channel names: 1-63 of `[A-Za-z0-9_.:-]`, case-sensitive.
   * Delivery is at most once: see {@link Db.onListenerReconnect}.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Called after the listening connection to PostgreSQL was lost and re-established; NOTIFYs sent
   * in between are lost, so a cache kept fresh by `listen` should drop everything. Never called
   * on PGlite (in-process, nothing to lose).
   */
  onListenerReconnect(callback: () => void): () => void;
  /**
   * PGlite only: the data directory as a tarball (e.g. a backup, or a test template to open with
   * `pgliteLoadDataDir`). Taken between transactions. Undefined for PostgreSQL (use pg_dump).
   */
  readonly dumpDataDir?: () => Promise<Blob>;
}

export interface OpenDatabaseOptions {
  /** Connections in the pg pool (default 10). PGlite always has exactly one. */
  poolSize?: number;
  /**
   * Errors that belong to no caller: an idle pooled connection dropped, the LISTEN connection
   * lost, a `listen` callback that threw, a caller waiting over 10 s for PGlite's only connection
   * (see PGlitePool). Default: written to stderr.
   */
  onError?: (error: Error) => void;
  /** PGlite with `pglite://memory` only: start from this data-directory tarball (see dumpDataDir). */
  pgliteLoadDataDir?: Blob;
}

/**
 * Opens `postgresql://…` / `postgres://…` (pg pool) or `pglite://memory` / `pglite:///abs/dir`
 * (embedded PGlite; the directory is created). Both go through kysely's PostgresDialect with the
 * same value normalisation (values.ts). Fails fast if the database cannot be reached.
 */
export async function openDatabase(url: string, opts: OpenDatabaseOptions = {}): Promise<Db> {
  const onError = opts.onError ?? ((error: Error) => console.error(`keystone-ts db: ${error.message}`));
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return openPostgres(url, opts.poolSize ?? 10, onError);
    case 'pglite':
      return openPGlite(pgliteDataDir(url), opts.pgliteLoadDataDir, onError);
    default:
      throw new ConfigError(
        `[database] connection: unsupported URL scheme ${scheme === undefined ? `in "${redact(url)}"` : `"${scheme}:"`}` +
          ' (expected postgresql://, postgres://, pglite://memory or pglite:///absolute/dir)',
      );
  }
}

/** `pglite://memory` → undefined (in memory); `pglite:///abs/dir` → '/abs/dir'. */
function pgliteDataDir(url: string): string | undefined {
  const rest = url.slice('pglite://'.length);
  if (rest === 'memory') return undefined;
  const dir = decodeURIComponent(rest.split(/[?#]/)[0] ?? '');
  if (!path.isAbsolute(dir)) {
    throw new ConfigError(
      `[database] connection: "${url}" must be pglite://memory or pglite:///absolute/dir (three slashes)`,
    );
  }
  return path.normalize(dir);
}

async function openPGlite(
  dataDir: string | undefined,
  loadDataDir: Blob | undefined,
  onError: (error: Error) => void,
): Promise<Db> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const parsers = { ...TEXT_PARSERS } as Record<number, (text: string) => unknown>;
  // One options object: PGlite ignores its second argument when the first is not a string.
  const pglite = new PGlite({
    parsers,
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(loadDataDir !== undefined && dataDir === undefined ? { loadDataDir } : {}),
  });
  await pglite.waitReady;
  // PGlite's default is already UTC; set it anyway so SQL like localtimestamp is naive UTC, as
  // Keystone stores it (spec §6), whatever the build's default becomes.
  await pglite.exec(`SET TIME ZONE 'UTC'`);
  const pool = new PGlitePool(pglite, onError);
  const kysely = new Kysely<KeystoneDatabase>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    kind: 'pglite',
    close: () => kysely.destroy(),
    // LISTEN inside someone else's open transaction would only take effect at their COMMIT (and
    // never after a ROLLBACK), so we take the session first.
    listen: async (channel, onPayload) => {
      const quoted = quoteChannel(channel);
      return pool.exclusive(async (session) => {
        const subscription = (payload: string): void => onPayload(payload);
        await session.listen(quoted, subscription);
        return () => pool.exclusive((s) => s.unlisten(quoted, subscription));
      });
    },
    onListenerReconnect: () => () => undefined,
    dumpDataDir: () => pool.exclusive((session) => session.dumpDataDir('none')),
  };
}

async function openPostgres(url: string, poolSize: number, onError: (error: Error) => void): Promise<Db> {
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new ConfigError(`[database] pool size must be a positive integer, got ${poolSize}`);
  }
  const config: pg.ClientConfig = { connectionString: url, types: pgTypeParsers() };
  const pgPool = new pg.Pool({ ...config, max: poolSize });
  // An idle client whose connection drops emits 'error' on the pool; unhandled, it kills the process.
  pgPool.on('error', onError);
  const kysely = new Kysely<KeystoneDatabase>({
    dialect: new PostgresDialect({
      pool: new PgPool(pgPool),
      // Naive UTC for SQL-side clocks (localtimestamp, now()::timestamp), as Keystone stores it.
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(`SET TIME ZONE 'UTC'`));
      },
    }),
  });
  try {
    await kysely.selectNoFrom((eb) => eb.lit(1).as('ok')).execute();
  } catch (error) {
    await kysely.destroy().catch(() => undefined);
    throw error;
  }
  const listener = new PgListener(config, onError);
  return {
    kysely,
    kind: 'postgres',
    close: async () => {
      await listener.close();
      await kysely.destroy();
    },
    listen: (channel, onPayload) => listener.listen(channel, onPayload),
    onListenerReconnect: (callback) => listener.onReconnect(callback),
  };
}

/** A URL for error messages, without its password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

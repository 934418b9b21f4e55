/**
 * A real PostgreSQL for tests, one fresh database per call.
 *
 * - `DATABASE_URL` set: it is the *server* (admin) URL; each call creates `kts_<random>` there
 *   and `drop()` removes it.
 * - otherwise: one throwaway server per test process, started from the Debian/PGDG binaries
 *   (`initdb` into a temp dir, trust auth, 127.0.0.1 on a free port, socket in the temp dir),
 *   stopped and deleted when the process exits. As root, the server runs as `postgres`
 *   (initdb refuses root).
 * - neither works, or `KTS_TEST_POSTGRES=skip` (for a quick PGlite-only run): `{ skip: reason }`,
 *   except under `CI=true`, where it throws, because CI must never pass by silently skipping
 *   PostgreSQL.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const execFileAsync = promisify(execFile);

export interface PostgresDatabase {
  /** URL of a fresh, empty database of its own. */
  url: string;
  /** Drops the database (closing anyone still connected). */
  drop(): Promise<void>;
}

export type PostgresAvailability = PostgresDatabase | { skip: string };

interface Server {
  adminUrl: string;
}

/**
 * The one server of this test process, started on first use. Module state on purpose: the brief
 * of the harness is one server per process, shared by every suite.
 */
let localServer: Promise<Server | { skip: string }> | undefined;

export async function acquirePostgres(): Promise<PostgresAvailability> {
  const server = await serverOrSkip();
  if ('skip' in server) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required when CI=true: ${server.skip}`);
    return server;
  }
  const name = `kts_${randomBytes(6).toString('hex')}`;
  await withAdmin(server.adminUrl, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  return {
    url: databaseUrl(server.adminUrl, name),
    drop: async () => {
      await withAdmin(server.adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

function serverOrSkip(): Promise<Server | { skip: string }> | Server | { skip: string } {
  if (process.env.KTS_TEST_POSTGRES === 'skip') return { skip: 'KTS_TEST_POSTGRES=skip' };
  if (process.env.DATABASE_URL) return { adminUrl: process.env.DATABASE_URL };
  return startLocalServerOnce();
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function startLocalServerOnce(): Promise<Server | { skip: string }> {
  localServer ??= startLocalServer().catch((error: unknown) => ({
    skip: `could not start a local PostgreSQL: ${error instanceof Error ? error.message : String(error)}`,
  }));
  return localServer;
}

/** PG_BIN, then the newest /usr/lib/postgresql/<major>/bin, then `pg_config --bindir`. */
function findPostgresBin(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot).filter((name) => /^\d+$/.test(name));
    majors.sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((major) => path.join(debianRoot, major, 'bin')));
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim());
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}


async function startLocalServer(): Promise<Server | { skip: string }> {
  const bin = findPostgresBin();
  if (!bin) return { skip: 'no PostgreSQL server binaries (set DATABASE_URL, or PG_BIN to the directory of initdb)' };

  // initdb refuses to run as root: run the server as the `postgres` user, which owns the dir.
  let runAs: string[] = [];
  let owner: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    owner = { uid: id('-u'), gid: id('-g') };
    if (!Number.isInteger(owner.uid) || owner.uid <= 0) return { skip: 'running as root and there is no postgres user' };
    runAs = ['runuser', '-u', 'postgres', '--'];
  }
  const argv = (command: string, args: string[]): [string, string[]] => {
    const [first, ...rest] = [...runAs, path.join(bin, command), ...args];
    return [first ?? command, rest];
  };
  const run = async (command: string, args: string[]): Promise<void> => {
    await execFileAsync(...argv(command, args), { timeout: 120_000 });
  };

  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  let started = false;
  const stop = (): void => {
    if (started) {
      spawnSync(...argv('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']), { stdio: 'ignore' });
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // 'exit' covers mocha --exit and normal ends; the signal handlers re-raise after cleaning up.
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }

  await run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  // A port can be taken between probing and binding; try a few.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      // Throwaway data: durability only costs time.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    try {
      await run('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions]);
      started = true;
      return { adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres` };
    } catch (error) {
      if (attempt >= 3) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
        throw new Error(`pg_ctl start failed: ${error instanceof Error ? error.message : String(error)}\n${log}`, {
          cause: error,
        });
      }
    }
  }
}

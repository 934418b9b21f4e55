/**
 * The servers under load, each a child process on a free loopback port: keystone-ts started by its
 * own CLI (`keystone-ts serve`), and the ceiling servers of bench/ceiling-server.ts.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startChild, type Child } from './children.js';
import { freePort } from '../test/support/ports.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(REPO_ROOT, 'bin', 'keystone-ts.js');
const CEILING_SERVER = fileURLToPath(new URL('./ceiling-server.js', import.meta.url));

export interface RunningServer {
  readonly url: string;
  readonly child: Child;
  stop(): Promise<void>;
}


const PROFILE_DIR = process.env['BENCH_CPU_PROF_DIR'];
/** Writing profiles at exit takes a while; the server is only SIGKILLed after this. */
const STOP_GRACE_MS = PROFILE_DIR ? 20_000 : 5_000;

/** `--cpu-prof` for every server process when BENCH_CPU_PROF_DIR is set (profiles written on stop). */
function profilingArgs(label: string): string[] {
  return PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIR, label)}`] : [];
}

export async function startCeilingServer(kind: 'express' | 'node-http', workers: number): Promise<RunningServer> {
  const port = await freePort();
  const label = `${kind}-${workers}w`;
  const child = startChild(label, [...profilingArgs(label), CEILING_SERVER, kind, String(workers), String(port)]);
  try {
    await child.waitForLine(/^ready$/, 30_000);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, child, stop: () => child.stop(STOP_GRACE_MS) };
}

export interface KeystoneOptions {
  readonly label: string;
  readonly workers: number;
  /** Fresh and empty; holds the keys, and the PGlite database when `databaseUrl` is unset. */
  readonly dataDir: string;
  readonly adminPassword: string;
  readonly databaseUrl?: string;
  /** Extra configuration as KEYSTONE_TS_<SECTION>__<OPTION> variables. */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * The environment of the server: nothing inherited that could configure it (KEYSTONE_TS_*, OS_*),
 * everything in the data directory. The key repositories are named explicitly because an existing
 * /etc/keystone/fernet-keys would otherwise be used, as upstream's default path.
 */
function keystoneEnv(options: KeystoneOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('KEYSTONE_TS_') && !name.startsWith('OS_')) env[name] = value;
  }
  return {
    ...env,
    KEYSTONE_TS_DATA: options.dataDir,
    KEYSTONE_TS_KEYSTONE_TS__DATA_DIR: options.dataDir,
    KEYSTONE_TS_FERNET_TOKENS__KEY_REPOSITORY: path.join(options.dataDir, 'fernet-keys'),
    KEYSTONE_TS_CREDENTIAL__KEY_REPOSITORY: path.join(options.dataDir, 'credential-keys'),
    OS_BOOTSTRAP_PASSWORD: options.adminPassword,
    ...(options.databaseUrl ? { KEYSTONE_TS_DATABASE__CONNECTION: options.databaseUrl } : {}),
    ...options.settings,
  };
}

/** Starts `keystone-ts serve` and waits until GET /v3 answers 200 (first start bootstraps). */
export async function startKeystone(options: KeystoneOptions): Promise<RunningServer> {
  const port = await freePort();
  const child = startChild(
    options.label,
    [...profilingArgs(options.label), CLI, 'serve', '--bind', `127.0.0.1:${port}`, '--workers', String(options.workers)],
    { env: keystoneEnv(options), cwd: REPO_ROOT },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  try {
    for (;;) {
      if (child.hasExited()) throw new Error(`${options.label} exited during start-up:\n${child.tail()}`);
      if (Date.now() > deadline) throw new Error(`${options.label} not ready after 120 s:\n${child.tail()}`);
      const status = await fetch(`${url}/v3`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.arrayBuffer().then(() => response.status),
        () => 0,
      );
      if (status === 200) break;
      await sleep(200);
    }
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, child, stop: () => child.stop(STOP_GRACE_MS) };
}

export function passwordLoginBody(password: string): string {
  return JSON.stringify({
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    },
  });
}

/** A project-scoped admin token, by password login over HTTP. */
export async function adminToken(url: string, password: string): Promise<string> {
  const response = await fetch(`${url}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: passwordLoginBody(password),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || !token) throw new Error(`admin login failed: ${response.status} ${text.slice(0, 500)}`);
  return token;
}

/**
 * One validation, checked before it is measured under load: 200, the subject's project scope, and
 * a catalog exactly when one was asked for. Returns the body size for the report.
 */
export async function checkValidation(url: string, token: string, nocatalog: boolean): Promise<number> {
  const response = await fetch(`${url}/v3/auth/tokens${nocatalog ? '?nocatalog' : ''}`, {
    headers: { 'X-Auth-Token': token, 'X-Subject-Token': token },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`validation answered ${response.status}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as { token?: { project?: { id?: string }; catalog?: unknown[] } };
  if (!body.token?.project?.id) throw new Error(`validation body has no project scope: ${text.slice(0, 500)}`);
  const catalogEntries = body.token.catalog?.length ?? 0;
  if (nocatalog ? body.token.catalog !== undefined : catalogEntries === 0) {
    throw new Error(`validation ${nocatalog ? 'with' : 'without'} ?nocatalog has ${catalogEntries} catalog entries`);
  }
  return Buffer.byteLength(text);
}

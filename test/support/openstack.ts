/**
 * The real `openstack` CLI (python-openstackclient, installed into .cache/venv by
 * scripts/setup-openstack-client.sh) against a test server: one set-up for every interop suite.
 */
import assert from 'node:assert/strict';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ROOT, describeResult, killChildren, run, tempDirs, type RunResult } from './cli.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './server.js';

export const OPENSTACK = path.join(ROOT, '.cache', 'venv', 'bin', 'openstack');

/** The bootstrapped admin's password login, without a scope. */
export const ADMIN_LOGIN = {
  OS_AUTH_TYPE: 'password',
  OS_USERNAME: 'admin',
  OS_PASSWORD: ADMIN_PASSWORD,
  OS_USER_DOMAIN_NAME: 'Default',
} as const;

export const ADMIN_PROJECT_SCOPE = { OS_PROJECT_NAME: 'admin', OS_PROJECT_DOMAIN_NAME: 'Default' } as const;

/** ADMIN_LOGIN scoped to the admin project. */
export const AS_ADMIN = { ...ADMIN_LOGIN, ...ADMIN_PROJECT_SCOPE } as const;

export interface OpenstackCli {
  /** The server under test (set in the suite's `before`). */
  server(): TestServer;
  /**
   * `openstack ...args` with `env` (OS_* variables) on top of the server's URL. HOME and the
   * working directory are an empty temporary directory, so no clouds.yaml of the developer's is read.
   */
  openstack(args: readonly string[], env: Readonly<Record<string, string>>): Promise<RunResult>;
  /** The same with `-f json`: must exit 0 without a traceback; the parsed output. */
  openstackJson(args: readonly string[], env: Readonly<Record<string, string>>): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Registers the suite's hooks: a server on a fresh PGlite database and a temporary HOME, both
 * removed afterwards. Without the CLI the suite is skipped, except under CI=true where that fails.
 */
export function openstackCliSuite(tempPrefix: string): OpenstackCli {
  const temps = tempDirs(tempPrefix);
  let db: Db | undefined;
  let server: TestServer | undefined;
  let home = '';

  before(async function () {
    this.timeout(120_000);
    try {
      accessSync(OPENSTACK, fsConstants.X_OK);
    } catch {
      const missing = `${path.relative(ROOT, OPENSTACK)} is missing: run scripts/setup-openstack-client.sh`;
      if (process.env.CI === 'true') throw new Error(`the openstack CLI is required when CI=true: ${missing}`);
      console.log(`      openstack CLI suite skipped: ${missing}`);
      this.skip();
    }
    home = temps.make();
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
  });

  after(async function () {
    this.timeout(30_000);
    await killChildren();
    await server?.close();
    await db?.close();
    temps.cleanup();
  });

  const openstack = (args: readonly string[], env: Readonly<Record<string, string>>) =>
    run(OPENSTACK, args, {
      cwd: home,
      timeoutMs: 45_000,
      env: {
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        LC_ALL: 'C.UTF-8',
        OS_AUTH_URL: `${server!.url}/v3`,
        OS_IDENTITY_API_VERSION: '3',
        OS_INTERFACE: 'public',
        ...env,
      },
    });

  return {
    server: () => server!,
    openstack,
    async openstackJson(args, env) {
      const result = await openstack([...args, '-f', 'json'], env);
      assert.equal(result.code, 0, describeResult(result));
      assert.doesNotMatch(result.stderr, /Traceback/);
      return JSON.parse(result.stdout);
    },
  };
}

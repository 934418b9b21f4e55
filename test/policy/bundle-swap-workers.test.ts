import assert from 'node:assert/strict';
import { request } from 'node:http';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { createBundleStore } from '../../src/policy/bundles.js';
import { killChildren, startServe, tempDirs, type ServeProcess } from '../support/cli.js';
import { acquirePostgres, type PostgresDatabase } from '../support/postgres.js';

const PASSWORD = 'swap-admin-Passw0rd';
const WORKERS = 2;

/**
 * One request on a connection of its own: the cluster master hands each new connection to the
 * next worker in turn, so a run of fresh connections reaches every worker (a keep-alive client
 * would stay on one).
 */
function fresh(url: string, method: string, pathname: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(`${url}${pathname}`, { method, agent: false, headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function login(url: string, scope: unknown, user = { name: 'admin', domain: { id: 'default' } }, password = PASSWORD): Promise<string> {
  const res = await fresh(url, 'POST', '/v3/auth/tokens', {}, { auth: { identity: { methods: ['password'], password: { user: { ...user, password } } }, scope } });
  assert.equal(res.status, 201, res.text);
  return res.headers['x-subject-token'] as string;
}

/**
 * The swap under load: `serve --workers 2` on PostgreSQL answers a steady stream of
 * requests while a bundle is uploaded through the API; no request fails, every worker enforces
 * the new rule within a second, and a broken bundle stored behind the API's back is refused by
 * every worker while the previous rules keep serving.
 */
describe('policy bundle swap under load, serve with 2 workers on PostgreSQL', function () {
  const temps = tempDirs('kts-swap-');
  let pg: PostgresDatabase | undefined;
  let server: ServeProcess;

  before(async function () {
    this.timeout(120_000);
    const acquired = await acquirePostgres();
    if ('skip' in acquired) this.skip();
    pg = acquired;
    const data = path.join(temps.make(), 'data');
    server = await startServe(['--workers', String(WORKERS)], {
      cwd: path.dirname(data),
      timeoutMs: 100_000,
      env: {
        KEYSTONE_TS_DATA: data,
        KEYSTONE_TS_DATABASE__CONNECTION: pg.url,
        KEYSTONE_TS_FERNET_TOKENS__KEY_REPOSITORY: path.join(data, 'fernet-keys'),
        KEYSTONE_TS_CREDENTIAL__KEY_REPOSITORY: path.join(data, 'credential-keys'),
        KEYSTONE_TS_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
        OS_BOOTSTRAP_PASSWORD: PASSWORD,
      },
    });
  });

  after(async function () {
    this.timeout(30_000);
    await server?.stop();
    await killChildren();
    await pg?.drop();
    temps.cleanup();
  });

  it('keeps every request answered, applies the upload in every worker within a second, refuses a broken bundle', async function () {
    this.timeout(60_000);
    const projectAdmin = await login(server.url, { project: { name: 'admin', domain: { id: 'default' } } });
    const systemAdmin = await login(server.url, { system: { all: true } });
    const catalog = () => fresh(server.url, 'GET', '/v3/auth/catalog', { 'X-Auth-Token': projectAdmin });
    assert.equal((await catalog()).status, 200);

    // Steady load from 6 clients until told to stop; every answer is recorded with its time.
    const answers: { at: number; status: number }[] = [];
    let running = true;
    const clients = Array.from({ length: 6 }, async () => {
      while (running) {
        const res = await catalog().catch(() => ({ status: 0 }));
        answers.push({ at: Date.now(), status: res.status });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const upload = await fresh(server.url, 'PUT', '/v4/policy/bundles/default', { 'X-Auth-Token': systemAdmin }, { rules: { 'identity:get_auth_catalog': 'role:no_such_role' } });
    const uploadedAt = Date.now();
    assert.equal(upload.status, 201, upload.text);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    running = false;
    await Promise.all(clients);

    assert.ok(answers.length > 50, `only ${answers.length} answers under load`);
    assert.deepEqual([...new Set(answers.map((a) => a.status))].filter((s) => s !== 200 && s !== 403), [], 'every request answered by policy');
    const late = answers.filter((a) => a.at > uploadedAt + 1_000);
    assert.ok(late.length >= WORKERS * 5, `${late.length} answers after the first second`);
    assert.deepEqual([...new Set(late.map((a) => a.status))], [403], 'a second after the upload, no worker serves the old rule');

    // A bundle that does not build, stored directly (as a faulty tool might): every worker keeps the previous rules.
    const db = await openDatabase(pg!.url);
    try {
      await createBundleStore(db).publish('default', 'oslo', JSON.stringify({ 'identity:get_auth_catalog': 'role:admin or or' }));
    } finally {
      await db.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await Promise.all(Array.from({ length: WORKERS * 6 }, () => catalog()));
    assert.deepEqual([...new Set(after.map((r) => r.status))], [403]);
    for (let i = 0; i < WORKERS * 3; i += 1) {
      const metrics = await fresh(server.url, 'GET', '/metrics', {});
      assert.match(metrics.text, /keystone_ts_policy_bundle_revision 1\b/, 'the refused revision 2 is not in force');
    }
  });
});

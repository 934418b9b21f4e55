import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/db/database.js';
import { acquirePostgres, type PostgresDatabase } from '../support/postgres.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createBundleStore } from '../../src/policy/bundles.js';
import { adminLogin, http, passwordAuth, startTestServer, type TestServer } from '../support/server.js';

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/**
 * Two servers over one PostgreSQL database, as two stateless processes behind a load balancer:
 * a change made through one must reach the other's caches through LISTEN/NOTIFY, never leaving
 * a revoked token or a disabled user valid there.
 */
describe('two servers sharing one PostgreSQL database', function () {
  let pg: PostgresDatabase | undefined;
  let dbs: Db[] = [];
  let a: TestServer;
  let b: TestServer;

  before(async function () {
    const acquired = await acquirePostgres();
    if ('skip' in acquired) this.skip();
    pg = acquired;
    dbs = [await openDatabase(pg.url, { poolSize: 4 }), await openDatabase(pg.url, { poolSize: 4 })];
    await migrateToLatest(dbs[0]!);
    a = await startTestServer(dbs[0]!);
    b = await startTestServer(dbs[1]!, {}, { shareKeysWith: a });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    for (const db of dbs) await db.close();
    await pg?.drop();
  });

  it('sees a revocation made through the other server', async () => {
    const caller = await adminLogin(b.url);
    const victim = await adminLogin(a.url);
    // Validate on B first so B has the token cached.
    assert.equal((await http(b.url, 'GET', '/v3/auth/tokens', { token: caller.token, subject: victim.token })).status, 200);
    assert.equal((await http(a.url, 'DELETE', '/v3/auth/tokens', { token: victim.token, subject: victim.token })).status, 204);
    const revoked = await until(
      async () => (await http(b.url, 'GET', '/v3/auth/tokens', { token: caller.token, subject: victim.token })).status === 404,
      1000,
    );
    assert.ok(revoked, 'the revocation reached the other server within a second');
  });

  it('applies a policy bundle published through one connection in the other server', async () => {
    const caller = await adminLogin(b.url);
    const user = await a.service.providers.identity.createUser({ name: 'bundle-user', domain_id: 'default', password: 'pw-bundle' });
    const project = await a.service.providers.resource.findProjectByName('admin', 'default');
    const member = await a.service.providers.assignments.findGlobalRoleByName('member');
    await a.service.providers.assignments.grant('UserProject', user.id, project!.id, member!.id);
    const login = await http(b.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'pw-bundle', { project: { id: project!.id } }) });
    const token = login.headers.get('x-subject-token')!;
    assert.equal((await http(b.url, 'GET', '/v3/auth/catalog', { token })).status, 200);
    await createBundleStore(dbs[0]!).publish('default', 'oslo', JSON.stringify({ 'identity:get_auth_catalog': 'role:admin' }));
    const applied = await until(async () => (await http(b.url, 'GET', '/v3/auth/catalog', { token })).status === 403, 1000);
    assert.ok(applied, 'the other server applied the bundle within a second');
    assert.equal((await http(b.url, 'GET', '/v3/auth/catalog', { token: caller.token })).status, 200);
    await createBundleStore(dbs[0]!).publish('default', 'oslo', '{}');
  });

  it('sees a user disabled through the other server’s database connection', async () => {
    const user = await a.service.providers.identity.createUser({ name: 'shared-user', domain_id: 'default', password: 'pw-shared' });
    const login = await http(b.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'pw-shared') });
    const token = login.headers.get('x-subject-token')!;
    assert.equal((await http(b.url, 'GET', '/v3/auth/tokens', { token, subject: token })).status, 200);
    await a.service.providers.identity.setEnabled(user.id, false);
    const refused = await until(async () => (await http(b.url, 'GET', '/v3/auth/tokens', { token, subject: token })).status === 401, 1000);
    assert.ok(refused, 'the disabled user was refused by the other server within a second');
  });
});

import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { KEYSTONE_TABLES } from '../../src/db/schema.js';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

/**
 * Multi-row changes are all or nothing: a failure injected into the last statement of each (a
 * trigger that raises) must leave every Keystone table exactly as it was, and the same change
 * then succeeds once the fault is gone.
 */
describeEachDatabase('multi-row changes are atomic', (ctx) => {
  let server: TestServer;
  let admin: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    admin = (await adminLogin(server.url)).token;
    await sql`CREATE OR REPLACE FUNCTION kts_test_injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`.execute(server.service.db.kysely);
  });
  after(async () => {
    await sql`DROP FUNCTION IF EXISTS kts_test_injected_failure() CASCADE`.execute(server.service.db.kysely).catch(() => undefined);
    await server?.close();
  });

  const call = async (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) =>
    http(server.url, method, path, { token: admin, ...(body === undefined ? {} : { body }) });
  const created = async (path: string, member: string, body: Record<string, unknown>) => {
    const res = await call('POST', path, { [member]: body });
    assert.equal(res.status, 201, res.text);
    return res.json[member].id as string;
  };

  /** Every Keystone table's rows, in a stable order. */
  async function snapshot(): Promise<Record<string, unknown[]>> {
    const db = server.service.db.kysely;
    const tables: Record<string, unknown[]> = {};
    for (const table of KEYSTONE_TABLES) {
      const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(db);
      tables[table] = rows.map((row) => JSON.stringify(row)).sort();
    }
    return tables;
  }

  /** Runs `change` with `table` refusing `event`, checks nothing changed, then runs it for real. */
  async function failsWhole(
    table: string,
    event: 'INSERT' | 'DELETE' | 'UPDATE',
    change: () => Promise<{ status: number; text: string }>,
    okStatus: number,
    /** Fails only on the row with this id, so the rows before it are written first. */
    onlyId?: string,
  ) {
    const db = server.service.db.kysely;
    const when = onlyId === undefined ? sql`` : sql`WHEN (OLD.id = ${sql.lit(onlyId)})`;
    await sql`CREATE TRIGGER kts_test_fault BEFORE ${sql.raw(event)} ON ${sql.table(table)} FOR EACH ROW ${when} EXECUTE FUNCTION kts_test_injected_failure()`.execute(db);
    const before = await snapshot();
    let failed;
    try {
      failed = await change();
    } finally {
      await sql`DROP TRIGGER kts_test_fault ON ${sql.table(table)}`.execute(db);
    }
    assert.equal(failed.status, 500, `the injected fault should surface: ${failed.text}`);
    assert.ok(!failed.text.includes('injected failure'), 'database errors are not shown to clients');
    assert.deepEqual(await snapshot(), before);
    const done = await change();
    assert.equal(done.status, okStatus, done.text);
  }

  it('deleting a domain with projects, users, groups, roles and grants', async () => {
    const domain = await created('/v3/domains', 'domain', { name: 'doomed' });
    const project = await created('/v3/projects', 'project', { name: 'p', domain_id: domain });
    const user = await created('/v3/users', 'user', { name: 'u', domain_id: domain, password: 'secret-Passw0rd' });
    const group = await created('/v3/groups', 'group', { name: 'g', domain_id: domain });
    const role = await created('/v3/roles', 'role', { name: 'domain-role', domain_id: domain });
    const reader = await created('/v3/roles', 'role', { name: 'atomic-reader' });
    assert.equal((await call('PUT', `/v3/groups/${group}/users/${user}`)).status, 204);
    assert.equal((await call('PUT', `/v3/projects/${project}/users/${user}/roles/${reader}`)).status, 204);
    assert.equal((await call('PUT', `/v3/projects/${project}/groups/${group}/roles/${role}`)).status, 204);
    assert.equal((await call('PATCH', `/v3/domains/${domain}`, { domain: { enabled: false } })).status, 200);
    // The domain's own row goes last.
    await failsWhole('project', 'DELETE', () => call('DELETE', `/v3/domains/${domain}`), 204);
  });

  it('deleting a user with memberships, grants and credentials', async () => {
    const user = await created('/v3/users', 'user', { name: 'leaving', domain_id: 'default', password: 'secret-Passw0rd' });
    const group = await created('/v3/groups', 'group', { name: 'team', domain_id: 'default' });
    const role = await created('/v3/roles', 'role', { name: 'leaving-role' });
    assert.equal((await call('PUT', `/v3/groups/${group}/users/${user}`)).status, 204);
    assert.equal((await call('PUT', `/v3/domains/default/users/${user}/roles/${role}`)).status, 204);
    assert.equal((await call('POST', '/v3/credentials', { credential: { user_id: user, type: 'cert', blob: 'blob' } })).status, 201);
    await failsWhole('user', 'DELETE', () => call('DELETE', `/v3/users/${user}`), 204);
  });

  it('deleting a role with grants and implication rules', async () => {
    const prior = await created('/v3/roles', 'role', { name: 'prior-atomic' });
    const implied = await created('/v3/roles', 'role', { name: 'implied-atomic' });
    const user = await created('/v3/users', 'user', { name: 'holder', domain_id: 'default' });
    assert.equal((await call('PUT', `/v3/roles/${prior}/implies/${implied}`)).status, 201);
    assert.equal((await call('PUT', `/v3/domains/default/users/${user}/roles/${prior}`)).status, 204);
    await failsWhole('role', 'DELETE', () => call('DELETE', `/v3/roles/${prior}`), 204);
  });

  it('deleting a project tree with ?cascade', async () => {
    const top = await created('/v3/projects', 'project', { name: 'tree-top', domain_id: 'default' });
    const child = await created('/v3/projects', 'project', { name: 'tree-child', domain_id: 'default', parent_id: top });
    const leaf = await created('/v3/projects', 'project', { name: 'tree-leaf', domain_id: 'default', parent_id: child });
    // A subtree is disabled from the bottom up.
    for (const id of [leaf, child, top]) assert.equal((await call('PATCH', `/v3/projects/${id}`, { project: { enabled: false } })).status, 200);
    // The top project's row is deleted after its descendants'.
    await failsWhole('project', 'DELETE', () => call('DELETE', `/v3/projects/${top}?cascade`), 204, top);
  });

  it('creating an identity provider together with its domain', async () => {
    await failsWhole('identity_provider', 'INSERT', () => call('PUT', '/v3/OS-FEDERATION/identity_providers/atomic-idp', { identity_provider: { remote_ids: ['https://atomic.example'] } }), 201);
  });
});

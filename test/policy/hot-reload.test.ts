import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createBundleStore } from '../../src/policy/bundles.js';
import { describeEachDatabase } from '../support/databases.js';
import { childEnv, eventually, runCli } from '../support/cli.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const ADMINS_ONLY = JSON.stringify({ 'identity:get_auth_catalog': 'role:admin' });

const catalogStatus = async (server: TestServer, token: string) => (await http(server.url, 'GET', '/v3/auth/catalog', { token })).status;

for (const engine of ['rego', 'cedar', 'oslo'] as const) {
describeEachDatabase(`policy bundles reload without restart, ${engine} engine`, (ctx) => {
  let server: TestServer;
  let member: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'keystone_ts.policy_engine': engine });
    member = (await projectUserToken(server, `reload-member-${ctx.kind}`, 'member')).token;
  });
  after(async () => server?.close());

  it('applies a published bundle within a second, keeps serving requests in flight, refuses a broken one', async () => {
    assert.equal(await catalogStatus(server, member), 200);
    const bundles = createBundleStore(ctx.db());
    const { token: admin } = await adminLogin(server.url);
    // Load runs while bundles are published: every answer is a policy answer, never an error.
    const inFlight = Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5));
        return catalogStatus(server, member);
      }),
    );
    const revision = await bundles.publish('default', 'oslo', ADMINS_ONLY);
    const statuses = await inFlight;
    assert.ok(statuses.every((s) => s === 200 || s === 403), `unexpected statuses ${[...new Set(statuses)]}`);
    await eventually('the member is refused', async () => ((await catalogStatus(server, member)) === 403 ? true : undefined), { deadlineMs: 1000, intervalMs: 20 });
    assert.equal(await catalogStatus(server, admin), 200);
    assert.match((await http(server.url, 'GET', '/metrics')).text, new RegExp(`keystone_ts_policy_bundle_revision ${revision}\\b`));

    // A bundle that does not build (stored behind the CLI's back) is refused: the rules stay.
    await bundles.publish('default', 'oslo', JSON.stringify({ 'identity:no_such_rule': 'role:admin' }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await catalogStatus(server, member), 403);
    assert.match((await http(server.url, 'GET', '/metrics')).text, new RegExp(`keystone_ts_policy_bundle_revision ${revision}\\b`));

    // The next good bundle applies again.
    await bundles.publish('default', 'oslo', '{}');
    await eventually('the member is allowed again', async () => ((await catalogStatus(server, member)) === 200 ? true : undefined), { deadlineMs: 1000, intervalMs: 20 });
  });
});
}

describe('policy reload from the policy file and the command line', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kts-reload-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('follows edits of the policy file', async () => {
    const db = await openDatabase('pglite://memory');
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, '# nothing overridden yet\n');
    await migrateToLatest(db);
    const server = await startTestServer(db, { 'oslo_policy.policy_file': file });
    try {
      const member = (await projectUserToken(server, 'file-member', 'member')).token;
      assert.equal(await catalogStatus(server, member), 200);
      writeFileSync(file, '"identity:get_auth_catalog": "role:admin"\n');
      await eventually('the edited file applies', async () => ((await catalogStatus(server, member)) === 403 ? true : undefined), { deadlineMs: 3000, intervalMs: 50 });
      writeFileSync(file, '"identity:get_auth_catalog": "role:admin and ("\n');
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await catalogStatus(server, member), 403, 'a broken edit is refused, the previous rules serve');
    } finally {
      await server.close();
      await db.close();
    }
  });

  it('`keystone-ts policy load` stores the next revision; a broken file stores nothing', async () => {
    const dataDir = path.join(dir, 'data');
    const dbUrl = `pglite://${path.join(dataDir, 'db')}`;
    const env = childEnv({ KEYSTONE_TS_DATABASE__CONNECTION: dbUrl });
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, '"identity:get_usr": "role:admin"\n');
    const refused = await runCli(['policy', 'load', broken], { env });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /identity:get_usr/);
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, '"identity:get_auth_catalog": "role:admin"\n');
    const published = await runCli(['policy', 'load', good], { env });
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /policy bundle default revision 1/);
    // The broken file stored nothing: the good one is revision 1.
    const db = await openDatabase(dbUrl);
    try {
      const latest = await createBundleStore(db).latest();
      assert.equal(latest?.revision, 1);
      assert.deepEqual(JSON.parse(latest!.content), { 'identity:get_auth_catalog': 'role:admin' });
    } finally {
      await db.close();
    }
  });
});

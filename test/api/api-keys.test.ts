import assert from 'node:assert/strict';
import { createApiKeyService } from '../../src/api-key/service.js';
import { parseCidr, sourceAllowed } from '../../src/common/cidr.js';
import type { ApiKeyRecord, ApiKeyStore } from '../../src/api-key/store.js';
import type { ChangeFeed } from '../../src/common/change-feed.js';
import type { ValidatedToken } from '../../src/token/provider.js';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, assertDenied, client, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const inOneHour = () => new Date(Date.now() + 3600_000).toISOString();
const UNAUTHORIZED = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

describeEachDatabase('/v4/api-keys and API key authentication', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: ReturnType<typeof client>;
  let adminUserId: string;
  let adminProjectId: string;
  /** Everything the service logged: no secret may ever appear in it. */
  const logged: string[] = [];
  /** The same service listening on IPv6 loopback, to test IPv6 source ranges. */
  let v6: Server | undefined;
  let base6: string | undefined;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), {}, { log: (record) => logged.push(JSON.stringify(record)) });
    base = server.url;
    const login = await adminLogin(base);
    admin = client(base, login.token);
    adminUserId = login.body.token.user.id;
    adminProjectId = login.body.token.project.id;
    try {
      v6 = server.service.app.listen(0, '::1');
      await new Promise<void>((resolve, reject) => v6!.once('listening', resolve).once('error', reject));
      base6 = `http://[::1]:${(v6.address() as AddressInfo).port}`;
    } catch {
      v6 = undefined; // no IPv6 loopback on this host: those assertions are skipped
    }
  });
  after(async () => {
    if (v6) await new Promise((resolve) => v6!.close(resolve));
    await server?.close();
  });

  const withKey = (key: string, method: string, path: string, options: { body?: unknown; url?: string } = {}) =>
    http(options.url ?? base, method, path, { headers: { Authorization: `Bearer ${key}` }, ...(options.body === undefined ? {} : { body: options.body }) });

  let counter = 0;
  async function member() {
    const n = ++counter;
    const user = await projectUserToken(server, `key-owner-${n}`, 'member');
    return { ...user, api: client(base, user.token), n };
  }

  async function createKey(api: ReturnType<typeof client>, body: Record<string, unknown>) {
    const res = await api.post('/v4/api-keys', { api_key: { expires_at: inOneHour(), ...body } });
    assert.equal(res.status, 201, res.text);
    return { key: res.json.token as string, record: res.json.api_key };
  }

  it('creates a key shown once, never again in show, list or the log', async () => {
    const owner = await member();
    const expires = new Date(Date.now() + 7200_000);
    const { key, record } = await createKey(owner.api, { project_id: owner.projectId, description: 'ci deploys', expires_at: expires.toISOString(), allowed_ips: ['127.0.0.1', '10.0.0.0/8'] });
    assert.match(key, /^kts_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$/);
    const secret = key.split('_')[2]!;
    assert.deepEqual(Object.keys(record), ['client_id', 'prefix', 'user_id', 'domain_id', 'project_id', 'description', 'allowed_ips', 'enabled', 'created_at', 'expires_at', 'links']);
    assert.match(record.client_id, /^[0-9a-f-]{36}$/);
    assert.equal(record.prefix, key.slice(0, 16));
    assert.equal(record.user_id, owner.userId);
    assert.equal(record.domain_id, 'default');
    assert.equal(record.project_id, owner.projectId);
    assert.deepEqual(record.allowed_ips, ['127.0.0.1/32', '10.0.0.0/8']);
    assert.equal(record.expires_at, `${expires.toISOString().slice(0, 19)}Z`);
    assert.equal(record.enabled, true);

    const shown = await owner.api.get(`/v4/api-keys/${record.client_id}`);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.api_key, record);
    const listed = await owner.api.get('/v4/api-keys');
    assert.deepEqual(listed.json.api_keys.map((k: { client_id: string }) => k.client_id), [record.client_id]);
    // Used once, it records last_used_at (bookkeeping, not a change that drops caches).
    assert.equal((await withKey(key, 'GET', `/v3/users/${owner.userId}`)).status, 200);
    for (const res of [shown, listed, await owner.api.get(`/v4/api-keys/${record.client_id}`), await admin.get(`/v4/api-keys?user_id=${owner.userId}`)]) {
      assert.ok(!res.text.includes(secret), 'the secret is never shown again');
      assert.ok(!res.text.includes('secret_hash') && !res.text.includes('$2b$'), 'nor its hash');
    }
    // Failures log their reason, never the key.
    await withKey(`${key.slice(0, -1)}x`, 'GET', `/v3/users/${owner.userId}`);
    await http(base, 'GET', `/v3/users/${owner.userId}`, { token: key });
    assert.ok(logged.length > 0);
    assert.ok(!logged.some((line) => line.includes(secret)), 'the secret never reaches the log');
  });

  it('authenticates Authorization: Bearer as the owner with the key’s project scope; never as X-Auth-Token', async () => {
    const owner = await member();
    const other = await member();
    const scoped = await createKey(owner.api, { project_id: owner.projectId });
    const unscoped = await createKey(owner.api, {});
    assert.equal(unscoped.record.project_id, null);

    const self = await withKey(scoped.key, 'GET', `/v3/users/${owner.userId}`);
    assert.equal(self.status, 200, self.text);
    assert.equal(self.json.user.id, owner.userId);
    assertDenied(await withKey(scoped.key, 'GET', `/v3/users/${other.userId}`), 'identity:get_user');
    // project_id:%(target.project.id)s needs the project scope: the scoped key has it, the unscoped one not.
    assert.equal((await withKey(scoped.key, 'GET', `/v3/projects/${owner.projectId}`)).status, 200);
    assertDenied(await withKey(unscoped.key, 'GET', `/v3/projects/${owner.projectId}`), 'identity:get_project');
    assert.equal((await withKey(unscoped.key, 'GET', `/v3/users/${owner.userId}`)).status, 200);
    // A policy decision sees the api_key method.
    const decision = await withKey(scoped.key, 'POST', '/v4/authz/decision', { body: { action: 'identity:get_project', target: { project: { id: owner.projectId } } } });
    assert.equal(decision.status, 200, decision.text);
    assert.equal(decision.json.allow ?? decision.json.decision?.allow ?? decision.json.result?.allow, true, decision.text);

    // Keystone-NG reads keys from Authorization only; X-Auth-Token carries Keystone tokens.
    const asToken = await http(base, 'GET', `/v3/users/${owner.userId}`, { token: scoped.key });
    assert.equal(asToken.status, 401);
    assert.deepEqual(asToken.json, UNAUTHORIZED);
    // A Keystone token in X-Auth-Token wins over an Authorization header.
    const both = await http(base, 'GET', `/v3/users/${other.userId}`, { token: other.token, headers: { Authorization: `Bearer ${scoped.key}` } });
    assert.equal(both.status, 200);
  });

  it('refuses wrong, malformed, expired, disabled and revoked keys with Keystone’s 401, the cached ones included', async () => {
    const owner = await member();
    const { key, record } = await createKey(owner.api, { project_id: owner.projectId });
    const use = (k: string) => withKey(k, 'GET', `/v3/users/${owner.userId}`);
    assert.equal((await use(key)).status, 200); // now verified and cached

    const [, prefix, secret] = key.split('_');
    const flipped = `${secret!.slice(0, -1)}${secret!.endsWith('a') ? 'b' : 'a'}`;
    for (const bad of [`kts_${prefix}_${flipped}`, `kts_${'A'.repeat(12)}_${secret}`, `kts_${prefix}`, `kts_${prefix}_${secret}x`, 'kts_']) {
      const res = await use(bad);
      assert.equal(res.status, 401, bad);
      assert.deepEqual(res.json, UNAUTHORIZED);
    }

    // Disabled: refused at once (the verified key is dropped from the cache), enabled again: works.
    assert.equal((await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { enabled: false } })).json.api_key.enabled, false);
    assert.equal((await use(key)).status, 401);
    assert.equal((await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { enabled: true } })).status, 200);
    assert.equal((await use(key)).status, 200);

    // Revoked: refused at once, for good; a second revoke and any change are conflicts.
    const revoked = await owner.api.post(`/v4/api-keys/${record.client_id}/revoke`);
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.json.api_key.revoked_by, owner.userId);
    assert.match(revoked.json.api_key.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(revoked.json.api_key.enabled, false);
    const refused = await use(key);
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.json, UNAUTHORIZED);
    // Revoking again succeeds (NG's revoke is idempotent) and keeps the first revocation.
    const again = await admin.post(`/v4/api-keys/${record.client_id}/revoke`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json.api_key, revoked.json.api_key);
    // Enabling a revoked key is a conflict (NG's), and changes nothing.
    const reEnable = await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { enabled: true } });
    assert.equal(reEnable.status, 409);
    assert.equal(reEnable.json.error.code, 409);
    assert.equal((await owner.api.get(`/v4/api-keys/${record.client_id}`)).json.api_key.enabled, false);
    const described = await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { description: 'leaked 2026-11-23' } });
    assert.equal(described.status, 200);
    assert.equal(described.json.api_key.enabled, false);
    assert.equal((await use(key)).status, 401);

    // Expired: a key two seconds from expiry works, then does not, cached or not.
    const shortLived = await createKey(owner.api, { expires_at: new Date(Date.now() + 2500).toISOString() });
    assert.equal((await use(shortLived.key)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    assert.equal((await use(shortLived.key)).status, 401);

    // Deleted: gone from the API and refused.
    const deleted = await createKey(owner.api, {});
    assert.equal((await use(deleted.key)).status, 200);
    assert.equal((await owner.api.del(`/v4/api-keys/${deleted.record.client_id}`)).status, 204);
    assert.equal((await owner.api.get(`/v4/api-keys/${deleted.record.client_id}`)).status, 404);
    assert.equal((await use(deleted.key)).status, 401);

    // The owner losing its roles on the key's project ends the key's access there.
    const scoped = await createKey(owner.api, { project_id: owner.projectId });
    assert.equal((await withKey(scoped.key, 'GET', `/v3/projects/${owner.projectId}`)).status, 200);
    const roles = await admin.get('/v3/roles?name=member');
    assert.equal((await admin.del(`/v3/projects/${owner.projectId}/users/${owner.userId}/roles/${roles.json.roles[0].id}`)).status, 204);
    assert.equal((await withKey(scoped.key, 'GET', `/v3/projects/${owner.projectId}`)).status, 401);
  });

  it('refuses a source outside the key’s CIDRs, IPv4 and IPv6', async () => {
    const owner = await member();
    const use = (k: string, url?: string) => withKey(k, 'GET', `/v3/users/${owner.userId}`, url === undefined ? {} : { url });
    const outside = await createKey(owner.api, { allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] });
    const loopback4 = await createKey(owner.api, { allowed_ips: ['127.0.0.0/8'] });
    const loopback6 = await createKey(owner.api, { allowed_ips: ['::1/128'] });
    const res = await use(outside.key);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, UNAUTHORIZED);
    assert.equal((await use(loopback4.key)).status, 200);
    assert.equal((await use(loopback6.key)).status, 401);
    if (base6) {
      assert.equal((await use(loopback6.key, base6)).status, 200);
      assert.equal((await use(loopback4.key, base6)).status, 401);
      assert.equal((await use(outside.key, base6)).status, 401);
    }
    // Narrowing the ranges of a verified key applies to its next request.
    assert.equal((await owner.api.put(`/v4/api-keys/${loopback4.record.client_id}`, { api_key: { allowed_ips: ['192.168.0.0/16'] } })).status, 200);
    assert.equal((await use(loopback4.key)).status, 401);
    assert.equal((await owner.api.put(`/v4/api-keys/${loopback4.record.client_id}`, { api_key: { allowed_ips: null } })).status, 200);
    assert.equal((await use(loopback4.key)).status, 200);
  });

  it('refuses bad requests (400), strangers (403) and unknown keys (404), changing nothing', async () => {
    const owner = await member();
    const stranger = await member();
    const { key, record } = await createKey(owner.api, {});
    const bad = [
      {},
      { expires_at: new Date(Date.now() - 1000).toISOString() },
      { expires_at: 'tomorrow' },
      { expires_at: inOneHour(), allowed_ips: ['10.0.0.0/33'] },
      { expires_at: inOneHour(), allowed_ips: ['not-an-ip'] },
      { expires_at: inOneHour(), provider_id: 'scim' },
      { expires_at: inOneHour(), domain_id: 'f'.repeat(32) },
      { expires_at: inOneHour(), project_id: stranger.projectId === owner.projectId ? 'f'.repeat(32) : stranger.projectId },
    ];
    // The owner has no role on a fresh project: a key scoped there could never work.
    const project = await admin.post('/v3/projects', { project: { name: `no-roles-${owner.n}`, domain_id: 'default' } });
    bad.push({ expires_at: inOneHour(), project_id: project.json.project.id });
    for (const body of bad) {
      const res = await owner.api.post('/v4/api-keys', { api_key: body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await owner.api.post('/v4/api-keys', { expires_at: inOneHour() })).status, 400);
    assert.equal((await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { allowed_ips: ['::1/129'] } })).status, 400);
    assert.equal((await owner.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { expires_at: inOneHour() } })).status, 400);

    assert.equal((await http(base, 'GET', '/v4/api-keys')).status, 401);
    assert.equal((await http(base, 'POST', '/v4/api-keys', { body: { api_key: { expires_at: inOneHour() } } })).status, 401);

    // Only the owner (or admins, or a service account's managers) manage a user's keys.
    assertDenied(await stranger.api.post('/v4/api-keys', { api_key: { user_id: owner.userId, expires_at: inOneHour() } }), 'keystone_ts:create_api_key');
    assertDenied(await stranger.api.get(`/v4/api-keys?user_id=${owner.userId}`), 'keystone_ts:list_api_keys');
    assertDenied(await stranger.api.get(`/v4/api-keys/${record.client_id}`), 'keystone_ts:get_api_key');
    assertDenied(await stranger.api.put(`/v4/api-keys/${record.client_id}`, { api_key: { allowed_ips: [] } }), 'keystone_ts:update_api_key');
    assertDenied(await stranger.api.post(`/v4/api-keys/${record.client_id}/revoke`), 'keystone_ts:revoke_api_key');
    assertDenied(await stranger.api.del(`/v4/api-keys/${record.client_id}`), 'keystone_ts:delete_api_key');
    assert.equal((await stranger.api.get('/v4/api-keys')).json.api_keys.length, 0);
    // Repeated query parameters: the first counts, never a 500.
    assertDenied(await stranger.api.get(`/v4/api-keys?user_id=${owner.userId}&user_id=${stranger.userId}`), 'keystone_ts:list_api_keys');
    assert.equal((await stranger.api.get(`/v4/api-keys?user_id=${stranger.userId}&user_id=${owner.userId}&enabled=1&enabled=0`)).status, 200);
    // Admins may.
    assert.equal((await admin.get(`/v4/api-keys/${record.client_id}`)).status, 200);
    assert.equal((await admin.get(`/v4/api-keys?user_id=${owner.userId}`)).json.api_keys.length, 1);

    assert.equal((await owner.api.get('/v4/api-keys/00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await owner.api.post('/v4/api-keys/00000000-0000-0000-0000-000000000000/revoke')).status, 404);
    assert.equal((await owner.api.del('/v4/api-keys/00000000-0000-0000-0000-000000000000')).status, 404);

    // Nothing changed: one key, enabled, still working.
    const listed = await owner.api.get('/v4/api-keys');
    assert.deepEqual(listed.json.api_keys.map((k: { client_id: string; enabled: boolean }) => [k.client_id, k.enabled]), [[record.client_id, true]]);
    assert.equal(listed.json.api_keys[0].allowed_ips, undefined);
    assert.equal((await withKey(key, 'GET', `/v3/users/${owner.userId}`)).status, 200);
  });

  it('does not let a request authenticated by an API key create or loosen keys, but lets it revoke its own', async () => {
    const owner = await member();
    const { key, record } = await createKey(owner.api, { allowed_ips: ['127.0.0.0/8'] });
    const create = await withKey(key, 'POST', '/v4/api-keys', { body: { api_key: { expires_at: inOneHour() } } });
    assert.equal(create.status, 403, create.text);
    const loosen = await withKey(key, 'PUT', `/v4/api-keys/${record.client_id}`, { body: { api_key: { allowed_ips: null } } });
    assert.equal(loosen.status, 403, loosen.text);
    assert.deepEqual((await owner.api.get(`/v4/api-keys/${record.client_id}`)).json.api_key.allowed_ips, ['127.0.0.0/8']);
    assert.equal((await owner.api.get('/v4/api-keys')).json.api_keys.length, 1);
    assert.equal((await withKey(key, 'GET', '/v4/api-keys')).status, 200);
    assert.equal((await withKey(key, 'POST', `/v4/api-keys/${record.client_id}/revoke`)).status, 200);
    assert.equal((await withKey(key, 'GET', '/v4/api-keys')).status, 401);
  });

  it('lets a service account’s managers manage its keys, and the account act with them', async () => {
    const project = await admin.post('/v3/projects', { project: { name: 'keyed-project', domain_id: 'default' } });
    const projectId: string = project.json.project.id;
    const manager = await projectUserToken(server, 'keyed-manager', 'manager', { projectId });
    const otherManager = await projectUserToken(server, 'unrelated-manager', 'manager');
    const managerApi = client(base, manager.token);
    const account = await managerApi.post('/v4/service_accounts', { service_account: { name: 'keyed-robot', project_id: projectId } });
    assert.equal(account.status, 201, account.text);
    const accountId: string = account.json.service_account.id;
    const roles = await admin.get('/v3/roles?name=reader');
    await admin.put(`/v3/projects/${projectId}/users/${accountId}/roles/${roles.json.roles[0].id}`);

    const { key, record } = await createKey(managerApi, { user_id: accountId, project_id: projectId });
    assert.equal(record.user_id, accountId);
    assert.deepEqual((await managerApi.get(`/v4/api-keys?user_id=${accountId}`)).json.api_keys.map((k: { client_id: string }) => k.client_id), [record.client_id]);
    assertDenied(await client(base, otherManager.token).get(`/v4/api-keys?user_id=${accountId}`), 'keystone_ts:list_api_keys');
    assertDenied(await client(base, otherManager.token).post('/v4/api-keys', { api_key: { user_id: accountId, expires_at: inOneHour() } }), 'keystone_ts:create_api_key');

    // The account reads its project with the key; it may not write (a reader).
    const read = await withKey(key, 'GET', `/v3/projects/${projectId}`);
    assert.equal(read.status, 200, read.text);
    assertDenied(await withKey(key, 'PATCH', `/v3/projects/${projectId}`, { body: { project: { description: 'x' } } }), 'identity:update_project');

    // Disabling the account ends the key's access; deleting it deletes its keys.
    assert.equal((await managerApi.patch(`/v4/service_accounts/${accountId}`, { service_account: { enabled: false } })).status, 200);
    assert.equal((await withKey(key, 'GET', `/v3/projects/${projectId}`)).status, 401);
    assert.equal((await managerApi.del(`/v4/service_accounts/${accountId}`)).status, 204);
    assert.equal((await admin.get(`/v4/api-keys/${record.client_id}`)).status, 404);
  });

  it('drops a cached verification in every server when the key changes, by the database’s notification', async () => {
    const owner = await member();
    const other = await startTestServer(ctx.db(), {}, { shareKeysWith: server });
    try {
      const { key, record } = await createKey(owner.api, {});
      const use = (url: string) => withKey(key, 'GET', `/v3/users/${owner.userId}`, { url });
      const refusedWithin = async (url: string, ms: number) => {
        const deadline = Date.now() + ms;
        for (;;) {
          const status = (await use(url)).status;
          if (status === 401) return true;
          if (Date.now() > deadline) return false;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      // Both servers verified (and cached) the key.
      assert.equal((await use(base)).status, 200);
      assert.equal((await use(other.url)).status, 200);
      // A write neither server made (another process, an operator's SQL): only the trigger's NOTIFY tells them.
      await ctx.db().kysely.updateTable('keystone_ts_api_key').set({ enabled: false }).where('id', '=', record.client_id).execute();
      assert.ok(await refusedWithin(base, 2000), 'first server still accepts a disabled key');
      assert.ok(await refusedWithin(other.url, 2000), 'second server still accepts a disabled key');
      // Enabled again the same way: accepted again (failures are never cached).
      await ctx.db().kysely.updateTable('keystone_ts_api_key').set({ enabled: true }).where('id', '=', record.client_id).execute();
      assert.equal((await use(other.url)).status, 200);
      // Revoked through one server: refused by the other.
      assert.equal((await owner.api.post(`/v4/api-keys/${record.client_id}/revoke`)).status, 200);
      assert.ok(await refusedWithin(other.url, 2000), 'second server still accepts a revoked key');
    } finally {
      await other.close();
    }
  });

  it('lists only the caller’s keys by default', async () => {
    const { record } = await createKey(admin, { project_id: adminProjectId });
    const mine = await admin.get('/v4/api-keys');
    assert.ok(mine.json.api_keys.length >= 1);
    assert.ok(mine.json.api_keys.some((k: { client_id: string }) => k.client_id === record.client_id));
    assert.ok(mine.json.api_keys.every((k: { user_id: string }) => k.user_id === adminUserId));
  });
});

describe('API key verification cache', () => {
  /** A service over an in-memory store that counts what authentication costs. */
  function harness() {
    const rows = new Map<string, ApiKeyRecord>();
    const calls = { findByPrefix: 0, assume: 0 };
    let generation = 0;
    let clock = Date.parse('2026-11-23T12:00:00Z');
    const store = {
      async insert(record: ApiKeyRecord) {
        rows.set(record.id, { ...record, lastUsedAt: null, revokedAt: null, revokedBy: null });
      },
      async get(id: string) {
        return rows.get(id);
      },
      async findByPrefix(prefix: string) {
        calls.findByPrefix += 1;
        return [...rows.values()].find((r) => r.prefix === prefix);
      },
      async list() {
        return [...rows.values()];
      },
      async update() {},
      async revoke(id: string) {
        const row = rows.get(id)!;
        rows.set(id, { ...row, revokedAt: new Date(clock), revokedBy: 'x', enabled: false });
        generation += 1; // what trackWrites and the database trigger do
        return true;
      },
      async delete() {
        return true;
      },
      async touch() {},
    } as unknown as ApiKeyStore;
    const changes: ChangeFeed = {
      get generation() {
        return generation;
      },
      bump: () => void (generation += 1),
      close: async () => undefined,
    };
    const service = createApiKeyService({
      store,
      passwordHashing: { algorithm: 'bcrypt', rounds: 4, maxPasswordLength: 4096, strictPasswordCheck: false },
      assume: async (request) => {
        calls.assume += 1;
        return { user: { id: request.userId }, data: { methods: request.methods } } as unknown as ValidatedToken;
      },
      hasRoleOnProject: async () => true,
      userExists: async () => true,
      changes,
      now: () => new Date(clock),
      options: { cacheTtlSeconds: 60, cacheSize: 100 },
    });
    return { service, calls, changes, advance: (ms: number) => void (clock += ms), expiresAt: new Date(clock + 3600_000).toISOString() };
  }

  it('runs the slow verification once, then again only after a change or the TTL', async () => {
    const h = harness();
    const { key, record } = await h.service.create({ userId: 'u1', projectId: null, description: null, expiresAt: h.expiresAt, allowedIps: null });
    for (let i = 0; i < 5; i++) assert.equal((await h.service.authenticate(key, '127.0.0.1')).user.id, 'u1');
    assert.deepEqual(h.calls, { findByPrefix: 1, assume: 1 });
    h.changes.bump(); // any write that tokens depend on: users, roles, assignments, keys
    await h.service.authenticate(key, '127.0.0.1');
    assert.deepEqual(h.calls, { findByPrefix: 2, assume: 2 });
    h.advance(61_000);
    await h.service.authenticate(key, '127.0.0.1');
    assert.deepEqual(h.calls, { findByPrefix: 3, assume: 3 });
    // Revocation moves the feed: the cached verification is not used again.
    await h.service.revoke(record.id, 'admin');
    await assert.rejects(h.service.authenticate(key, '127.0.0.1'), { status: 401 });
  });

  it('does not cache failures and checks expiry and source on cached entries', async () => {
    const h = harness();
    const { key } = await h.service.create({ userId: 'u1', projectId: null, description: null, expiresAt: h.expiresAt, allowedIps: ['127.0.0.1/32'] });
    const wrong = `${key.slice(0, -2)}${key.endsWith('aa') ? 'bb' : 'aa'}`;
    await assert.rejects(h.service.authenticate(wrong, '127.0.0.1'), { status: 401 });
    await assert.rejects(h.service.authenticate(wrong, '127.0.0.1'), { status: 401 });
    assert.equal(h.calls.findByPrefix, 2);
    await h.service.authenticate(key, '127.0.0.1');
    await assert.rejects(h.service.authenticate(key, '10.1.2.3'), { status: 401 });
    await h.service.authenticate(key, '::ffff:127.0.0.1');
    assert.equal(h.calls.assume, 1);
    h.advance(3600_000);
    await assert.rejects(h.service.authenticate(key, '127.0.0.1'), { status: 401 });
  });

  it('stops verifying for a source after 30 failures in a minute, without affecting other sources or cached keys', async () => {
    const h = harness();
    const { key } = await h.service.create({ userId: 'u1', projectId: null, description: null, expiresAt: h.expiresAt, allowedIps: null });
    await h.service.authenticate(key, '10.9.9.9'); // verified and cached before the attack
    const wrong = `${key.slice(0, -2)}${key.endsWith('aa') ? 'bb' : 'aa'}`;
    for (let i = 0; i < 30; i++) await assert.rejects(h.service.authenticate(wrong, '10.0.0.1'), { status: 401 });
    const verifications = h.calls.findByPrefix;
    // The 31st attempt, even with the right key (not cached: another key of the same owner would
    // be the same), is refused without a lookup or a bcrypt run.
    const { key: fresh } = await h.service.create({ userId: 'u1', projectId: null, description: null, expiresAt: h.expiresAt, allowedIps: null });
    await assert.rejects(h.service.authenticate(fresh, '10.0.0.1'), { status: 401 });
    await assert.rejects(h.service.authenticate(wrong, '10.0.0.1'), { status: 401 });
    assert.equal(h.calls.findByPrefix, verifications);
    // Other sources, and keys already verified, are unaffected.
    await h.service.authenticate(fresh, '10.0.0.2');
    await h.service.authenticate(key, '10.9.9.9');
    h.advance(60_000);
    await h.service.authenticate(fresh, '10.0.0.1');
  });

  it('parses IPv4 and IPv6 CIDRs strictly and matches sources', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0/8', 'host/8', '10.0.0.0/8/8', '10.0.0.0/-1']) assert.equal(parseCidr(bad), undefined, bad);
    assert.equal(sourceAllowed(null, undefined), true);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('Envoy ext_authz HTTP service: /v4/ext_authz/{path}', (ctx) => {
  let server: TestServer;
  let policyDir: string;
  let admin: string;
  let member: { token: string; userId: string; projectId: string };
  let service: string;

  before(async () => {
    policyDir = mkdtempSync(path.join(tmpdir(), 'kts-ext-authz-'));
    const policyFile = path.join(policyDir, 'policy.json');
    // The check itself is policy: here only token holders with a project role pass the gateway.
    writeFileSync(policyFile, JSON.stringify({ 'keystone_ts:ext_authz': 'role:reader or role:admin' }));
    server = await startTestServer(ctx.db(), { 'oslo_policy.policy_file': policyFile });
    admin = (await adminLogin(server.url)).token;
    member = await projectUserToken(server, `extauthz-member-${ctx.kind}`, 'member');
    service = (await projectUserToken(server, `extauthz-service-${ctx.kind}`, 'service')).token;
  });
  after(async () => {
    await server?.close();
    rmSync(policyDir, { recursive: true, force: true });
  });

  /** What Envoy sends: the original method, path_prefix + original path, the allowed headers. */
  const check = (method: string, original: string, token: string | undefined, headers: Record<string, string> = {}, body?: string) =>
    http(server.url, method, `/v4/ext_authz${original}`, { token, headers, body });

  it('allows with keystonemiddleware identity headers, mapping the request through the rules’ operations', async () => {
    const res = await check('GET', `/v3/users/${member.userId}`, member.token);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-identity-status'), 'Confirmed');
    assert.equal(res.headers.get('x-user-id'), member.userId);
    assert.equal(res.headers.get('x-user-name'), `extauthz-member-${ctx.kind}`);
    assert.equal(res.headers.get('x-user-domain-id'), 'default');
    assert.equal(res.headers.get('x-project-id'), member.projectId);
    assert.equal(res.headers.get('x-project-name'), 'admin');
    assert.equal(res.headers.get('x-project-domain-id'), 'default');
    assert.deepEqual(res.headers.get('x-roles')!.split(',').sort(), ['member', 'reader']);
    assert.match(res.headers.get('x-keystone-decision-id')!, /^[0-9a-f-]{36}$/);
    assert.equal(res.text, '');
    assert.ok(![...res.headers.values()].some((v) => v.includes(member.token)), 'the token is not echoed');
    const head = await check('HEAD', `/v3/users/${member.userId}`, member.token);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('x-user-id'), member.userId);
    // Authorization: Bearer is what Envoy forwards by default.
    const bearer = await check('GET', `/v3/users/${member.userId}`, undefined, { Authorization: `Bearer ${member.token}` });
    assert.equal(bearer.status, 200);
  });

  it('denies with 403 and the violations the client will see through Envoy', async () => {
    const res = await check('GET', '/v3/users/someone-else', member.token);
    assert.equal(res.status, 403);
    assert.match(res.json.error.message, /identity:get_user/);
    assert.match(res.json.error.violations[0].message, /identity:get_user requires/);
    assert.match(res.json.error.decision_id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('x-user-id'), null);
    assert.equal((await check('GET', '/v3/users/someone-else', admin)).status, 200);
    // A request no rule documents is denied rather than guessed at.
    const unmapped = await check('GET', '/compute/v2.1/servers', admin);
    assert.equal(unmapped.status, 403);
    assert.equal(unmapped.json.error.violations[0].field, 'action');
  });

  it('takes the action from the proxy’s x-keystone-action header', async () => {
    const headers = { 'x-keystone-action': 'identity:list_projects' };
    assert.equal((await check('GET', '/compute/v2.1/servers', admin, headers)).status, 200);
    const denied = await check('DELETE', '/compute/v2.1/servers/1', member.token, headers);
    assert.equal(denied.status, 403);
    assert.match(denied.json.error.message, /identity:list_projects/);
    assert.equal((await check('GET', '/x', admin, { 'x-keystone-action': 'a'.repeat(256) })).status, 400);
  });

  it('ignores the forwarded body: the protected service owns it', async () => {
    const res = await check('POST', '/v3/users', admin, { 'Content-Type': 'text/plain' }, 'not json at all');
    assert.equal(res.status, 200, res.text);
    const put = await check('PUT', '/v3/projects/p1/users/u1/roles/r1', admin, { 'Content-Type': 'application/json' }, '{broken');
    assert.equal(put.status, 200, put.text);
  });

  it('answers 401 without a valid token and 403 when keystone_ts:ext_authz refuses the holder', async () => {
    const missing = await check('GET', `/v3/users/${member.userId}`, undefined);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate')!, /^Keystone uri=/);
    const bogus = 'gAAAAAB-bogus-token';
    const invalid = await check('GET', `/v3/users/${member.userId}`, bogus);
    assert.equal(invalid.status, 401);
    assert.ok(!invalid.text.includes(bogus));
    assert.equal((await check('GET', '/v3/users/x', undefined, { Authorization: 'Basic dXNlcjpwYXNz' })).status, 401);
    const gated = await check('GET', '/v3/users/x', service);
    assert.equal(gated.status, 403);
    assert.match(gated.json.error.message, /keystone_ts:ext_authz/);
  });

  it('percent-encodes names that are not header-safe instead of failing', async () => {
    const { providers } = server.service;
    const name = `日本-${ctx.kind}`;
    const user = await providers.identity.createUser({ name, domain_id: 'default', password: 'pw-Unicode-1' });
    const role = await providers.assignments.findGlobalRoleByName('reader');
    await providers.assignments.grant('UserProject', user.id, member.projectId, role!.id);
    const login = await http(server.url, 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: 'pw-Unicode-1' } } }, scope: { project: { id: member.projectId } } } },
    });
    const res = await check('GET', `/v3/users/${user.id}`, login.headers.get('x-subject-token')!);
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeURIComponent(res.headers.get('x-user-name')!), name);
  });

  it('counts its decisions', async () => {
    const metrics = (await http(server.url, 'GET', '/metrics')).text;
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:ext_authz",result="allow"\} \d+/);
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:ext_authz",result="deny"\} \d+/);
    assert.match(metrics, /keystone_ts_http_requests_total\{method="GET",route="\/v4\/ext_authz\/\*original",status="403"\} \d+/);
  });
});

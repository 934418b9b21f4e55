import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

interface LogLine {
  decision_id: string;
  action: string;
  result: boolean;
  bundle_revision: number;
  latency_us: number;
  violations: { field: string; message: string }[];
  input: { credentials: { user_id: string; roles: string[]; service_roles: string[] }; request_body?: Record<string, unknown> };
}

describeEachDatabase('POST /v4/authz/decision, the decision log and /metrics', (ctx) => {
  let server: TestServer;
  let logFile: string;
  let memberToken: string;
  let memberId: string;

  before(async () => {
    logFile = path.join(tmpdir(), `kts-decisions-${randomUUID()}.log`);
    server = await startTestServer(ctx.db(), { 'keystone_ts.decision_log': logFile });
    ({ token: memberToken, userId: memberId } = await projectUserToken(server, `authz-member-${ctx.kind}`, 'member'));
  });
  after(async () => {
    await server?.close();
    rmSync(logFile, { force: true });
  });

  const decide = (token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
    http(server.url, 'POST', '/v4/authz/decision', { token, body, headers });

  function logLines(): LogLine[] {
    return readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as LogLine);
  }

  it('decides Keystone rules for the token holder, with violations on a deny', async () => {
    const { token: admin } = await adminLogin(server.url);
    const target = { target: { user: { domain_id: 'other-domain', id: 'someone' } }, path: { user_id: 'someone' } };
    const allowed = await decide(admin, { action: 'identity:get_user', ...target });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json.allow, true);
    assert.match(allowed.json.decision_id, /^[0-9a-f-]{36}$/);
    const denied = await decide(memberToken, { action: 'identity:get_user', ...target });
    assert.equal(denied.json.allow, false);
    assert.ok(denied.json.violations.length > 0);
    // A member may read itself (the rule's `user_id:%(target.user.id)s` branch).
    const self = await decide(memberToken, { action: 'identity:get_user', target: { user: { id: memberId, domain_id: 'default' } }, path: { user_id: memberId } });
    assert.equal(self.json.allow, true);
    const unknown = await decide(admin, { action: 'identity:no_such_rule' });
    assert.equal(unknown.json.allow, false);
    assert.match(unknown.json.violations[0].message, /no policy rule named identity:no_such_rule/);
  });

  it('sees the token as Keystone’s policy does: a domain manager may create users in its domain only', async () => {
    const { providers } = server.service;
    const manager = await providers.identity.createUser({ name: `domain-manager-${ctx.kind}`, domain_id: 'default', password: 'pw-manager' });
    const role = await providers.assignments.findGlobalRoleByName('manager');
    await providers.assignments.grant('UserDomain', manager.id, 'default', role!.id);
    const login = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: manager.id }, 'pw-manager', { domain: { id: 'default' } }) });
    const token = login.headers.get('x-subject-token')!;
    // identity:create_user = admin or (role:manager and token.domain.id:%(target.user.domain_id)s)
    const own = await decide(token, { action: 'identity:create_user', target: { user: { domain_id: 'default' } } });
    assert.equal(own.json.allow, true);
    const foreign = await decide(token, { action: 'identity:create_user', target: { user: { domain_id: 'elsewhere' } } });
    assert.equal(foreign.json.allow, false);
  });

  it('refuses anonymous and malformed requests', async () => {
    assert.equal((await decide(undefined, { action: 'identity:get_user' })).status, 401);
    const { token } = await adminLogin(server.url);
    assert.equal((await decide(token, {})).status, 400);
    assert.equal((await decide(token, { action: 'identity:get_user', extra: 1 })).status, 400);
    assert.equal((await decide(token, { action: 'identity:get_user', target: 'x' })).status, 400);
  });

  it('logs every decision with masked secrets and the X-Service-Token’s roles', async () => {
    const { providers } = server.service;
    const svc = await providers.identity.createUser({ name: `svc-${ctx.kind}`, domain_id: 'default', password: 'svc-pass' });
    const project = await providers.resource.findProjectByName('admin', 'default');
    const serviceRole = await providers.assignments.findGlobalRoleByName('service');
    await providers.assignments.grant('UserProject', svc.id, project!.id, serviceRole!.id);
    const svcLogin = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: svc.id }, 'svc-pass', { project: { id: project!.id } }) });
    const serviceToken = svcLogin.headers.get('x-subject-token')!;
    const res = await decide(
      memberToken,
      { action: 'identity:create_credential', target: { credential: { user_id: memberId } }, request_body: { credential: { blob: 'sekrit-blob', password: 'hunter2' } } },
      { 'X-Service-Token': serviceToken },
    );
    assert.equal(res.status, 200);
    // The decision log stream is asynchronous: wait for the line to land.
    let line: LogLine | undefined;
    for (let i = 0; i < 100 && !line; i += 1) {
      line = logLines().find((l) => l.decision_id === res.json.decision_id);
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(line, 'the decision was logged');
    assert.equal(line.action, 'identity:create_credential');
    assert.equal(line.result, res.json.allow);
    assert.equal(line.bundle_revision, 0);
    assert.ok(line.latency_us >= 0);
    assert.deepEqual(line.input.credentials.service_roles, ['service']);
    assert.equal(line.input.credentials.user_id, memberId);
    const text = readFileSync(logFile, 'utf8');
    assert.ok(!text.includes('sekrit-blob') && !text.includes('hunter2'), 'secrets are masked');
    assert.ok(!text.includes(memberToken) && !text.includes(serviceToken), 'no token body is logged');
  });

  it('exposes Prometheus metrics for decisions and HTTP requests', async () => {
    // Caller-chosen action names that are no rule are counted under one label, not one series each.
    const others = (text: string) => Number(/keystone_ts_policy_decisions_total\{action="other",result="deny"\} (\d+)/.exec(text)?.[1] ?? 0);
    const before = others((await http(server.url, 'GET', '/metrics')).text);
    for (let i = 0; i < 3; i += 1) await decide(memberToken, { action: `made:up_${randomUUID()}` });
    const res = await http(server.url, 'GET', '/metrics');
    assert.doesNotMatch(res.text, /made:up_/);
    assert.equal(others(res.text), before + 3);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /keystone_ts_policy_decisions_total\{action="identity:get_user",result="allow"\} \d+/);
    assert.match(res.text, /keystone_ts_policy_decisions_total\{action="identity:get_user",result="deny"\} \d+/);
    assert.match(res.text, /keystone_ts_policy_decision_seconds_count \d+/);
    assert.match(res.text, /keystone_ts_http_requests_total\{method="POST",route="\/v4\/authz\/decision",status="200"\} \d+/);
    assert.match(res.text, /keystone_ts_policy_bundle_revision 0/);
  });
});

import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const member = { type: 'user', id: 'u-member', properties: { user_domain_id: 'default', project_id: 'p1', project_domain_id: 'default', roles: ['member', 'reader'] } };
const adminSubject = { ...member, id: 'u-admin', properties: { ...member.properties, roles: ['admin'] } };
const getUser = { name: 'identity:get_user' };
const someone = { type: 'user', id: 'someone', properties: { domain_id: 'default' } };

describeEachDatabase('AuthZEN 1.0: POST /access/v1/evaluation(s)', (ctx) => {
  let server: TestServer;
  let service: string;
  let plain: { token: string; userId: string };

  before(async () => {
    server = await startTestServer(ctx.db());
    service = (await projectUserToken(server, `authzen-service-${ctx.kind}`, 'service')).token;
    plain = await projectUserToken(server, `authzen-member-${ctx.kind}`, 'member');
  });
  after(async () => server?.close());

  const evaluation = (body: unknown, token: string | undefined = service, headers: Record<string, string> = {}) =>
    http(server.url, 'POST', '/access/v1/evaluation', { token, body, headers });
  const evaluations = (body: unknown, token: string | undefined = service) => http(server.url, 'POST', '/access/v1/evaluations', { token, body });

  it('decides one evaluation: the resource is the target, the user subject asserts credentials', async () => {
    const allowed = await evaluation({ subject: adminSubject, action: getUser, resource: someone }, service, { 'X-Request-ID': 'req-42' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json.decision, true);
    assert.match(allowed.json.context.decision_id, /^[0-9a-f-]{36}$/);
    assert.equal(allowed.headers.get('x-request-id'), 'req-42');
    const denied = await evaluation({ subject: member, action: getUser, resource: someone });
    assert.equal(denied.status, 200);
    assert.equal(denied.json.decision, false);
    assert.match(denied.json.context.reason_admin.en, /identity:get_user requires/);
    assert.ok(denied.json.context.violations.length > 0);
    // The resource id is also the path value the owner rule compares with.
    const self = await evaluation({ subject: member, action: getUser, resource: { type: 'user', id: 'u-member' } });
    assert.equal(self.json.decision, true);
    // Resource properties reach the target: a domain manager creates users in its own domain only.
    const manager = { type: 'user', id: 'u-manager', properties: { user_domain_id: 'default', domain_id: 'default', roles: ['manager', 'member', 'reader'] } };
    const own = await evaluation({ subject: manager, action: { name: 'identity:create_user' }, resource: { type: 'user', id: '', properties: { domain_id: 'default' } } });
    assert.equal(own.json.decision, true);
    const foreign = await evaluation({ subject: manager, action: { name: 'identity:create_user' }, resource: { type: 'user', id: '', properties: { domain_id: 'elsewhere' } } });
    assert.equal(foreign.json.decision, false);
  });

  it('decides for a keystone_token subject, validated', async () => {
    const self = await evaluation({ subject: { type: 'keystone_token', id: plain.token }, action: getUser, resource: { type: 'user', id: plain.userId } });
    assert.equal(self.json.decision, true);
    const other = await evaluation({ subject: { type: 'keystone_token', id: plain.token }, action: getUser, resource: someone });
    assert.equal(other.json.decision, false);
    const bogus = 'gAAAAAB-not-a-token';
    const invalid = await evaluation({ subject: { type: 'keystone_token', id: bogus }, action: getUser, resource: someone });
    assert.equal(invalid.status, 404);
    assert.ok(!invalid.text.includes(bogus));
  });

  it('evaluates batches with defaults and the three semantics', async () => {
    const batch = {
      subject: member,
      action: getUser,
      evaluations: [
        { resource: { type: 'user', id: 'u-member' } },
        { resource: someone },
        { resource: someone, subject: adminSubject },
        { resource: someone, subject: { type: 'keystone_token', id: 'bogus' } },
        { resource: someone, subject: { type: 'group', id: 'g1' } },
      ],
    };
    const all = await evaluations(batch);
    assert.equal(all.status, 200);
    assert.deepEqual(all.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false, true, false, false]);
    assert.equal(all.json.evaluations[3].context.error.status, 404);
    assert.equal(all.json.evaluations[4].context.error.status, 400);
    assert.match(all.json.evaluations[4].context.error.message, /'evaluations\/4\/subject\/type'/);
    const denyFirst = await evaluations({ ...batch, options: { evaluations_semantic: 'deny_on_first_deny' } });
    assert.deepEqual(denyFirst.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false]);
    const permitFirst = await evaluations({ ...batch, evaluations: batch.evaluations.slice(1), options: { evaluations_semantic: 'permit_on_first_permit' } });
    assert.deepEqual(permitFirst.json.evaluations.map((e: { decision: boolean }) => e.decision), [false, true]);
    // Without an evaluations array the request is a single evaluation.
    const single = await evaluations({ subject: adminSubject, action: getUser, resource: someone });
    assert.equal(single.json.decision, true);
  });

  it('refuses anonymous callers, callers without the role, and malformed requests', async () => {
    const body = { subject: member, action: getUser, resource: someone };
    assert.equal((await evaluation(body, '')).status, 401);
    const forbidden = await evaluation(body, plain.token);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.json.error.message, /keystone_ts:authzen/);
    assert.equal((await evaluations(body, plain.token)).status, 403);
    assert.equal((await evaluation(body, (await adminLogin(server.url)).token)).status, 200);
    assert.equal((await http(server.url, 'POST', '/access/v1/evaluation', { body, headers: { Authorization: `Bearer ${service}` } })).status, 200);

    const bad: [string, unknown, RegExp][] = [
      ['/access/v1/evaluation', { action: getUser, resource: someone }, /'subject' is a required property/],
      ['/access/v1/evaluation', { subject: { type: 'user' }, action: getUser, resource: someone }, /'subject'.*'id' is a required property|'id' is a required property/],
      ['/access/v1/evaluation', { subject: member, action: {}, resource: someone }, /'name' is a required property/],
      ['/access/v1/evaluation', { subject: member, action: getUser, resource: { type: 'us er', id: 'x' } }, /'resource\/type'/],
      ['/access/v1/evaluation', { subject: { ...member, properties: { roles: 'admin' } }, action: getUser, resource: someone }, /'subject\/properties\/roles'/],
      ['/access/v1/evaluation', { subject: { type: 'group', id: 'g' }, action: getUser, resource: someone }, /subject type is not supported/],
      ['/access/v1/evaluation', { ...body, evaluations: [] }, /'evaluations' was unexpected/],
      ['/access/v1/evaluation', { ...body, surprise: true }, /'surprise' was unexpected/],
      ['/access/v1/evaluation', 'not json', /valid JSON/],
      ['/access/v1/evaluations', { evaluations: [{ subject: member, action: getUser }] }, /'evaluations\/0': 'resource' is a required property/],
      ['/access/v1/evaluations', { ...body, options: { evaluations_semantic: 'first' } }, /'options\/evaluations_semantic'/],
      ['/access/v1/evaluations', { ...body, evaluations: new Array(257).fill({}) }, /too long|maxItems|more than/],
    ];
    for (const [path, payload, message] of bad) {
      const res = await http(server.url, 'POST', path, { token: service, body: payload });
      assert.equal(res.status, 400, `${path} ${JSON.stringify(payload).slice(0, 80)}: ${res.text}`);
      assert.match(res.json.error.message, message);
    }
  });

  it('publishes PDP metadata and counts its decisions', async () => {
    const metadata = await http(server.url, 'GET', '/.well-known/authzen-configuration');
    assert.equal(metadata.status, 200);
    assert.equal(metadata.json.policy_decision_point, server.url);
    assert.equal(metadata.json.access_evaluation_endpoint, `${server.url}/access/v1/evaluation`);
    assert.equal(metadata.json.access_evaluations_endpoint, `${server.url}/access/v1/evaluations`);
    const metrics = (await http(server.url, 'GET', '/metrics')).text;
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:authzen",result="allow"\} \d+/);
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:authzen",result="deny"\} \d+/);
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="identity:create_user",result="allow"\} \d+/);
  });
});

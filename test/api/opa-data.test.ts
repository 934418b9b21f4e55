import assert from 'node:assert/strict';
import { OPAClient } from '@open-policy-agent/opa';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

/** A caller-asserted subject: a member of project p1 in the default domain. */
const memberCredentials = { user_id: 'u-member', user_domain_id: 'default', project_id: 'p1', project_domain_id: 'default', roles: ['member', 'reader'] };
const getOther = { action: 'identity:get_user', target: { user: { id: 'someone', domain_id: 'default' } }, path: { user_id: 'someone' } };

describeEachDatabase('OPA data API: POST/GET /v1/data/{path}', (ctx) => {
  let server: TestServer;
  let admin: string;
  let service: string;
  let member: { token: string; userId: string };

  before(async () => {
    server = await startTestServer(ctx.db());
    admin = (await adminLogin(server.url)).token;
    service = (await projectUserToken(server, `opa-service-${ctx.kind}`, 'service')).token;
    member = await projectUserToken(server, `opa-member-${ctx.kind}`, 'member');
  });
  after(async () => server?.close());

  const data = (token: string | undefined, document: string, body: unknown) => http(server.url, 'POST', `/v1/data/${document}`, { token, body });

  it('answers the OPA SDK: keystone/decision and keystone/allow, with and without input', async () => {
    const opa = new OPAClient(server.url, { headers: { 'X-Auth-Token': service } });
    const adminDecision = await opa.evaluate('keystone/decision', { ...getOther, credentials: { ...memberCredentials, roles: ['admin'] } });
    assert.deepEqual(adminDecision, { allow: true, violations: [] });
    const memberDecision = await opa.evaluate<Record<string, unknown>, { allow: boolean; violations: { field: string; message: string }[] }>(
      'keystone/decision',
      { ...getOther, credentials: memberCredentials },
    );
    assert.equal(memberDecision.allow, false);
    assert.match(memberDecision.violations[0]!.message, /identity:get_user requires/);
    assert.equal(await opa.evaluate('keystone/allow', { ...getOther, credentials: memberCredentials }), false);
    // The member may read itself: the rule's owner branch, through the path value.
    const self = { action: 'identity:get_user', target: { user: { id: 'u-member', domain_id: 'default' } }, path: { user_id: 'u-member' } };
    assert.equal(await opa.evaluate('keystone/allow', { ...self, credentials: memberCredentials }), true);
    // Without input (the SDK's GET) nothing is allowed, as Rego's `default allow := false`.
    assert.equal(await opa.evaluate('keystone/allow'), false);
    // Sub-documents resolve as OPA references do.
    assert.deepEqual(await opa.evaluate('keystone/decision/violations', { ...getOther, credentials: { ...memberCredentials, roles: ['admin'] } }), []);
    // An undefined document has no result; the SDK hands back undefined.
    assert.equal(await opa.evaluate('other/policy', { ...getOther, credentials: memberCredentials }), undefined);
    // The caller's own access is policy: a plain member may not use the data API.
    const asMember = new OPAClient(server.url, { headers: { 'X-Auth-Token': member.token } });
    await assert.rejects(asMember.evaluate('keystone/allow', { ...getOther, credentials: memberCredentials }));
  });

  it('decides for a Keystone token passed as input.subject_token', async () => {
    const self = { action: 'identity:get_user', target: { user: { id: member.userId, domain_id: 'default' } }, path: { user_id: member.userId } };
    const res = await data(service, 'keystone/decision', { input: { ...self, subject_token: member.token } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.result, { allow: true, violations: [] });
    assert.match(res.json.decision_id, /^[0-9a-f-]{36}$/);
    const other = await data(service, 'keystone/allow', { input: { ...getOther, subject_token: member.token } });
    assert.equal(other.json.result, false);
    // The caller's token stands in for an X-Service-Token: its roles are the subject's service_roles.
    const res2 = await http(server.url, 'GET', `/v1/data/keystone/decision?input=${encodeURIComponent(JSON.stringify({ ...self, subject_token: member.token }))}`, { token: service });
    assert.equal(res2.status, 200);
    assert.equal(res2.json.result.allow, true);
    const bogus = 'gAAAAABnot-a-valid-token-at-all';
    const invalid = await data(service, 'keystone/allow', { input: { ...self, subject_token: bogus } });
    assert.equal(invalid.status, 404);
    assert.ok(!invalid.text.includes(bogus), 'the subject token is not echoed');
  });

  it('answers an undefined document with a decision id and no result', async () => {
    for (const document of ['other/policy', 'keystone/nothing', 'keystone/allow/deeper']) {
      const res = await data(service, document, { input: { ...getOther, credentials: memberCredentials } });
      assert.equal(res.status, 200, document);
      assert.ok(!('result' in res.json), document);
      assert.match(res.json.decision_id, /^[0-9a-f-]{36}$/);
    }
  });

  it('refuses anonymous callers, callers without the role, and bad input with Keystone errors', async () => {
    const input = { input: { ...getOther, credentials: memberCredentials } };
    const anonymous = await data(undefined, 'keystone/allow', input);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error.code, 401);
    const forbidden = await data(member.token, 'keystone/allow', input);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.json.error.message, /keystone_ts:data_api/);
    assert.equal((await data(admin, 'keystone/allow', input)).status, 200);
    // Bearer tokens are accepted as OPA clients send them.
    assert.equal((await http(server.url, 'POST', '/v1/data/keystone/allow', { body: input, headers: { Authorization: `Bearer ${service}` } })).status, 200);

    const bad: [unknown, RegExp][] = [
      [{ input: 'x' }, /Invalid input for field 'input': A string is not of type 'object'/],
      [{ input: { credentials: memberCredentials } }, /'action' is a required property/],
      [{ input: { action: 'identity:get_user' } }, /exactly one of 'credentials' and 'subject_token'/],
      [{ input: { action: 'identity:get_user', credentials: memberCredentials, subject_token: member.token } }, /exactly one/],
      [{ input: { action: 'identity:get_user', credentials: { ...memberCredentials, role: 'admin' } } }, /'input\/credentials'.*'role' was unexpected/],
      [{ input: { action: 'identity:get_user', credentials: { ...memberCredentials, roles: 'admin' } } }, /'input\/credentials\/roles'/],
      [{ input: { action: 'identity:get_user', credentials: { roles: [] } } }, /'user_id' is a required property/],
      [{ input: { ...getOther, credentials: memberCredentials, path: { user_id: 3 } } }, /'input\/path\/user_id'/],
      [{ input: { ...getOther, credentials: memberCredentials, extra: 1 } }, /'extra' was unexpected/],
      [[1, 2], /valid JSON/],
    ];
    for (const [body, message] of bad) {
      const res = await data(service, 'keystone/decision', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error.message, message);
      assert.ok(!res.text.includes(member.token), 'no token in the error');
    }
    assert.equal((await data(service, 'keystone/allow', '{"input": ')).status, 400);
    assert.equal((await http(server.url, 'GET', '/v1/data/keystone/allow?input=%7Bnot-json', { token: service })).status, 400);
    assert.equal((await http(server.url, 'GET', '/v1/data/keystone/%E0%A4%A', { token: service })).status, 400);
    const huge = { input: { ...getOther, credentials: memberCredentials, request_body: 'x'.repeat(200_000) } };
    assert.equal((await data(service, 'keystone/allow', huge)).status, 413);
    assert.equal((await http(server.url, 'PUT', '/v1/data/keystone/allow', { token: service, body: input })).status, 405);
  });

  it('goes through the decision point: decisions are counted per action', async () => {
    await data(service, 'keystone/allow', { input: { action: 'identity:list_projects', credentials: memberCredentials } });
    const metrics = (await http(server.url, 'GET', '/metrics')).text;
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:data_api",result="allow"\} \d+/);
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="keystone_ts:data_api",result="deny"\} \d+/);
    assert.match(metrics, /keystone_ts_policy_decisions_total\{action="identity:list_projects",result="deny"\} 1\n/);
    assert.match(metrics, /keystone_ts_http_requests_total\{method="POST",route="\/v1\/data\/\*document",status="200"\} \d+/);
  });
});

import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, client, http, type HttpResult, type TestServer, startTestServer } from '../support/server.js';

/**
 * A restricted token's action list and source ranges, enforced by the default policies on every
 * request (policies/restriction-cases shows the engines agree; this is the same over HTTP).
 */
describeEachDatabase('restricted tokens: actions and source ranges enforced on every request', (ctx) => {
  let server: TestServer;
  let admin: ReturnType<typeof client>;
  let adminToken: string;
  let projectId: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    const login = await adminLogin(server.url);
    adminToken = login.token;
    admin = client(server.url, adminToken);
    projectId = login.body.token.project.id;
  });
  after(async () => server?.close());

  /** The bootstrap admin's token narrowed by a restriction of `limits` (admin role kept). */
  async function restrictedToken(limits: Record<string, unknown>): Promise<ReturnType<typeof client>> {
    const adminRole = (await server.service.providers.assignments.findGlobalRoleByName('admin'))!;
    const created = await admin.post('/v4/tokens/restrictions', {
      restriction: { domain_id: 'default', project_id: projectId, allow_renew: false, allow_rescope: false, roles: [{ id: adminRole.id }], ...limits },
    });
    assert.equal(created.status, 201, created.text);
    const issued = await http(server.url, 'POST', `/v4/tokens/restrictions/${created.json.restriction.id}/tokens`, { token: adminToken });
    assert.equal(issued.status, 201, issued.text);
    return client(server.url, issued.headers.get('x-subject-token')!);
  }

  const violation = (res: HttpResult) => (res.json.error.violations as { field: string; message: string }[]).map((v) => v.field);

  it('allows the listed actions and refuses the others with the restriction’s violation, writes included', async () => {
    const restricted = await restrictedToken({ actions: ['identity:get_*'] });
    assert.equal((await restricted.get(`/v3/projects/${projectId}`)).status, 200);
    const listed = await restricted.get('/v3/users');
    assert.equal(listed.status, 403, listed.text);
    assert.deepEqual(violation(listed), ['credentials.restriction.actions']);
    assert.match(listed.json.error.violations[0].message, /does not allow identity:list_users/);
    const before = (await admin.get('/v3/projects')).json.projects.length as number;
    const created = await restricted.post('/v3/projects', { project: { name: 'not-by-a-reader-token' } });
    assert.equal(created.status, 403, created.text);
    assert.equal((await admin.get('/v3/projects')).json.projects.length, before, 'nothing was created');
    // The unrestricted token of the same user is unaffected.
    assert.equal((await admin.get('/v3/users')).status, 200);
  });

  it('refuses requests from outside the source ranges and allows those inside (IPv4 and IPv6 lists)', async () => {
    const elsewhere = await restrictedToken({ source_cidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    const refused = await elsewhere.get(`/v3/projects/${projectId}`);
    assert.equal(refused.status, 403, refused.text);
    assert.deepEqual(violation(refused), ['credentials.restriction.source_cidrs']);
    assert.match(refused.json.error.violations[0].message, /does not allow requests from 127\.0\.0\.1/);
    const here = await restrictedToken({ source_cidrs: ['2001:db8::/32', '127.0.0.0/8'] });
    assert.equal((await here.get(`/v3/projects/${projectId}`)).status, 200);
    const host = await restrictedToken({ source_cidrs: ['127.0.0.1'], actions: ['*'] });
    assert.equal((await host.get(`/v3/projects/${projectId}`)).status, 200, 'a bare address is one host');
  });
});

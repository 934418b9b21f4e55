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
  describe('inline policies', () => {
    const inline = (source: string, language = 'cedar') => ({ inline_policy: { language, source } });
    const count = async () => (await admin.get('/v4/tokens/restrictions')).json.restrictions.length as number;

    it('refuses on write what could never be evaluated, storing nothing', async () => {
      const adminRole = (await server.service.providers.assignments.findGlobalRoleByName('admin'))!;
      const before = await count();
      const create = (extra: Record<string, unknown>) =>
        admin.post('/v4/tokens/restrictions', { restriction: { domain_id: 'default', project_id: projectId, allow_renew: false, allow_rescope: false, roles: [{ id: adminRole.id }], ...extra } });
      const refusals: [Record<string, unknown>, RegExp][] = [
        [inline('permit (principal, action, resource) when {'), /Invalid Cedar inline policy/],
        [inline('permit (principal, action, resource) when { principal.no_such_attribute == "x" };'), /Invalid Cedar inline policy: .*no_such_attribute/],
        [inline('// nothing'), /no policy/],
        [inline('package restriction\nallow := true', 'rego'), /Rego inline policies are not supported/],
        [inline(`permit (principal, action, resource) when { ${'principal.user_id == "x" || '.repeat(700)}true };`), /larger than 16384 bytes/],
      ];
      for (const [extra, message] of refusals) {
        const res = await create(extra);
        assert.equal(res.status, 400, res.text);
        assert.match(res.json.error.message, message);
      }
      assert.equal(await count(), before);
    });

    it('must also allow: the restricted token can only do what the inline policy permits', async () => {
      const other = (await server.service.providers.resource.createProject({ name: 'inline-other', domain_id: 'default' })).id;
      const onlyOwn = await restrictedToken(
        inline(`permit (principal, action, resource) when { context.target has "target.project.id" && context.target["target.project.id"] == "${projectId}" };`),
      );
      assert.equal((await onlyOwn.get(`/v3/projects/${projectId}`)).status, 200);
      const refused = await onlyOwn.get(`/v3/projects/${other}`);
      assert.equal(refused.status, 403, refused.text);
      assert.deepEqual(violation(refused), ['credentials.restriction.inline_policy']);
      assert.match(refused.json.error.violations[0].message, /does not permit identity:get_project/);
      // The active engine still decides first: an inline permit-all grants nothing the rules deny.
      const everything = await restrictedToken(inline('permit (principal, action, resource);'));
      assert.equal((await everything.get(`/v3/projects/${other}`)).status, 200);
      const { token: memberToken } = await (async () => {
        const { identity, assignments } = server.service.providers;
        const member = (await assignments.findGlobalRoleByName('member'))!;
        const created = await identity.createUser({ name: 'inline-member', domain_id: 'default', password: 'pw-inline-member' });
        await assignments.grant('UserProject', created.id, projectId, member.id);
        const login = await http(server.url, 'POST', '/v3/auth/tokens', {
          body: { auth: { identity: { methods: ['password'], password: { user: { id: created.id, password: 'pw-inline-member' } } }, scope: { project: { id: projectId } } } },
        });
        return { token: login.headers.get('x-subject-token')! };
      })();
      const memberRole = (await server.service.providers.assignments.findGlobalRoleByName('member'))!;
      const permitAll = await admin.post('/v4/tokens/restrictions', {
        restriction: { domain_id: 'default', project_id: projectId, allow_renew: false, allow_rescope: false, roles: [{ id: memberRole.id }], ...inline('permit (principal, action, resource);') },
      });
      assert.equal(permitAll.status, 201, permitAll.text);
      const issued = await http(server.url, 'POST', `/v4/tokens/restrictions/${permitAll.json.restriction.id}/tokens`, { token: memberToken });
      assert.equal(issued.status, 201, issued.text);
      const memberRestricted = client(server.url, issued.headers.get('x-subject-token')!);
      assert.equal((await memberRestricted.get('/v3/users')).status, 403, 'a member may not list users, whatever the inline policy says');
    });
  });
});

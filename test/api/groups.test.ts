import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/groups', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    admin = (await adminLogin(base)).token;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, body?: unknown, token = admin) => http(base, method, path, { token, body });
  const createGroup = async (group: Record<string, unknown>) => {
    const res = await call('POST', '/v3/groups', { group });
    assert.equal(res.status, 201, res.text);
    return res.json.group;
  };
  const createUser = async (user: Record<string, unknown>) => {
    const res = await call('POST', '/v3/users', { user });
    assert.equal(res.status, 201, res.text);
    return res.json.user;
  };
  const names = (list: { name: string }[]) => list.map((g) => g.name).sort();

  it('creates, shows, updates and deletes a group with Keystone’s bodies', async () => {
    const g = await createGroup({ name: ' admins ', 'x-tag': 'blue' });
    assert.deepEqual(Object.keys(g), ['x_tag', 'id', 'name', 'domain_id', 'description', 'links']);
    assert.equal(g.name, 'admins');
    assert.equal(g.domain_id, 'default');
    assert.equal(g.description, '');
    assert.equal(g.links.self, `${base}/v3/groups/${g.id}`);
    assert.deepEqual((await call('GET', `/v3/groups/${g.id}`)).json.group, g);
    assert.equal((await call('HEAD', `/v3/groups/${g.id}`)).status, 200);
    const patched = await call('PATCH', `/v3/groups/${g.id}`, { group: { description: 'the admins', more: 2 } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(Object.keys(patched.json.group), ['x_tag', 'more', 'id', 'name', 'domain_id', 'description', 'links']);
    assert.equal(patched.json.group.description, 'the admins');
    assert.equal((await call('DELETE', `/v3/groups/${g.id}`)).status, 204);
    const gone = await call('GET', `/v3/groups/${g.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.message, `Could not find group: ${g.id}.`);
  });

  it('answers 400, 404 and 409 as Keystone does', async () => {
    assert.equal((await call('POST', '/v3/groups', { group: {} })).json.error.message, "'name' is a required property");
    assert.equal((await call('POST', '/v3/groups', { group: { name: 'x', description: 1 } })).json.error.message, "Invalid input for field 'description': 1 is not of type 'string', 'null'");
    const noDomain = await call('POST', '/v3/groups', { group: { name: 'x', domain_id: 'nope' } });
    assert.equal(noDomain.status, 404);
    assert.equal(noDomain.json.error.message, 'Could not find domain: nope.');
    await createGroup({ name: 'dup-g' });
    const dup = await call('POST', '/v3/groups', { group: { name: 'dup-g' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, 'Conflict occurred attempting to store group - Duplicate entry found with name dup-g at domain ID default.');
    const other = await createGroup({ name: 'dup-h' });
    const rename = await call('PATCH', `/v3/groups/${other.id}`, { group: { name: 'dup-g' } });
    assert.equal(rename.status, 409);
    assert.equal(rename.json.error.message, 'Conflict occurred attempting to store group - Duplicate entry found with name dup-g.');
    assert.equal((await call('PATCH', `/v3/groups/${other.id}`, { group: { domain_id: 'x' } })).json.error.message, 'Cannot change Domain ID');
    assert.equal((await call('PATCH', `/v3/groups/${other.id}`, { group: { id: 'x' } })).json.error.message, 'Cannot change ID');
    assert.equal((await call('PATCH', `/v3/groups/${other.id}`, { group: {} })).status, 400);
    assert.equal((await call('PATCH', '/v3/groups/nope', { group: { name: 'n' } })).status, 404);
    assert.equal((await call('DELETE', '/v3/groups/nope')).status, 404);
    assert.equal((await http(base, 'GET', '/v3/groups')).status, 401);
  });

  it('lists groups with the name and domain_id filters and the domain of a domain-scoped token', async () => {
    const domain = (await call('POST', '/v3/domains', { domain: { name: 'grp-dom' } })).json.domain;
    await createGroup({ name: 'Dev-Team', domain_id: domain.id });
    await createGroup({ name: 'ops-team', domain_id: domain.id });
    const list = await call('GET', `/v3/groups?domain_id=${domain.id}`);
    assert.deepEqual(names(list.json.groups), ['Dev-Team', 'ops-team']);
    assert.deepEqual(list.json.links, { next: null, self: `${base}/v3/groups?domain_id=${domain.id}`, previous: null });
    assert.deepEqual(names((await call('GET', '/v3/groups?name=ops-team')).json.groups), ['ops-team']);
    assert.deepEqual(names((await call('GET', `/v3/groups?domain_id=${domain.id}&name__icontains=TEAM`)).json.groups), ['Dev-Team', 'ops-team']);
    assert.deepEqual(names((await call('GET', `/v3/groups?domain_id=${domain.id}&name__contains=Team`)).json.groups), ['Dev-Team']);
    assert.deepEqual(names((await call('GET', `/v3/groups?domain_id=${domain.id}&name__startswith=ops`)).json.groups), ['ops-team']);

    const { providers } = server.service;
    const reader = await providers.identity.createUser({ name: 'grp-dom-reader', domain_id: domain.id, password: 'pw-grp-reader' });
    const role = await providers.assignments.findGlobalRoleByName('reader');
    await providers.assignments.grant('UserDomain', reader.id, domain.id, role!.id);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: reader.id }, 'pw-grp-reader', { domain: { id: domain.id } }) });
    const domainToken = login.headers.get('x-subject-token')!;
    assert.deepEqual(names((await call('GET', '/v3/groups', undefined, domainToken)).json.groups), ['Dev-Team', 'ops-team']);
  });

  it('adds, checks, lists and removes members; lists a user’s groups', async () => {
    const g = await createGroup({ name: 'members-g' });
    const u1 = await createUser({ name: 'm-one', password: 'pw-m-one' });
    const u2 = await createUser({ name: 'm-two', enabled: false });
    assert.equal((await call('PUT', `/v3/groups/${g.id}/users/${u1.id}`)).status, 204);
    assert.equal((await call('PUT', `/v3/groups/${g.id}/users/${u1.id}`)).status, 204); // idempotent
    assert.equal((await call('PUT', `/v3/groups/${g.id}/users/${u2.id}`)).status, 204);
    assert.equal((await call('HEAD', `/v3/groups/${g.id}/users/${u1.id}`)).status, 204);
    assert.equal((await call('GET', `/v3/groups/${g.id}/users/${u1.id}`)).status, 204);
    const users = await call('GET', `/v3/groups/${g.id}/users`);
    assert.equal(users.status, 200);
    assert.deepEqual(names(users.json.users), ['m-one', 'm-two']);
    assert.equal(users.json.users[0].links.self, `${base}/v3/users/${users.json.users[0].id}`);
    assert.deepEqual(names((await call('GET', `/v3/groups/${g.id}/users?enabled=false`)).json.users), ['m-two']);
    assert.deepEqual(names((await call('GET', `/v3/groups/${g.id}/users?name=m-one`)).json.users), ['m-one']);
    assert.deepEqual(names((await call('GET', `/v3/groups/${g.id}/users?password_expires_at=lt:2000-01-01T00:00:00Z`)).json.users), []);
    assert.equal((await call('GET', `/v3/groups/${g.id}/users?password_expires_at=zz:2000-01-01T00:00:00Z`)).status, 400);

    const groups = await call('GET', `/v3/users/${u1.id}/groups`);
    assert.equal(groups.status, 200);
    assert.deepEqual(Object.keys(groups.json.groups[0]), ['id', 'name', 'domain_id', 'description', 'membership_expires_at', 'links']);
    assert.equal(groups.json.groups[0].membership_expires_at, null);
    assert.deepEqual(names((await call('GET', `/v3/users/${u1.id}/groups?name=other`)).json.groups), []);
    assert.equal((await call('GET', '/v3/users/nope/groups')).status, 404);

    // A member's token ends when it leaves the group.
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: u1.id }, 'pw-m-one') });
    const token = login.headers.get('x-subject-token')!;
    assert.equal((await call('DELETE', `/v3/groups/${g.id}/users/${u1.id}`)).status, 204);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 404);
    const notIn = await call('HEAD', `/v3/groups/${g.id}/users/${u1.id}`);
    assert.equal(notIn.status, 404);
    const notInGet = await call('GET', `/v3/groups/${g.id}/users/${u1.id}`);
    assert.equal(notInGet.json.error.message, `User '${u1.id}' not found in group '${g.id}'`);
    assert.equal((await call('DELETE', `/v3/groups/${g.id}/users/${u1.id}`)).json.error.message, `User '${u1.id}' not found in group '${g.id}'`);
    assert.equal((await call('PUT', `/v3/groups/nope/users/${u1.id}`)).json.error.message, 'Could not find group: nope.');
    assert.equal((await call('PUT', `/v3/groups/${g.id}/users/nope`)).json.error.message, 'Could not find user: nope.');
    assert.equal((await call('DELETE', `/v3/groups/${g.id}/users/nope`)).json.error.message, 'Could not find user: nope.');
  });

  it('deleting a group removes memberships and assignments and ends the members’ tokens', async () => {
    const g = await createGroup({ name: 'doomed-g' });
    const u = await createUser({ name: 'doomed-member', password: 'pw-doomed' });
    await call('PUT', `/v3/groups/${g.id}/users/${u.id}`);
    const { providers } = server.service;
    const role = await providers.assignments.findGlobalRoleByName('member');
    const project = (await call('POST', '/v3/projects', { project: { name: 'doomed-g-project' } })).json.project;
    await providers.assignments.grant('GroupProject', g.id, project.id, role!.id);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: u.id }, 'pw-doomed', { project: { id: project.id } }) });
    assert.equal(login.status, 201, login.text);
    const token = login.headers.get('x-subject-token')!;
    assert.equal((await call('DELETE', `/v3/groups/${g.id}`)).status, 204);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 404);
    const db = ctx.db().kysely;
    assert.equal((await db.selectFrom('assignment').selectAll().where('actor_id', '=', g.id).execute()).length, 0);
    assert.equal((await db.selectFrom('user_group_membership').selectAll().where('group_id', '=', g.id).execute()).length, 0);
    assert.deepEqual((await call('GET', `/v3/users/${u.id}/groups`)).json.groups, []);
  });

  it('denies a plain member every group operation with the rule’s name', async () => {
    const g = await createGroup({ name: 'guarded-g' });
    const u = await createUser({ name: 'guarded-u' });
    const member = await projectUserToken(server, 'grp-plain-member', 'member');
    for (const [method, path, body, action] of [
      ['GET', '/v3/groups', undefined, 'identity:list_groups'],
      ['POST', '/v3/groups', { group: { name: 'nope' } }, 'identity:create_group'],
      ['GET', `/v3/groups/${g.id}`, undefined, 'identity:get_group'],
      ['PATCH', `/v3/groups/${g.id}`, { group: { name: 'nope' } }, 'identity:update_group'],
      ['DELETE', `/v3/groups/${g.id}`, undefined, 'identity:delete_group'],
      ['GET', `/v3/groups/${g.id}/users`, undefined, 'identity:list_users_in_group'],
      ['HEAD', `/v3/groups/${g.id}/users/${u.id}`, undefined, 'identity:check_user_in_group'],
      ['PUT', `/v3/groups/${g.id}/users/${u.id}`, undefined, 'identity:add_user_to_group'],
      ['DELETE', `/v3/groups/${g.id}/users/${u.id}`, undefined, 'identity:remove_user_from_group'],
    ] as const) {
      const res = await call(method, path, body, member.token);
      assert.equal(res.status, 403, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
    }
    // Policy runs before existence: a missing group is 403 to the member, 404 to the admin.
    assert.equal((await call('GET', '/v3/groups/nope', undefined, member.token)).status, 403);
    assert.equal((await call('GET', '/v3/groups/nope')).status, 404);
  });
});

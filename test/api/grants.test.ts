import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { addUserToGroup, createGroup } from '../support/groups.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('grants: projects, domains, OS-INHERIT and system', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let counter = 0;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    admin = (await adminLogin(base)).token;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, token = admin, body?: unknown) => http(base, method, path, { token, body });
  const roleId = async (name: string) => (await server.service.providers.assignments.findGlobalRoleByName(name))!.id;
  const newUser = async (domainId = 'default') => {
    counter += 1;
    const name = `grant-user-${counter}`;
    const user = await server.service.providers.identity.createUser({ name, domain_id: domainId, password: `pw-${name}` });
    return { id: user.id, password: `pw-${name}` };
  };
  const newProject = async (extra: Record<string, unknown> = {}) => {
    counter += 1;
    const res = await call('POST', '/v3/projects', admin, { project: { name: `grant-p-${counter}`, ...extra } });
    assert.equal(res.status, 201, res.text);
    return res.json.project as { id: string; domain_id: string };
  };
  const newDomain = async () => {
    counter += 1;
    const res = await call('POST', '/v3/domains', admin, { domain: { name: `grant-d-${counter}` } });
    assert.equal(res.status, 201, res.text);
    return res.json.domain as { id: string };
  };
  const login = async (user: { id: string; password: string }, scope: unknown) =>
    http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, user.password, scope) });

  it('grants, checks, lists and revokes a user role on a project', async () => {
    const user = await newUser();
    const project = await newProject();
    const member = await roleId('member');
    const path = `/v3/projects/${project.id}/users/${user.id}/roles/${member}`;
    const missing = await call('HEAD', path);
    assert.equal(missing.status, 404);
    const missingGet = await call('GET', path);
    assert.equal(missingGet.json.error.message, `Could not find role assignment with role: ${member}, user or group: ${user.id}, project, domain, or system: ${project.id}.`);
    assert.equal((await call('PUT', path)).status, 204);
    assert.equal((await call('PUT', path)).status, 204); // idempotent
    assert.equal((await call('HEAD', path)).status, 204);
    assert.equal((await call('GET', path)).status, 204);
    const list = await call('GET', `/v3/projects/${project.id}/users/${user.id}/roles`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.roles.map((r: { id: string }) => r.id), [member]);
    assert.deepEqual(Object.keys(list.json.roles[0]), ['id', 'name', 'domain_id', 'description', 'options', 'links']);
    assert.equal(list.json.roles[0].links.self, `${base}/v3/roles/${member}`);
    assert.deepEqual(list.json.links, { next: null, self: `${base}/v3/projects/${project.id}/users/${user.id}/roles`, previous: null });
    assert.equal((await call('DELETE', path)).status, 204);
    const again = await call('DELETE', path);
    assert.equal(again.status, 404);
    assert.match(again.json.error.message, /^Could not find role assignment with role: /);
    assert.deepEqual((await call('GET', `/v3/projects/${project.id}/users/${user.id}/roles`)).json.roles, []);
  });

  it('answers 404 for unknown project, user, group and role, in Keystone’s order', async () => {
    const user = await newUser();
    const project = await newProject();
    const member = await roleId('member');
    const msg = async (method: string, path: string) => {
      const res = await call(method, path);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      return res.json.error.message;
    };
    assert.equal(await msg('PUT', `/v3/projects/nope/users/${user.id}/roles/${member}`), 'Could not find project: nope.');
    assert.equal(await msg('PUT', `/v3/projects/${project.id}/users/nope/roles/${member}`), 'Could not find user: nope.');
    assert.equal(await msg('PUT', `/v3/projects/${project.id}/groups/nope/roles/${member}`), 'Could not find group: nope.');
    // The role is looked up first on project routes, the domain first on domain routes.
    assert.equal(await msg('PUT', `/v3/projects/nope/users/nope/roles/nope`), 'Could not find role: nope.');
    assert.equal(await msg('PUT', `/v3/domains/nope/users/nope/roles/nope`), 'Could not find domain: nope.');
    assert.equal(await msg('GET', `/v3/domains/default/users/nope/roles`), 'Could not find user: nope.');
    // Revoking from a vanished user is allowed to reach the assignment check.
    assert.match(await msg('DELETE', `/v3/projects/${project.id}/users/nope/roles/${member}`), /^Could not find role assignment/);
    assert.equal(await msg('GET', `/v3/system/users/${user.id}/roles/nope`), 'Could not find role: nope.');
    assert.equal(await msg('GET', `/v3/system/groups/nope/roles`), 'Could not find group: nope.');
    // OS-INHERIT builds its target without failing: the 404 comes from the grant itself.
    assert.equal(await msg('PUT', `/v3/OS-INHERIT/domains/nope/users/${user.id}/roles/${member}/inherited_to_projects`), 'Could not find domain: nope.');
    assert.equal(await msg('PUT', `/v3/OS-INHERIT/projects/${project.id}/users/${user.id}/roles/nope/inherited_to_projects`), 'Could not find role: nope.');
  });

  it('grants groups and domains, and keeps inherited grants apart from direct ones', async () => {
    const groupId = await createGroup(server, `grant-g-${(counter += 1)}`);
    const domain = await newDomain();
    const reader = await roleId('reader');
    const member = await roleId('member');
    const direct = `/v3/domains/${domain.id}/groups/${groupId}/roles/${reader}`;
    const inherited = `/v3/OS-INHERIT/domains/${domain.id}/groups/${groupId}/roles/${member}/inherited_to_projects`;
    assert.equal((await call('PUT', direct)).status, 204);
    assert.equal((await call('PUT', inherited)).status, 204);
    assert.equal((await call('HEAD', direct)).status, 204);
    assert.equal((await call('GET', inherited)).status, 204);
    // The inherited grant is not a direct one and vice versa.
    assert.equal((await call('HEAD', `/v3/domains/${domain.id}/groups/${groupId}/roles/${member}`)).status, 404);
    assert.equal((await call('HEAD', `/v3/OS-INHERIT/domains/${domain.id}/groups/${groupId}/roles/${reader}/inherited_to_projects`)).status, 404);
    const directList = await call('GET', `/v3/domains/${domain.id}/groups/${groupId}/roles`);
    assert.deepEqual(directList.json.roles.map((r: { id: string }) => r.id), [reader]);
    const inheritedList = await call('GET', `/v3/OS-INHERIT/domains/${domain.id}/groups/${groupId}/roles/inherited_to_projects`);
    assert.deepEqual(inheritedList.json.roles.map((r: { id: string }) => r.id), [member]);
    assert.equal((await call('DELETE', inherited)).status, 204);
    assert.equal((await call('DELETE', direct)).status, 204);

    const user = await newUser();
    const project = await newProject();
    const projInherited = `/v3/OS-INHERIT/projects/${project.id}/users/${user.id}/roles/${member}/inherited_to_projects`;
    assert.equal((await call('PUT', projInherited)).status, 204);
    assert.equal((await call('HEAD', projInherited)).status, 204);
    assert.equal((await call('HEAD', `/v3/projects/${project.id}/users/${user.id}/roles/${member}`)).status, 404);
    assert.equal((await call('DELETE', projInherited)).status, 204);
    // Upstream has no list of inherited grants on a project.
    assert.equal((await call('GET', `/v3/OS-INHERIT/projects/${project.id}/users/${user.id}/roles/inherited_to_projects`)).status, 404);
    const userDomain = `/v3/domains/default/users/${user.id}/roles/${reader}`;
    assert.equal((await call('PUT', userDomain)).status, 204);
    assert.deepEqual((await call('GET', `/v3/domains/default/users/${user.id}/roles`)).json.roles.map((r: { id: string }) => r.id), [reader]);
    assert.equal((await call('DELETE', userDomain)).status, 204);
  });

  it('keeps a domain-specific role within its domain and out of the system', async () => {
    const domain = await newDomain();
    const res = await call('POST', '/v3/roles', admin, { role: { name: 'dsr', domain_id: domain.id } });
    const dsr = res.json.role.id as string;
    const user = await newUser();
    const elsewhere = await newProject();
    const mismatch = await call('PUT', `/v3/projects/${elsewhere.id}/users/${user.id}/roles/${dsr}`);
    assert.equal(mismatch.status, 403);
    assert.equal(mismatch.json.error.message, `Project ${elsewhere.id} must be in the same domain as the role ${dsr} being assigned.`);
    const inside = await newProject({ domain_id: domain.id });
    assert.equal((await call('PUT', `/v3/projects/${inside.id}/users/${user.id}/roles/${dsr}`)).status, 204);
    const system = await call('PUT', `/v3/system/users/${user.id}/roles/${dsr}`);
    assert.equal(system.status, 400);
    assert.equal(system.json.error.message, `Role ${dsr} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`);
  });

  it('grants system roles to users and groups', async () => {
    const user = await newUser();
    const groupId = await createGroup(server, `grant-sys-${(counter += 1)}`);
    const reader = await roleId('reader');
    for (const [actor, id] of [['users', user.id], ['groups', groupId]] as const) {
      const path = `/v3/system/${actor}/${id}/roles/${reader}`;
      const none = await call('HEAD', path);
      assert.equal(none.status, 404);
      assert.equal((await call('GET', path)).json.error.message, `Could not find role assignment with role: ${reader}, user or group: ${id}, project, domain, or system: system.`);
      assert.equal((await call('PUT', path)).status, 204);
      assert.equal((await call('PUT', path)).status, 204);
      assert.equal((await call('HEAD', path)).status, 204);
      const list = await call('GET', `/v3/system/${actor}/${id}/roles`);
      assert.deepEqual(list.json.roles.map((r: { name: string }) => r.name), ['reader']);
      assert.equal(list.json.links.self, `${base}/v3/system/${actor}/${id}/roles`);
      assert.equal((await call('DELETE', path)).status, 204);
      assert.equal((await call('DELETE', path)).status, 404);
    }
  });

  it('puts granted roles, implied ones included, in new tokens; a revoked last role invalidates the old token', async () => {
    const user = await newUser();
    const project = await newProject();
    const manager = await roleId('manager');
    assert.equal((await login(user, { project: { id: project.id } })).status, 401);
    const path = `/v3/projects/${project.id}/users/${user.id}/roles/${manager}`;
    assert.equal((await call('PUT', path)).status, 204);
    const issued = await login(user, { project: { id: project.id } });
    assert.equal(issued.status, 201, issued.text);
    assert.deepEqual(issued.json.token.roles.map((r: { name: string }) => r.name).sort(), ['manager', 'member', 'reader']);
    const token = issued.headers.get('x-subject-token')!;
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 200);

    // A group grant reaches the members' tokens the same way.
    const groupId = await createGroup(server, `grant-tok-${(counter += 1)}`);
    await addUserToGroup(server, user.id, groupId);
    const service = await roleId('service');
    assert.equal((await call('PUT', `/v3/projects/${project.id}/groups/${groupId}/roles/${service}`)).status, 204);
    const withGroup = await login(user, { project: { id: project.id } });
    assert.ok(withGroup.json.token.roles.some((r: { name: string }) => r.name === 'service'));
    assert.equal((await call('DELETE', `/v3/projects/${project.id}/groups/${groupId}/roles/${service}`)).status, 204);

    // Keystone writes no revocation event for a revoked grant: roles are recomputed at validation.
    const events = (await call('GET', '/v3/OS-REVOKE/events')).json.events.length;
    assert.equal((await call('DELETE', path)).status, 204);
    assert.equal((await call('GET', '/v3/OS-REVOKE/events')).json.events.length, events);
    const stale = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token });
    assert.equal(stale.status, 404);
    assert.equal((await http(base, 'GET', '/v3/projects', { token })).status, 401);
  });

  it('enforces the grant rules: a member is denied, a domain manager grants within its domain only', async () => {
    const member = (await projectUserToken(server, `grant-member-${(counter += 1)}`, 'member')).token;
    const user = await newUser();
    const project = await newProject();
    const reader = await roleId('reader');
    for (const [method, path] of [
      ['PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${reader}`],
      ['GET', `/v3/projects/${project.id}/users/${user.id}/roles/${reader}`],
      ['GET', `/v3/projects/${project.id}/users/${user.id}/roles`],
      ['DELETE', `/v3/domains/default/users/${user.id}/roles/${reader}`],
      ['PUT', `/v3/OS-INHERIT/domains/default/users/${user.id}/roles/${reader}/inherited_to_projects`],
      ['PUT', `/v3/system/users/${user.id}/roles/${reader}`],
      ['GET', `/v3/system/users/${user.id}/roles`],
    ] as const) {
      const res = await call(method, path, member);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.json.error.message, /^You are not authorized to perform the requested action: identity:/);
    }
    // OS-INHERIT decides before looking anything up: a denied caller learns nothing of a missing role.
    assert.equal((await call('PUT', `/v3/OS-INHERIT/domains/default/users/${user.id}/roles/nope/inherited_to_projects`, member)).status, 403);

    const other = await newDomain();
    // `admin` on anything is cloud admin in Keystone's defaults (ADM): a domain manager is the domain-bound case.
    const manager = await newUser();
    await server.service.providers.assignments.grant('UserDomain', manager.id, 'default', await roleId('manager'));
    const mToken = (await login(manager, { domain: { id: 'default' } })).headers.get('x-subject-token')!;
    assert.equal((await call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${reader}`, mToken)).status, 204);
    const outsider = await newUser(other.id);
    const denied = await call('PUT', `/v3/projects/${project.id}/users/${outsider.id}/roles/${reader}`, mToken);
    assert.equal(denied.status, 403);
    assert.equal((await call('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${await roleId('admin')}`, mToken)).status, 403);
  });
});

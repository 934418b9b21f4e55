import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/roles, implied roles and /v3/role_inferences', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), { 'role.list_limit': '50' });
    base = server.url;
    admin = (await adminLogin(base)).token;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, body?: unknown, token = admin) => http(base, method, path, { token, body });
  const create = async (role: Record<string, unknown>) => {
    const res = await call('POST', '/v3/roles', { role });
    assert.equal(res.status, 201, res.text);
    return res.json.role;
  };
  const roleId = async (name: string) => (await server.service.providers.assignments.findGlobalRoleByName(name))!.id;

  it('creates, shows, updates and deletes a role with Keystone’s bodies', async () => {
    const role = await create({ name: 'observer', description: 'sees', 'x-color': 'blue', id: 'ignored' });
    assert.deepEqual(Object.keys(role), ['x_color', 'id', 'name', 'domain_id', 'description', 'options', 'links']);
    assert.match(role.id, /^[0-9a-f]{32}$/);
    assert.equal(role.domain_id, null);
    assert.deepEqual(role.options, {});
    assert.equal(role.links.self, `${base}/v3/roles/${role.id}`);
    assert.deepEqual((await call('GET', `/v3/roles/${role.id}`)).json.role, role);
    const head = await call('HEAD', `/v3/roles/${role.id}`);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');

    const patched = await call('PATCH', `/v3/roles/${role.id}`, { role: { description: null, size: 2 } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.role, { ...role, size: 2, description: null, links: role.links });
    assert.equal((await call('PATCH', `/v3/roles/${role.id}`, { role: { id: 'other' } })).json.error.message, 'Cannot change ID');
    const moved = await call('PATCH', `/v3/roles/${role.id}`, { role: { domain_id: 'default' } });
    assert.equal(moved.status, 400);
    assert.equal(moved.json.error.message, 'Update of `domain_id` is not allowed.');

    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 204);
    const gone = await call('GET', `/v3/roles/${role.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json, { error: { code: 404, message: `Could not find role: ${role.id}.`, title: 'Not Found' } });
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 404);
    assert.equal((await call('PATCH', `/v3/roles/${role.id}`, { role: { name: 'x' } })).status, 404);
  });

  it('answers 400 and 409 as Keystone does', async () => {
    const cases: [unknown, string][] = [
      [{}, "'role' is a required property"],
      [{ role: {} }, "'name' is a required property"],
      [{ role: { name: '' } }, "Invalid input for field 'name'"],
      [{ role: { name: 'x', options: { other: true } } }, "Invalid input for field 'options'"],
      [{ role: { name: 'x', domain_id: 'bad id' } }, "Invalid input for field 'domain_id'"],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/v3/roles', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(res.json.error.message.startsWith(message), res.json.error.message);
    }
    assert.equal((await call('PATCH', `/v3/roles/${await roleId('reader')}`, { role: {} })).status, 400);
    await create({ name: 'twin' });
    const dup = await call('POST', '/v3/roles', { role: { name: 'twin' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, 'Conflict occurred attempting to store role - Duplicate entry found with name twin.');
    // The same name in a domain is another role; twice in that domain is a conflict again.
    const scoped = await create({ name: 'twin', domain_id: 'default' });
    assert.equal(scoped.domain_id, 'default');
    const dupScoped = await call('POST', '/v3/roles', { role: { name: 'twin', domain_id: 'default' } });
    assert.equal(dupScoped.json.error.message, 'Conflict occurred attempting to store role - Duplicate entry found with name twin at domain ID default.');
    const renamed = await create({ name: 'twin-2' });
    const clash = await call('PATCH', `/v3/roles/${renamed.id}`, { role: { name: 'twin' } });
    assert.equal(clash.status, 409);
    assert.equal(clash.json.error.message, 'Conflict occurred attempting to store role - Duplicate entry found with name twin.');
  });

  it('lists global roles, or one domain’s, with name filters', async () => {
    const dr = await create({ name: 'domain-only', domain_id: 'default' });
    const all = await call('GET', '/v3/roles');
    assert.equal(all.status, 200);
    const names = all.json.roles.map((r: { name: string }) => r.name);
    for (const n of ['admin', 'manager', 'member', 'reader', 'service']) assert.ok(names.includes(n), n);
    assert.ok(!names.includes('domain-only'));
    assert.deepEqual(all.json.links, { next: null, self: `${base}/v3/roles`, previous: null });
    const inDomain = await call('GET', '/v3/roles?domain_id=default');
    assert.ok(inDomain.json.roles.some((r: { id: string }) => r.id === dr.id));
    assert.ok(inDomain.json.roles.every((r: { domain_id: string }) => r.domain_id === 'default'));
    assert.deepEqual((await call('GET', '/v3/roles?name=reader')).json.roles.map((r: { name: string }) => r.name), ['reader']);
    assert.deepEqual((await call('GET', '/v3/roles?name__istartswith=READ')).json.roles.map((r: { name: string }) => r.name), ['reader']);
    assert.deepEqual((await call('GET', `/v3/roles?name=${'x'.repeat(256)}`)).json.roles, []);
  });

  it('truncates at [role] list_limit', async () => {
    const limited = await startTestServer(ctx.db(), { 'role.list_limit': '2' });
    try {
      const token = (await adminLogin(limited.url)).token;
      const res = await http(limited.url, 'GET', '/v3/roles', { token });
      assert.equal(res.json.roles.length, 2);
      assert.equal(res.json.truncated, true);
    } finally {
      await limited.close();
    }
  });

  it('refuses to update or delete an immutable role until immutable is unset', async () => {
    const role = await create({ name: 'frozen', options: { immutable: true } });
    assert.deepEqual(role.options, { immutable: true });
    const upd = await call('PATCH', `/v3/roles/${role.id}`, { role: { name: 'thawed' } });
    assert.equal(upd.status, 403);
    assert.equal(upd.json.error.message, `Unable to update immutable role resource: \`${role.id}. Set resource option "immutable" to false first.`);
    const del = await call('DELETE', `/v3/roles/${role.id}`);
    assert.equal(del.status, 403);
    assert.equal(del.json.error.message, `Unable to delete immutable role resource: \`${role.id}. Set resource option "immutable" to false first.`);
    // Bootstrap's roles are immutable too.
    assert.equal((await call('DELETE', `/v3/roles/${await roleId('admin')}`)).status, 403);
    const unset = await call('PATCH', `/v3/roles/${role.id}`, { role: { options: { immutable: null } } });
    assert.equal(unset.status, 200, unset.text);
    assert.deepEqual(unset.json.role.options, {});
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 204);
  });

  it('manages implied roles and renders inferences as Keystone', async () => {
    const prior = await create({ name: 'inf-prior' });
    const implied = await create({ name: 'inf-implied' });
    const put = await call('PUT', `/v3/roles/${prior.id}/implies/${implied.id}`);
    assert.equal(put.status, 201, put.text);
    const ref = (r: { id: string; name: string }) => ({ id: r.id, links: { self: `${base}/v3/roles/${r.id}` }, name: r.name });
    assert.deepEqual(put.json, {
      role_inference: { prior_role: ref(prior), implies: ref(implied) },
      links: { self: `${base}/v3/roles/${prior.id}/implies/${implied.id}` },
    });
    assert.deepEqual((await call('GET', `/v3/roles/${prior.id}/implies/${implied.id}`)).json, put.json);
    const head = await call('HEAD', `/v3/roles/${prior.id}/implies/${implied.id}`);
    assert.equal(head.status, 204);
    const list = await call('GET', `/v3/roles/${prior.id}/implies`);
    assert.deepEqual(list.json, { role_inference: { prior_role: ref(prior), implies: [ref(implied)] }, links: { self: `${base}/v3/roles/${prior.id}/implies` } });
    const dup = await call('PUT', `/v3/roles/${prior.id}/implies/${implied.id}`);
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, 'Conflict occurred attempting to store implied_role - Duplicate entry.');

    const inferences = await call('GET', '/v3/role_inferences');
    assert.equal(inferences.status, 200);
    assert.deepEqual(Object.keys(inferences.json), ['role_inferences']);
    const mine = inferences.json.role_inferences.find((i: { prior_role: { id: string } }) => i.prior_role.id === prior.id);
    assert.deepEqual(mine, { prior_role: ref(prior), implies: [ref(implied)] });
    // Bootstrap's chain: admin implies manager, manager member, member reader.
    const adminRule = inferences.json.role_inferences.find((i: { prior_role: { name: string } }) => i.prior_role.name === 'admin');
    assert.deepEqual(adminRule.implies.map((r: { name: string }) => r.name), ['manager']);

    assert.equal((await call('DELETE', `/v3/roles/${prior.id}/implies/${implied.id}`)).status, 204);
    const missing = await call('GET', `/v3/roles/${prior.id}/implies/${implied.id}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, `${prior.id} does not imply ${implied.id}.`);
    assert.equal((await call('DELETE', `/v3/roles/${prior.id}/implies/${implied.id}`)).status, 404);
    assert.equal((await call('HEAD', `/v3/roles/${prior.id}/implies/${implied.id}`)).status, 404);
    const unknown = await call('PUT', `/v3/roles/${prior.id}/implies/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.message, 'Could not find role: nope.');
    assert.equal((await call('GET', '/v3/roles/nope/implies')).status, 404);
  });

  it('refuses prohibited and global-to-domain implications with 403, and deleting a role drops its rules', async () => {
    const prior = await create({ name: 'inf-p2' });
    const adminId = await roleId('admin');
    const prohibited = await call('PUT', `/v3/roles/${prior.id}/implies/${adminId}`);
    assert.equal(prohibited.status, 403);
    assert.equal(prohibited.json.error.message, `${adminId} cannot be an implied roles.`);
    const domainRole = await create({ name: 'inf-domain', domain_id: 'default' });
    const toDomain = await call('PUT', `/v3/roles/${prior.id}/implies/${domainRole.id}`);
    assert.equal(toDomain.status, 403);
    assert.equal(toDomain.json.error.message, `${domainRole.id} cannot be an implied roles.`);
    // A domain-specific role may imply a global one (its whole purpose) and another domain role.
    assert.equal((await call('PUT', `/v3/roles/${domainRole.id}/implies/${prior.id}`)).status, 201);
    const other = await create({ name: 'inf-domain-2', domain_id: 'default' });
    assert.equal((await call('PUT', `/v3/roles/${domainRole.id}/implies/${other.id}`)).status, 201);
    // Keystone has no rule against a role implying itself; the expansion guards the cycle.
    assert.equal((await call('PUT', `/v3/roles/${prior.id}/implies/${prior.id}`)).status, 201);
    assert.equal((await call('DELETE', `/v3/roles/${prior.id}`)).status, 204);
    const rules = (await call('GET', '/v3/role_inferences')).json.role_inferences;
    const mine = rules.find((i: { prior_role: { id: string } }) => i.prior_role.id === domainRole.id);
    assert.deepEqual(mine.implies.map((r: { id: string }) => r.id), [other.id]);
  });

  it('enforces the role rules: a project member is denied, a domain manager sees only manageable roles', async () => {
    const member = (await projectUserToken(server, 'roles-member', 'member')).token;
    const readerId = await roleId('reader');
    for (const [method, path] of [
      ['GET', '/v3/roles'],
      ['POST', '/v3/roles'],
      ['GET', `/v3/roles/${readerId}`],
      ['PATCH', `/v3/roles/${readerId}`],
      ['DELETE', `/v3/roles/${readerId}`],
      ['GET', '/v3/role_inferences'],
      ['GET', `/v3/roles/${readerId}/implies`],
      ['PUT', `/v3/roles/${readerId}/implies/${readerId}`],
    ] as const) {
      const res = await call(method, path, method === 'POST' || method === 'PATCH' ? { role: { name: 'x' } } : undefined, member);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.json.error.message, /^You are not authorized to perform the requested action: identity:/);
    }
    // A missing role is not revealed to a denied caller: the rule is checked first.
    assert.equal((await call('GET', '/v3/roles/nope', undefined, member)).status, 403);
    const domainRole = await create({ name: 'hidden-domain-role', domain_id: 'default' });
    const denied = await call('GET', `/v3/roles/${domainRole.id}`, undefined, member);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:get_domain_role.');
    const listDomain = await call('GET', '/v3/roles?domain_id=default', undefined, member);
    assert.equal(listDomain.json.error.message, 'You are not authorized to perform the requested action: identity:list_domain_roles.');

    // A domain manager may list global roles and show the manager, member and reader roles only.
    const { providers } = server.service;
    const user = await providers.identity.createUser({ name: 'roles-dm', domain_id: 'default', password: 'pw-roles-dm' });
    await providers.assignments.grant('UserDomain', user.id, 'default', await roleId('manager'));
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'pw-roles-dm', { domain: { id: 'default' } }) });
    const dm = login.headers.get('x-subject-token')!;
    assert.equal((await call('GET', '/v3/roles', undefined, dm)).status, 200);
    assert.equal((await call('GET', `/v3/roles/${readerId}`, undefined, dm)).status, 200);
    assert.equal((await call('GET', `/v3/roles/${await roleId('admin')}`, undefined, dm)).status, 403);
  });
});

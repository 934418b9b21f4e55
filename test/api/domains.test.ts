import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/domains', (ctx) => {
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

  let members = 0;
  const memberToken = (where: { projectId?: string; domainId?: string } = {}) => projectUserToken(server, `m-domains-${(members += 1)}`, 'member', where);

  it('creates a domain with Keystone’s body: extras first, no domain_id/parent_id/is_domain, links last', async () => {
    const res = await call('POST', '/v3/domains', { domain: { name: ' d-create ', description: 'D', 'x-color': 'blue', tags: ['a'] } });
    assert.equal(res.status, 201, res.text);
    const d = res.json.domain;
    assert.deepEqual(Object.keys(d), ['x_color', 'id', 'name', 'description', 'enabled', 'tags', 'options', 'links']);
    assert.equal(d.name, 'd-create');
    assert.equal(d.enabled, true);
    assert.deepEqual(d.tags, ['a']);
    assert.deepEqual(d.options, {});
    assert.match(d.id, /^[0-9a-f]{32}$/);
    assert.equal(d.links.self, `${base}/v3/domains/${d.id}`);
    assert.ok(res.text.endsWith('\n'));
    const shown = await call('GET', `/v3/domains/${d.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json.domain, d);
  });

  it('honours explicit_domain_id (a UUID hex, else 400) and keeps it among the extras', async () => {
    const id = 'aa'.repeat(16);
    const res = await call('POST', '/v3/domains', { domain: { name: 'explicit', explicit_domain_id: id } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.domain.id, id);
    assert.equal(res.json.domain.explicit_domain_id, id);
    const bad = await call('POST', '/v3/domains', { domain: { name: 'explicit2', explicit_domain_id: 'not-a-uuid' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.message, 'Domain ID does not conform to required UUID format.');
  });

  it('refuses invalid bodies with 400 and duplicates with 409', async () => {
    for (const [body, message] of [
      [{ domain: {} }, "'name' is a required property"],
      [{}, "'name' is a required property"],
      [{ domain: { name: 'x'.repeat(65) } }, "Invalid input for field 'name': A string is too long"],
      [{ domain: { name: '' } }, "Invalid input for field 'name': A string is too short"],
      [{ domain: { name: 'ok', enabled: 'yes' } }, "Invalid input for field 'enabled': A string is not of type 'boolean'"],
      [{ domain: { name: 'ok', tags: ['a,b'] } }, "Invalid input for field 'tags/0': A string does not match '^[^,/]*$'"],
    ] as const) {
      const res = await call('POST', '/v3/domains', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.message, message);
    }
    assert.equal((await call('POST', '/v3/domains', { domain: { name: 'dup' } })).status, 201);
    const dup = await call('POST', '/v3/domains', { domain: { name: 'dup' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, 'Conflict occurred attempting to store project - it is not permitted to have two projects acting as domains with the same name: dup.');
    const federated = await call('POST', '/v3/domains', { domain: { name: 'federated' } });
    assert.equal(federated.status, 400);
  });

  it('lists with name and enabled filters, name__icontains, links and no project rows', async () => {
    await call('POST', '/v3/domains', { domain: { name: 'ListMe-1' } });
    await call('POST', '/v3/domains', { domain: { name: 'listme-2', enabled: false } });
    const all = await call('GET', '/v3/domains');
    assert.equal(all.status, 200);
    assert.deepEqual(Object.keys(all.json), ['domains', 'links']);
    assert.deepEqual(all.json.links, { next: null, self: `${base}/v3/domains`, previous: null });
    const names = all.json.domains.map((d: { name: string }) => d.name);
    assert.ok(names.includes('Default') && names.includes('ListMe-1'));
    assert.ok(!names.includes('admin'), 'projects are not domains');
    assert.ok(!all.json.domains.some((d: { id: string }) => d.id === '<<keystone.domain.root>>'));
    const byName = await call('GET', '/v3/domains?name=ListMe-1');
    assert.deepEqual(byName.json.domains.map((d: { name: string }) => d.name), ['ListMe-1']);
    assert.equal(byName.json.links.self, `${base}/v3/domains?name=ListMe-1`);
    const disabled = await call('GET', '/v3/domains?enabled=false');
    assert.deepEqual(disabled.json.domains.map((d: { name: string }) => d.name), ['listme-2']);
    const contains = await call('GET', '/v3/domains?name__icontains=LISTME');
    assert.deepEqual(contains.json.domains.map((d: { name: string }) => d.name).sort(), ['ListMe-1', 'listme-2']);
    const sensitive = await call('GET', '/v3/domains?name__contains=ListMe');
    assert.deepEqual(sensitive.json.domains.map((d: { name: string }) => d.name), ['ListMe-1']);
    const head = await call('HEAD', '/v3/domains');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('truncates at [resource] list_limit with "truncated": true', async () => {
    const limited = await startTestServer(ctx.db(), { 'resource.list_limit': '2' });
    try {
      const token = (await adminLogin(limited.url)).token;
      const res = await http(limited.url, 'GET', '/v3/domains', { token });
      assert.equal(res.json.domains.length, 2);
      assert.equal(res.json.truncated, true);
      assert.deepEqual(Object.keys(res.json), ['domains', 'links', 'truncated']);
      const one = await http(limited.url, 'GET', '/v3/domains?name=Default', { token });
      assert.equal(one.json.truncated, undefined);
    } finally {
      await limited.close();
    }
  });

  it('updates name, description and extras; refuses bad ids and bodies', async () => {
    const created = (await call('POST', '/v3/domains', { domain: { name: 'upd', foo: 'bar' } })).json.domain;
    const res = await call('PATCH', `/v3/domains/${created.id}`, { domain: { name: 'upd2', description: 'new', baz: 1 } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json.domain), ['foo', 'baz', 'id', 'name', 'description', 'enabled', 'tags', 'options', 'links']);
    assert.equal(res.json.domain.name, 'upd2');
    assert.equal(res.json.domain.foo, 'bar');
    assert.equal((await call('PATCH', '/v3/domains/nope', { domain: { name: 'x' } })).status, 404);
    const empty = await call('PATCH', `/v3/domains/${created.id}`, { domain: {} });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.message, 'An object does not have enough properties');
    const dup = await call('PATCH', `/v3/domains/${created.id}`, { domain: { name: 'Default' } });
    assert.equal(dup.status, 409);
    const notDomain = await server.service.providers.resource.findProjectByName('admin', 'default');
    const missing = await call('GET', `/v3/domains/${notDomain!.id}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, `Could not find domain: ${notDomain!.id}.`);
  });

  it('protects immutable domains from update and delete until the option is unset', async () => {
    const d = (await call('POST', '/v3/domains', { domain: { name: 'frozen', options: { immutable: true } } })).json.domain;
    assert.deepEqual(d.options, { immutable: true });
    const upd = await call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } });
    assert.equal(upd.status, 403);
    assert.equal(upd.json.error.message, `Unable to update immutable domain resource: \`${d.id}. Set resource option "immutable" to false first.`);
    const unset = await call('PATCH', `/v3/domains/${d.id}`, { domain: { options: { immutable: null } } });
    assert.equal(unset.status, 200, unset.text);
    assert.deepEqual(unset.json.domain.options, {});
  });

  it('deletes only disabled domains, with their projects, users, groups and assignments', async () => {
    const { providers } = server.service;
    const d = (await call('POST', '/v3/domains', { domain: { name: 'doomed' } })).json.domain;
    const top = (await call('POST', '/v3/projects', { project: { name: 'top', domain_id: d.id } })).json.project;
    const child = (await call('POST', '/v3/projects', { project: { name: 'child', parent_id: top.id, domain_id: d.id } })).json.project;
    const user = await providers.identity.createUser({ name: 'doomed-user', domain_id: d.id, password: 'pw-1-doomed' });
    const member = await providers.assignments.findGlobalRoleByName('member');
    await providers.assignments.grant('UserProject', user.id, child.id, member!.id);
    await providers.assignments.grant('UserDomain', user.id, d.id, member!.id);
    await ctx.db().kysely.insertInto('group').values({ id: 'g-doomed', domain_id: d.id, name: 'g', description: null, extra: '{}' }).execute();
    await ctx.db().kysely.insertInto('user_group_membership').values({ user_id: user.id, group_id: 'g-doomed' }).execute();

    const enabled = await call('DELETE', `/v3/domains/${d.id}`);
    assert.equal(enabled.status, 403);
    assert.equal(enabled.json.error.message, 'Cannot delete a domain that is enabled, please disable it first.');
    assert.equal((await call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await call('DELETE', `/v3/domains/${d.id}`)).status, 204);
    assert.equal((await call('GET', `/v3/domains/${d.id}`)).status, 404);
    assert.equal((await call('GET', `/v3/projects/${child.id}`)).status, 404);
    const k = ctx.db().kysely;
    assert.equal((await k.selectFrom('project').select('id').where('domain_id', '=', d.id).execute()).length, 0);
    assert.equal((await k.selectFrom('user').select('id').where('domain_id', '=', d.id).execute()).length, 0);
    assert.equal((await k.selectFrom('group').select('id').where('domain_id', '=', d.id).execute()).length, 0);
    assert.equal((await k.selectFrom('assignment').select('actor_id').where('actor_id', '=', user.id).execute()).length, 0);
    assert.equal((await call('DELETE', `/v3/domains/${d.id}`)).status, 404);
  });

  it('denies a project member the admin-only actions with 403 naming the rule', async () => {
    const { token } = await memberToken();
    const list = await call('GET', '/v3/domains', undefined, token);
    assert.equal(list.status, 403);
    assert.equal(list.json.error.message, 'You are not authorized to perform the requested action: identity:list_domains.');
    const create = await call('POST', '/v3/domains', { domain: { name: 'nope' } }, token);
    assert.equal(create.status, 403);
    assert.equal(create.json.error.message, 'You are not authorized to perform the requested action: identity:create_domain.');
    // get_domain allows the token's project's domain.
    assert.equal((await call('GET', '/v3/domains/default', undefined, token)).status, 200);
    assert.equal((await call('PATCH', '/v3/domains/default', { domain: { description: 'x' } }, token)).status, 403);
    assert.equal((await call('DELETE', '/v3/domains/default', undefined, token)).status, 403);
  });

  it('invalidates tokens scoped into a domain when it is disabled, at the next validation', async () => {
    const d = (await call('POST', '/v3/domains', { domain: { name: 'tokdom' } })).json.domain;
    const p = (await call('POST', '/v3/projects', { project: { name: 'tokproj', domain_id: d.id } })).json.project;
    assert.ok(p.id);
    const { token } = await memberToken({ domainId: d.id, projectId: p.id });
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 200);
    assert.equal((await call('GET', `/v3/projects/${p.id}`, undefined, token)).status, 200);
    assert.equal((await call('PATCH', `/v3/domains/${d.id}`, { domain: { enabled: false } })).status, 200);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 404);
    // As the caller's own token Keystone answers its DomainNotFound too (404, not 401).
    const refused = await call('GET', `/v3/projects/${p.id}`, undefined, token);
    assert.equal(refused.status, 404);
    assert.equal(refused.json.error.message, `Unable to validate token because domain ${d.id} is disabled`);
  });
});

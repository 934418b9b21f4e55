import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/projects', (ctx) => {
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
  const create = async (project: Record<string, unknown>) => {
    const res = await call('POST', '/v3/projects', { project });
    assert.equal(res.status, 201, res.text);
    return res.json.project;
  };
  const names = (res: { json: { projects: { name: string }[] } }) => res.json.projects.map((p) => p.name).sort();

  let members = 0;
  const memberOn = async (projectId: string) => (await projectUserToken(server, `m-projects-${(members += 1)}`, 'member', { projectId })).token;

  it('creates a top-level project in the default domain with Keystone’s body', async () => {
    const res = await call('POST', '/v3/projects', { project: { name: ' p-one ', foo: 'bar' } });
    assert.equal(res.status, 201, res.text);
    const p = res.json.project;
    assert.deepEqual(Object.keys(p), ['foo', 'id', 'name', 'domain_id', 'description', 'enabled', 'parent_id', 'is_domain', 'tags', 'options', 'links']);
    assert.equal(p.name, 'p-one');
    assert.equal(p.domain_id, 'default');
    assert.equal(p.parent_id, 'default');
    assert.equal(p.description, '');
    assert.equal(p.is_domain, false);
    assert.equal(p.links.self, `${base}/v3/projects/${p.id}`);
    const shown = await call('GET', `/v3/projects/${p.id}`);
    assert.deepEqual(shown.json.project, p);
    // PATCH answers with Keystone's to_dict(include_extra_dict=True): `extra` repeated.
    const patched = await call('PATCH', `/v3/projects/${p.id}`, { project: { description: 'changed', more: 1 } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(Object.keys(patched.json.project), ['foo', 'more', 'id', 'name', 'domain_id', 'description', 'enabled', 'parent_id', 'is_domain', 'tags', 'extra', 'options', 'links']);
    assert.deepEqual(patched.json.project.extra, { foo: 'bar', more: 1 });
  });

  it('answers 400, 404 and 409 as Keystone does', async () => {
    const cases: [unknown, string][] = [
      [{ project: {} }, "'name' is a required property"],
      [{ project: { name: 'x'.repeat(65) } }, "Invalid input for field 'name': A string is too long"],
      [{ project: { name: 'x', enabled: 1 } }, "Invalid input for field 'enabled': 1 is not of type 'boolean'"],
      [{ project: { name: 'x', options: { other: true } } }, "Invalid input for field 'options': Additional properties are not allowed ('other' was unexpected)"],
      [{ project: { name: 'x', domain_id: 'nope' } }, 'Could not find domain: nope.'],
      [{ project: { name: 'x', parent_id: 'nope' } }, 'Could not find project: nope.'],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/v3/projects', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.message, message);
    }
    await create({ name: 'dup-p' });
    const dup = await call('POST', '/v3/projects', { project: { name: 'dup-p' } });
    assert.equal(dup.status, 409);
    assert.match(dup.json.error.message, /^Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is dup-p, project id [0-9a-f]{32}\.$/);
    assert.equal((await call('GET', '/v3/projects/nope')).status, 404);
    assert.equal((await call('GET', '/v3/projects/nope')).json.error.message, 'Could not find project: nope.');
    assert.equal((await call('PATCH', '/v3/projects/nope', { project: { name: 'y' } })).status, 404);
    assert.equal((await call('DELETE', '/v3/projects/nope')).status, 404);
    const p = await create({ name: 'immovable' });
    const other = await create({ name: 'other-parent' });
    const parent = await call('PATCH', `/v3/projects/${p.id}`, { project: { parent_id: other.id } });
    assert.equal(parent.status, 403);
    assert.equal(parent.json.error.message, 'Update of `parent_id` is not allowed.');
    const domain = await call('PATCH', `/v3/projects/${p.id}`, { project: { domain_id: 'elsewhere' } });
    assert.equal(domain.status, 400);
    assert.equal(domain.json.error.message, 'Cannot change Domain ID');
    assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { is_domain: true } })).status, 400);
    assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { id: 'other' } })).json.error.message, 'Cannot change ID');
  });

  it('builds hierarchies and shows parents and subtree as ids and as lists', async () => {
    const a = await create({ name: 'h-a' });
    const b = await create({ name: 'h-b', parent_id: a.id });
    const c = await create({ name: 'h-c', parent_id: b.id });
    const d = await create({ name: 'h-d', parent_id: b.id });
    assert.equal(c.domain_id, 'default');
    const parents = await call('GET', `/v3/projects/${c.id}?parents_as_ids`);
    assert.deepEqual(parents.json.project.parents, { [b.id]: { [a.id]: { default: null } } });
    const subtree = await call('GET', `/v3/projects/${a.id}?subtree_as_ids`);
    assert.deepEqual(subtree.json.project.subtree, { [b.id]: { [c.id]: null, [d.id]: null } });
    assert.deepEqual(Object.keys(subtree.json.project).slice(-2), ['subtree', 'links']);
    const leaf = await call('GET', `/v3/projects/${c.id}?subtree_as_ids=1`);
    assert.equal(leaf.json.project.subtree, null);
    assert.equal((await call('GET', `/v3/projects/${c.id}?subtree_as_ids=0`)).json.project.subtree, undefined);
    // The lists show only projects the caller has a role on.
    const { providers } = server.service;
    const adminUser = await providers.identity.findUserByName('admin', 'default');
    const member = await providers.assignments.findGlobalRoleByName('member');
    await providers.assignments.grant('UserProject', adminUser!.id, b.id, member!.id);
    await providers.assignments.grant('UserProject', adminUser!.id, d.id, member!.id);
    const list = await call('GET', `/v3/projects/${a.id}?subtree_as_list`);
    assert.deepEqual(list.json.project.subtree.map((m: { project: { id: string } }) => m.project.id).sort(), [b.id, d.id].sort());
    assert.equal(list.json.project.subtree[0].project.links.self, `${base}/v3/projects/${list.json.project.subtree[0].project.id}`);
    const up = await call('GET', `/v3/projects/${d.id}?parents_as_list`);
    assert.deepEqual(up.json.project.parents.map((m: { project: { id: string } }) => m.project.id), [b.id]);
    const both = await call('GET', `/v3/projects/${a.id}?subtree_as_list&subtree_as_ids`);
    assert.equal(both.status, 400);
    assert.equal(both.json.error.message, 'Cannot use subtree_as_list and subtree_as_ids query params at the same time.');
    assert.equal((await call('GET', `/v3/projects/${a.id}?parents_as_list&parents_as_ids`)).status, 400);
    assert.deepEqual(names(await call('GET', `/v3/projects?parent_id=${b.id}`)), ['h-c', 'h-d']);
  });

  it('enforces [DEFAULT] max_project_tree_depth on create', async () => {
    let parent = await create({ name: 'depth-1' });
    for (let level = 2; level <= 5; level += 1) parent = await create({ name: `depth-${level}`, parent_id: parent.id });
    const res = await call('POST', '/v3/projects', { project: { name: 'depth-6', parent_id: parent.id } });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.message, `Max hierarchy depth reached for ${parent.id} branch.`);
  });

  it('applies the enable, disable and delete rules of a hierarchy; cascade deletes a disabled subtree', async () => {
    const top = await create({ name: 'c-top' });
    const mid = await create({ name: 'c-mid', parent_id: top.id });
    const leaf = await create({ name: 'c-leaf', parent_id: mid.id });
    const disable = await call('PATCH', `/v3/projects/${top.id}`, { project: { enabled: false } });
    assert.equal(disable.status, 403);
    assert.equal(disable.json.error.message, `Cannot disable project ${top.id} since its subtree contains enabled projects.`);
    const notLeaf = await call('DELETE', `/v3/projects/${top.id}`);
    assert.equal(notLeaf.status, 403);
    assert.equal(
      notLeaf.json.error.message,
      `Cannot delete the project ${top.id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
    );
    const enabledSubtree = await call('DELETE', `/v3/projects/${top.id}?cascade`);
    assert.equal(enabledSubtree.status, 403);
    assert.equal(enabledSubtree.json.error.message, `Cannot delete project ${top.id} since its subtree contains enabled projects.`);
    for (const p of [leaf, mid, top]) assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { enabled: false } })).status, 200);
    const under = await call('POST', '/v3/projects', { project: { name: 'c-new', parent_id: mid.id } });
    assert.equal(under.status, 400);
    assert.equal(under.json.error.message, `cannot create a project in a branch containing a disabled project: ${top.id}`);
    const enableChild = await call('PATCH', `/v3/projects/${leaf.id}`, { project: { enabled: true } });
    assert.equal(enableChild.status, 403);
    assert.equal(enableChild.json.error.message, `Cannot enable project ${leaf.id} since it has disabled parents`);
    const { providers } = server.service;
    const adminUser = await providers.identity.findUserByName('admin', 'default');
    const member = await providers.assignments.findGlobalRoleByName('member');
    await providers.assignments.grant('UserProject', adminUser!.id, leaf.id, member!.id);
    assert.equal((await call('DELETE', `/v3/projects/${top.id}?cascade`)).status, 204);
    for (const p of [top, mid, leaf]) assert.equal((await call('GET', `/v3/projects/${p.id}`)).status, 404);
    const left = await ctx.db().kysely.selectFrom('assignment').select('actor_id').where('target_id', '=', leaf.id).execute();
    assert.equal(left.length, 0);
    const single = await create({ name: 'c-single' });
    assert.equal((await call('DELETE', `/v3/projects/${single.id}`)).status, 204);
  });

  it('manages tags: list, replace, check, add (Location), delete one and all, with Keystone’s limits', async () => {
    const p = await create({ name: 'tagged', tags: ['one'] });
    assert.deepEqual(p.tags, ['one']);
    const put = await call('PUT', `/v3/projects/${p.id}/tags`, { tags: ['b', ' a '] });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json, { links: { self: `${base}/v3` }, tags: ['b', 'a'] });
    const list = await call('GET', `/v3/projects/${p.id}/tags`);
    assert.deepEqual(list.json.tags.sort(), ['a', 'b']);
    assert.equal((await call('GET', `/v3/projects/${p.id}/tags/a`)).status, 204);
    const missing = await call('GET', `/v3/projects/${p.id}/tags/zz`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, 'Could not find project tag: zz.');
    const added = await call('PUT', `/v3/projects/${p.id}/tags/c`);
    assert.equal(added.status, 201);
    assert.equal(added.headers.get('location'), `${base}/v3/${p.id}/tags/c`);
    assert.equal((await call('DELETE', `/v3/projects/${p.id}/tags/c`)).status, 204);
    assert.equal((await call('DELETE', `/v3/projects/${p.id}/tags/c`)).status, 404);
    const comma = await call('PUT', `/v3/projects/${p.id}/tags`, { tags: ['a,b'] });
    assert.equal(comma.status, 400);
    const many = await call('PUT', `/v3/projects/${p.id}/tags`, { tags: Array.from({ length: 81 }, (_, i) => `t${i}`) });
    assert.equal(many.status, 400);
    assert.equal(many.json.error.message, 'A list is too long');
    assert.equal((await call('PUT', `/v3/projects/${p.id}/tags`, { tags: ['x', 'x'] })).status, 400);
    assert.equal((await call('PUT', `/v3/projects/${p.id}/tags`, {})).status, 400);
    const full = await call('PUT', `/v3/projects/${p.id}/tags`, { tags: Array.from({ length: 80 }, (_, i) => `t${i}`) });
    assert.equal(full.status, 200);
    assert.equal((await call('PUT', `/v3/projects/${p.id}/tags/t80`)).status, 400);
    assert.equal((await call('DELETE', `/v3/projects/${p.id}/tags`)).status, 204);
    assert.deepEqual((await call('GET', `/v3/projects/${p.id}/tags`)).json.tags, []);
    assert.equal((await call('GET', '/v3/projects/nope/tags')).status, 404);
  });

  it('filters lists by tags, tags-any, not-tags, not-tags-any, name, enabled, domain_id and is_domain', async () => {
    await create({ name: 'f-ab', tags: ['fa', 'fb'] });
    await create({ name: 'f-a', tags: ['fa'] });
    await create({ name: 'f-c', tags: ['fc'], enabled: false });
    const only = (res: Awaited<ReturnType<typeof call>>) => names(res).filter((n: string) => n.startsWith('f-'));
    assert.deepEqual(only(await call('GET', '/v3/projects?tags=fa,fb')), ['f-ab']);
    assert.deepEqual(only(await call('GET', '/v3/projects?tags-any=fb,fc')), ['f-ab', 'f-c']);
    assert.deepEqual(only(await call('GET', '/v3/projects?not-tags=fa,fb')), ['f-a', 'f-c']);
    assert.deepEqual(only(await call('GET', '/v3/projects?not-tags-any=fa')), ['f-c']);
    assert.deepEqual(only(await call('GET', '/v3/projects?tags=fa&not-tags-any=fb')), ['f-a']);
    assert.deepEqual(names(await call('GET', '/v3/projects?name=f-a')), ['f-a']);
    assert.deepEqual(names(await call('GET', '/v3/projects?name__startswith=f-a')), ['f-a', 'f-ab']);
    assert.deepEqual(only(await call('GET', '/v3/projects?enabled=false')), ['f-c']);
    assert.ok(names(await call('GET', '/v3/projects?domain_id=default')).includes('admin'));
    assert.deepEqual(names(await call('GET', '/v3/projects?domain_id=nope')), []);
    const domains = await call('GET', '/v3/projects?is_domain=true');
    assert.ok(domains.json.projects.every((p: { is_domain: boolean; domain_id: null }) => p.is_domain && p.domain_id === null));
    assert.ok(names(domains).includes('Default'));
    assert.ok(!names(await call('GET', '/v3/projects')).includes('Default'));
    const self = await call('GET', '/v3/projects?tags=fa,fb');
    assert.equal(self.json.links.self, `${base}/v3/projects?tags=fa,fb`);
  });

  it('keeps immutable projects unchanged and undeletable until the option is unset', async () => {
    const p = await create({ name: 'imm', options: { immutable: true } });
    assert.deepEqual(p.options, { immutable: true });
    const upd = await call('PATCH', `/v3/projects/${p.id}`, { project: { name: 'imm2' } });
    assert.equal(upd.status, 403);
    assert.equal(upd.json.error.message, `Unable to update immutable project resource: \`${p.id}. Set resource option "immutable" to false first.`);
    const del = await call('DELETE', `/v3/projects/${p.id}`);
    assert.equal(del.status, 403);
    assert.equal(del.json.error.message, `Unable to delete immutable project resource: \`${p.id}. Set resource option "immutable" to false first.`);
    assert.equal((await call('PUT', `/v3/projects/${p.id}/tags/x`)).status, 403);
    assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { options: { immutable: false } } })).status, 200);
    assert.equal((await call('DELETE', `/v3/projects/${p.id}`)).status, 204);
  });

  it('creates a domain through POST /v3/projects with is_domain', async () => {
    const res = await call('POST', '/v3/projects', { project: { name: 'proj-domain', is_domain: true } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.project.domain_id, null);
    assert.equal(res.json.project.parent_id, null);
    assert.equal((await call('GET', `/v3/domains/${res.json.project.id}`)).status, 200);
    const child = await create({ name: 'in-proj-domain', domain_id: res.json.project.id });
    assert.equal(child.parent_id, res.json.project.id);
  });

  it('truncates at [DEFAULT] list_limit', async () => {
    const limited = await startTestServer(ctx.db(), { 'DEFAULT.list_limit': '1' });
    try {
      const token = (await adminLogin(limited.url)).token;
      const res = await http(limited.url, 'GET', '/v3/projects', { token });
      assert.equal(res.json.projects.length, 1);
      assert.equal(res.json.truncated, true);
    } finally {
      await limited.close();
    }
  });

  it('lets a member see its project but denies it the manager actions', async () => {
    const p = await create({ name: 'members-own' });
    const token = await memberOn(p.id);
    assert.equal((await call('GET', `/v3/projects/${p.id}`, undefined, token)).status, 200);
    assert.equal((await call('GET', `/v3/projects/${p.id}/tags`, undefined, token)).status, 200);
    const other = await create({ name: 'members-other' });
    const denied = await call('GET', `/v3/projects/${other.id}`, undefined, token);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:get_project.');
    assert.equal((await call('GET', '/v3/projects', undefined, token)).status, 403);
    assert.equal((await call('POST', '/v3/projects', { project: { name: 'm-new', domain_id: 'default' } }, token)).status, 403);
    assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { description: 'x' } }, token)).status, 403);
    assert.equal((await call('PUT', `/v3/projects/${p.id}/tags/x`, undefined, token)).status, 403);
    assert.equal((await call('DELETE', `/v3/projects/${p.id}`, undefined, token)).status, 403);
  });

  it('invalidates tokens scoped to a project as soon as it is disabled', async () => {
    const p = await create({ name: 'tok-proj' });
    const token = await memberOn(p.id);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status, 200);
    assert.equal((await call('PATCH', `/v3/projects/${p.id}`, { project: { enabled: false } })).status, 200);
    const validate = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token });
    assert.equal(validate.status, 404);
    const own = await call('GET', `/v3/projects/${p.id}`, undefined, token);
    assert.equal(own.status, 404);
    assert.equal(own.json.error.message, `Unable to validate token because project ${p.id} is disabled`);
    // Re-enabling does not resurrect it past deletion: a deleted project leaves a revocation event.
    assert.equal((await call('DELETE', `/v3/projects/${p.id}`)).status, 204);
    const events = await ctx.db().kysely.selectFrom('revocation_event').select('project_id').where('project_id', '=', p.id).execute();
    assert.equal(events.length, 1);
  });
});

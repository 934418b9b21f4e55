import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { addUserToGroup, createGroup } from '../support/groups.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

interface Entry {
  links: { assignment: string; membership?: string; prior_role?: string };
  scope: { project?: { id: string; name?: string }; domain?: { id: string; name?: string }; system?: { all: boolean }; 'OS-INHERIT:inherited_to'?: string };
  user?: { id: string; name?: string; domain?: { id: string; name: string } };
  group?: { id: string; name?: string };
  role: { id: string; name?: string; domain?: { id: string; name: string } };
}

describeEachDatabase('/v3/role_assignments', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  // One domain with a two-level tree, a user and a group holding it, and every kind of grant.
  const ids = {} as Record<'domain' | 'a' | 'b' | 'r1' | 'r2' | 'r3' | 'dr' | 'member' | 'reader' | 'user' | 'group', string>;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    admin = (await adminLogin(base)).token;
    const post = async (path: string, body: unknown) => {
      const res = await call('POST', path, body);
      assert.equal(res.status, 201, res.text);
      return res.json;
    };
    ids.domain = (await post('/v3/domains', { domain: { name: 'ra-domain' } })).domain.id;
    ids.a = (await post('/v3/projects', { project: { name: 'ra-a', domain_id: ids.domain } })).project.id;
    ids.b = (await post('/v3/projects', { project: { name: 'ra-b', domain_id: ids.domain, parent_id: ids.a } })).project.id;
    ids.r1 = (await post('/v3/roles', { role: { name: 'ra-r1' } })).role.id;
    ids.r2 = (await post('/v3/roles', { role: { name: 'ra-r2' } })).role.id;
    ids.r3 = (await post('/v3/roles', { role: { name: 'ra-r3' } })).role.id;
    ids.dr = (await post('/v3/roles', { role: { name: 'ra-dr', domain_id: ids.domain } })).role.id;
    const { providers } = server.service;
    ids.member = (await providers.assignments.findGlobalRoleByName('member'))!.id;
    ids.reader = (await providers.assignments.findGlobalRoleByName('reader'))!.id;
    const user = await providers.identity.createUser({ name: 'ra-user', domain_id: ids.domain, password: 'pw-ra-user' });
    ids.user = user.id;
    ids.group = await createGroup(server, 'ra-group', ids.domain);
    await addUserToGroup(server, ids.user, ids.group);
    for (const path of [
      `/v3/roles/${ids.r1}/implies/${ids.r2}`,
      `/v3/roles/${ids.dr}/implies/${ids.r3}`,
    ]) assert.equal((await call('PUT', path)).status, 201);
    for (const path of [
      `/v3/projects/${ids.a}/users/${ids.user}/roles/${ids.r1}`,
      `/v3/projects/${ids.b}/users/${ids.user}/roles/${ids.dr}`,
      `/v3/OS-INHERIT/projects/${ids.a}/users/${ids.user}/roles/${ids.member}/inherited_to_projects`,
      `/v3/OS-INHERIT/domains/${ids.domain}/groups/${ids.group}/roles/${ids.reader}/inherited_to_projects`,
      `/v3/domains/${ids.domain}/groups/${ids.group}/roles/${ids.member}`,
      `/v3/system/users/${ids.user}/roles/${ids.reader}`,
    ]) assert.equal((await call('PUT', path)).status, 204, path);
  });
  after(async () => server?.close());

  const call = (method: string, path: string, body?: unknown, token = admin) => http(base, method, path, { token, body });
  const list = async (query: string, token = admin): Promise<Entry[]> => {
    const res = await call('GET', `/v3/role_assignments?${query}`, undefined, token);
    assert.equal(res.status, 200, res.text);
    return res.json.role_assignments;
  };
  /** One line per entry: actor, scope, role, inherited, so whole answers compare as sets. */
  const lines = (entries: Entry[]) =>
    entries
      .map((e) => {
        const actor = e.user ? `u:${e.user.id}` : `g:${e.group!.id}`;
        const scope = e.scope.project ? `p:${e.scope.project.id}` : e.scope.domain ? `d:${e.scope.domain.id}` : 'system';
        return `${actor} ${scope} ${e.role.id}${e.scope['OS-INHERIT:inherited_to'] ? ' inherited' : ''}`;
      })
      .sort();
  const v3 = () => `${base}/v3`;

  it('lists stored assignments, inherited and system ones marked, with links to the grant APIs', async () => {
    const res = await call('GET', `/v3/role_assignments?user.id=${ids.user}`);
    assert.deepEqual(res.json.links, { next: null, self: `${base}/v3/role_assignments?user.id=${ids.user}`, previous: null });
    const entries: Entry[] = res.json.role_assignments;
    assert.deepEqual(lines(entries), [
      `u:${ids.user} p:${ids.a} ${ids.member} inherited`,
      `u:${ids.user} p:${ids.a} ${ids.r1}`,
      `u:${ids.user} p:${ids.b} ${ids.dr}`,
      `u:${ids.user} system ${ids.reader}`,
    ].sort());
    const direct = entries.find((e) => e.role.id === ids.r1)!;
    assert.deepEqual(direct, {
      links: { assignment: `${v3()}/projects/${ids.a}/users/${ids.user}/roles/${ids.r1}` },
      scope: { project: { id: ids.a } },
      user: { id: ids.user },
      role: { id: ids.r1 },
    });
    const inherited = entries.find((e) => e.role.id === ids.member)!;
    assert.deepEqual(inherited.scope, { project: { id: ids.a }, 'OS-INHERIT:inherited_to': 'projects' });
    assert.equal(inherited.links.assignment, `${v3()}/OS-INHERIT/projects/${ids.a}/users/${ids.user}/roles/${ids.member}/inherited_to_projects`);
    const system = entries.find((e) => e.scope.system)!;
    assert.deepEqual(system, { links: { assignment: `${v3()}/system/users/${ids.user}/roles/${ids.reader}` }, scope: { system: { all: true } }, user: { id: ids.user }, role: { id: ids.reader } });

    const groupRows = await list(`group.id=${ids.group}`);
    assert.deepEqual(lines(groupRows), [`g:${ids.group} d:${ids.domain} ${ids.member}`, `g:${ids.group} d:${ids.domain} ${ids.reader} inherited`].sort());
    assert.equal(groupRows.find((e) => e.role.id === ids.reader)!.links.assignment, `${v3()}/OS-INHERIT/domains/${ids.domain}/groups/${ids.group}/roles/${ids.reader}/inherited_to_projects`);
  });

  it('filters by role, scope, inheritance and system', async () => {
    assert.deepEqual(lines(await list(`role.id=${ids.r1}`)), [`u:${ids.user} p:${ids.a} ${ids.r1}`]);
    assert.deepEqual(lines(await list(`scope.project.id=${ids.b}`)), [`u:${ids.user} p:${ids.b} ${ids.dr}`]);
    assert.deepEqual(lines(await list(`scope.domain.id=${ids.domain}`)), [`g:${ids.group} d:${ids.domain} ${ids.member}`, `g:${ids.group} d:${ids.domain} ${ids.reader} inherited`].sort());
    assert.deepEqual(lines(await list(`scope.domain.id=${ids.domain}&scope.OS-INHERIT:inherited_to=projects`)), [`g:${ids.group} d:${ids.domain} ${ids.reader} inherited`]);
    // Any other value means direct assignments only.
    assert.deepEqual(lines(await list(`scope.domain.id=${ids.domain}&scope.OS-INHERIT:inherited_to=no`)), [`g:${ids.group} d:${ids.domain} ${ids.member}`]);
    assert.deepEqual(lines(await list(`scope.system=all&user.id=${ids.user}`)), [`u:${ids.user} system ${ids.reader}`]);
    assert.deepEqual(lines(await list(`scope.project.id=${ids.a}&include_subtree`)), [
      `u:${ids.user} p:${ids.a} ${ids.member} inherited`,
      `u:${ids.user} p:${ids.a} ${ids.r1}`,
      `u:${ids.user} p:${ids.b} ${ids.dr}`,
    ].sort());
  });

  it('resolves effective assignments: groups, inheritance and implied roles, domain roles stripped', async () => {
    const entries = await list(`effective&user.id=${ids.user}`);
    assert.deepEqual(lines(entries), [
      `u:${ids.user} d:${ids.domain} ${ids.member}`, // from the group
      `u:${ids.user} d:${ids.domain} ${ids.reader}`, // member implies reader
      `u:${ids.user} p:${ids.a} ${ids.r1}`,
      `u:${ids.user} p:${ids.a} ${ids.r2}`, // implied by r1
      `u:${ids.user} p:${ids.a} ${ids.reader} inherited`, // the group's inherited domain grant
      `u:${ids.user} p:${ids.b} ${ids.member} inherited`, // A's inherited grant
      `u:${ids.user} p:${ids.b} ${ids.reader} inherited`, // implied by member
      `u:${ids.user} p:${ids.b} ${ids.reader} inherited`, // the group's inherited domain grant
      `u:${ids.user} p:${ids.b} ${ids.r3}`, // implied by the domain role, which is dropped
    ].sort());
    const implied = entries.find((e) => e.role.id === ids.r2)!;
    assert.deepEqual(implied.links, {
      assignment: `${v3()}/projects/${ids.a}/users/${ids.user}/roles/${ids.r1}`,
      // Keystone's swapped prior_role link, reproduced.
      prior_role: `${v3()}/prior_role/${ids.r2}/implies/${ids.r1}`,
    });
    const viaGroup = entries.find((e) => e.scope.domain && e.role.id === ids.member)!;
    assert.deepEqual(viaGroup.links, {
      membership: `${v3()}/groups/${ids.group}/users/${ids.user}`,
      assignment: `${v3()}/domains/${ids.domain}/groups/${ids.group}/roles/${ids.member}`,
    });
    const inheritedFromDomain = entries.find((e) => e.scope.project?.id === ids.a && e.role.id === ids.reader)!;
    assert.deepEqual(inheritedFromDomain.scope, { project: { id: ids.a }, 'OS-INHERIT:inherited_to': 'projects' });
    assert.equal(inheritedFromDomain.links.assignment, `${v3()}/OS-INHERIT/domains/${ids.domain}/groups/${ids.group}/roles/${ids.reader}/inherited_to_projects`);
    assert.equal(inheritedFromDomain.links.membership, `${v3()}/groups/${ids.group}/users/${ids.user}`);
    const fromParent = entries.find((e) => e.scope.project?.id === ids.b && e.role.id === ids.member)!;
    assert.equal(fromParent.links.assignment, `${v3()}/OS-INHERIT/projects/${ids.a}/users/${ids.user}/roles/${ids.member}/inherited_to_projects`);
    // The role filter applies after expansion; a project filter still sees the inherited grants.
    assert.deepEqual(lines(await list(`effective&user.id=${ids.user}&role.id=${ids.r2}`)), [`u:${ids.user} p:${ids.a} ${ids.r2}`]);
    assert.deepEqual(lines(await list(`effective&scope.project.id=${ids.b}`)), [
      `u:${ids.user} p:${ids.b} ${ids.member} inherited`,
      `u:${ids.user} p:${ids.b} ${ids.reader} inherited`,
      `u:${ids.user} p:${ids.b} ${ids.reader} inherited`,
      `u:${ids.user} p:${ids.b} ${ids.r3}`,
    ].sort());
    // Tokens agree: the user's project token on B carries member, reader and r3.
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: ids.user }, 'pw-ra-user', { project: { id: ids.b } }) });
    assert.equal(login.status, 201, login.text);
    assert.deepEqual(login.json.token.roles.map((r: { id: string }) => r.id).sort(), [ids.member, ids.reader, ids.r3].sort());
  });

  it('sees a project created or deleted since the last listing (the project sets kept between listings follow writes)', async () => {
    const before = lines(await list(`effective&user.id=${ids.user}`));
    const created = await call('POST', '/v3/projects', { project: { name: 'ra-c', domain_id: ids.domain, parent_id: ids.b } });
    assert.equal(created.status, 201, created.text);
    const c = created.json.project.id as string;
    try {
      const after = lines(await list(`effective&user.id=${ids.user}`));
      // A's inherited grant, the role it implies, and the group's inherited domain grant reach C.
      assert.deepEqual(
        after.filter((line) => !before.includes(line)),
        [`u:${ids.user} p:${c} ${ids.member} inherited`, `u:${ids.user} p:${c} ${ids.reader} inherited`, `u:${ids.user} p:${c} ${ids.reader} inherited`].sort(),
      );
    } finally {
      assert.equal((await call('PATCH', `/v3/projects/${c}`, { project: { enabled: false } })).status, 200);
      assert.equal((await call('DELETE', `/v3/projects/${c}`)).status, 204);
    }
    assert.deepEqual(lines(await list(`effective&user.id=${ids.user}`)), before);
  });

  it('counts a federated group membership while it is fresh, not once its authorization_ttl lapsed', async () => {
    const before = lines(await list(`effective&user.id=${ids.user}`));
    const idp = await call('PUT', '/v3/OS-FEDERATION/identity_providers/ra-idp', { identity_provider: { authorization_ttl: 60 } });
    assert.equal(idp.status, 201, idp.text);
    const fresh = await createGroup(server, 'ra-fresh', ids.domain);
    const lapsed = await createGroup(server, 'ra-lapsed', ids.domain);
    const r4 = (await call('POST', '/v3/roles', { role: { name: 'ra-r4' } })).json.role.id as string;
    const db = server.service.db.kysely;
    try {
      assert.equal((await call('PUT', `/v3/projects/${ids.a}/groups/${fresh}/roles/${ids.r3}`)).status, 204);
      assert.equal((await call('PUT', `/v3/projects/${ids.a}/groups/${lapsed}/roles/${r4}`)).status, 204);
      await db
        .insertInto('expiring_user_group_membership')
        .values([
          { user_id: ids.user, group_id: fresh, idp_id: 'ra-idp', last_verified: new Date() },
          { user_id: ids.user, group_id: lapsed, idp_id: 'ra-idp', last_verified: new Date(Date.now() - 61 * 60_000) },
        ])
        .execute();
      const after = lines(await list(`effective&user.id=${ids.user}`));
      assert.deepEqual(after.filter((line) => !before.includes(line)), [`u:${ids.user} p:${ids.a} ${ids.r3}`]);
      assert.equal(after.length, before.length + 1);
    } finally {
      await db.deleteFrom('expiring_user_group_membership').where('user_id', '=', ids.user).execute();
      for (const group of [fresh, lapsed]) assert.equal((await call('DELETE', `/v3/groups/${group}`)).status, 204);
      assert.equal((await call('DELETE', `/v3/roles/${r4}`)).status, 204);
      assert.equal((await call('DELETE', '/v3/OS-FEDERATION/identity_providers/ra-idp')).status, 204);
    }
    assert.deepEqual(lines(await list(`effective&user.id=${ids.user}`)), before);
  });

  it('adds names with include_names', async () => {
    const entries = await list(`include_names&user.id=${ids.user}&scope.project.id=${ids.b}`);
    assert.deepEqual(entries, [
      {
        links: { assignment: `${v3()}/projects/${ids.b}/users/${ids.user}/roles/${ids.dr}` },
        scope: { project: { id: ids.b, name: 'ra-b', domain: { id: ids.domain, name: 'ra-domain' } } },
        user: { id: ids.user, name: 'ra-user', domain: { id: ids.domain, name: 'ra-domain' } },
        role: { id: ids.dr, name: 'ra-dr', domain: { id: ids.domain, name: 'ra-domain' } },
      },
    ]);
    const group = await list(`include_names&group.id=${ids.group}&scope.domain.id=${ids.domain}&scope.OS-INHERIT:inherited_to=no`);
    assert.deepEqual(group[0]!.scope, { domain: { id: ids.domain, name: 'ra-domain' } });
    assert.deepEqual(group[0]!.group, { id: ids.group, name: 'ra-group', domain: { id: ids.domain, name: 'ra-domain' } });
  });

  it('refuses invalid combinations with Keystone’s 400s', async () => {
    const cases: [string, string][] = [
      [`scope.domain.id=${ids.domain}&scope.project.id=${ids.a}`, 'Specify a domain or project, not both'],
      [`scope.domain.id=${ids.domain}&scope.system=all`, 'Specify system or domain, not both'],
      [`scope.project.id=${ids.a}&scope.system=all`, 'Specify system or project, not both'],
      ['effective&group.id=g', 'Combining effective and group filter will always result in an empty list.'],
      [`effective&scope.domain.id=${ids.domain}&scope.OS-INHERIT:inherited_to=projects`, 'Combining effective, domain and inherited filters will always result in an empty list.'],
      ['include_subtree', "'scope.project.id' is a dependency of 'include_subtree'"],
      ['user.id=u&group.id=g', "ImmutableMultiDict([('user.id', 'u'), ('group.id', 'g')]) is valid under each of {'required': ['group.id']}, {'required': ['user.id']}"],
      ['scope.project.id=a%20b', "Invalid input for field/attribute scope.project.id. Value: a b. 'a b' does not match '^[a-zA-Z0-9-]+$'"],
    ];
    for (const [query, message] of cases) {
      const res = await call('GET', `/v3/role_assignments?${query}`);
      assert.equal(res.status, 400, query);
      assert.deepEqual(res.json, { error: { code: 400, message, title: 'Bad Request' } });
    }
    const unknown = await call('GET', '/v3/role_assignments?scope.project.id=nope&include_subtree');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.message, 'Could not find project: nope.');
  });

  it('denies a project member, and shows a domain reader only its domain', async () => {
    const member = (await projectUserToken(server, 'ra-member', 'member')).token;
    const denied = await call('GET', '/v3/role_assignments', undefined, member);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:list_role_assignments.');
    const tree = await call('GET', `/v3/role_assignments?scope.project.id=${ids.a}&include_subtree`, undefined, member);
    assert.equal(tree.json.error.message, 'You are not authorized to perform the requested action: identity:list_role_assignments_for_tree.');

    const { providers } = server.service;
    const reader = await providers.identity.createUser({ name: 'ra-domain-reader', domain_id: ids.domain, password: 'pw-ra-dr' });
    await providers.assignments.grant('UserDomain', reader.id, ids.domain, ids.reader);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: reader.id }, 'pw-ra-dr', { domain: { id: ids.domain } }) });
    const token = login.headers.get('x-subject-token')!;
    const seen = await list('', token);
    assert.ok(seen.length > 0);
    for (const e of seen) {
      const inDomain = e.scope.domain?.id === ids.domain || [ids.a, ids.b].includes(e.scope.project?.id ?? '');
      assert.ok(inDomain, JSON.stringify(e));
    }
    assert.equal((await list(`scope.project.id=${ids.a}&include_subtree`, token)).length, 3);
  });
});

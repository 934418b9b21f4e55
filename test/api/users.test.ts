import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/users', (ctx) => {
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
  const create = async (user: Record<string, unknown>) => {
    const res = await call('POST', '/v3/users', { user });
    assert.equal(res.status, 201, res.text);
    return res.json.user;
  };
  const login = (userId: string, password: string) => http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, password) });
  const names = (res: { json: { users: { name: string }[] } }) => res.json.users.map((u) => u.name).sort();

  it('creates, shows, updates and deletes a user with Keystone’s bodies', async () => {
    const res = await call('POST', '/v3/users', { user: { name: ' alice ', password: 'pw-alice', email: 'a@example.org', 'os:extra-key': 1 } });
    assert.equal(res.status, 201, res.text);
    const u = res.json.user;
    assert.deepEqual(Object.keys(u), ['email', 'os_extra_key', 'id', 'name', 'domain_id', 'enabled', 'password_expires_at', 'options', 'links']);
    assert.match(u.id, /^[0-9a-f]{32}$/);
    assert.equal(u.name, 'alice');
    assert.equal(u.domain_id, 'default');
    assert.equal(u.enabled, true);
    assert.equal(u.password_expires_at, null);
    assert.deepEqual(u.options, {});
    assert.equal(u.links.self, `${base}/v3/users/${u.id}`);
    assert.equal((await login(u.id, 'pw-alice')).status, 201);

    const shown = await call('GET', `/v3/users/${u.id}`);
    assert.deepEqual(shown.json.user, u);
    const head = await call('HEAD', `/v3/users/${u.id}`);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');

    const project = (await call('POST', '/v3/projects', { project: { name: 'alice-home' } })).json.project;
    const patched = await call('PATCH', `/v3/users/${u.id}`, { user: { default_project_id: project.id, description: 'd', options: { ignore_password_expiry: true } } });
    assert.equal(patched.status, 200, patched.text);
    // PATCH answers with `extra` repeated (to_dict(include_extra_dict=True)).
    assert.deepEqual(Object.keys(patched.json.user), ['email', 'os_extra_key', 'description', 'id', 'name', 'domain_id', 'enabled', 'default_project_id', 'password_expires_at', 'extra', 'options', 'links']);
    assert.deepEqual(patched.json.user.extra, { email: 'a@example.org', os_extra_key: 1, description: 'd' });
    assert.deepEqual(patched.json.user.options, { ignore_password_expiry: true });
    // A null option deletes it.
    const cleared = await call('PATCH', `/v3/users/${u.id}`, { user: { options: { ignore_password_expiry: null } } });
    assert.deepEqual(cleared.json.user.options, {});

    assert.equal((await call('DELETE', `/v3/users/${u.id}`)).status, 204);
    const gone = await call('GET', `/v3/users/${u.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json, { error: { code: 404, message: `Could not find user: ${u.id}.`, title: 'Not Found' } });
  });

  it('answers 400, 404 and 409 as Keystone does', async () => {
    const cases: [unknown, number, string][] = [
      [{ user: {} }, 400, "'name' is a required property"],
      [{ user: { name: '' } }, 400, "Invalid input for field 'name': A string is too short"],
      [{ user: { name: 'x'.repeat(256) } }, 400, "Invalid input for field 'name': A string is too long"],
      [{ user: { name: 'x', enabled: 'yes' } }, 400, "Invalid input for field 'enabled': A string is not of type 'boolean'"],
      [{ user: { name: 'x', options: { other: true } } }, 400, "Invalid input for field 'options': Additional properties are not allowed ('other' was unexpected)"],
      [{ user: { name: 'x', options: { lock_password: 1 } } }, 400, "Invalid input for field 'options/lock_password': 1 is not of type 'boolean', 'null'"],
      [{ user: { name: 'x', options: { multi_factor_auth_rules: [[]] } } }, 400, "Invalid input for field 'options/multi_factor_auth_rules/0': A list is too short"],
      [{ user: { name: 'x', domain_id: 'bad id' } }, 400, "Invalid input for field 'domain_id': A string does not match '^[a-zA-Z0-9-]+$'"],
      [{ user: { name: 'x', domain_id: 'nope' } }, 404, 'Could not find domain: nope.'],
      [{ user: { name: 'x', default_project_id: 'default' } }, 400, "User's default project ID cannot be a domain ID: default"],
    ];
    for (const [body, status, message] of cases) {
      const res = await call('POST', '/v3/users', body);
      assert.equal(res.status, status, JSON.stringify(body) + res.text);
      assert.equal(res.json.error.message, message);
    }
    const mfa = await create({ name: 'mfa-user', options: { multi_factor_auth_rules: [['password', 'totp']], multi_factor_auth_enabled: true } });
    assert.deepEqual(mfa.options, { multi_factor_auth_rules: [['password', 'totp']], multi_factor_auth_enabled: true });

    await create({ name: 'carol' });
    const dup = await call('POST', '/v3/users', { user: { name: 'carol' } });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json.error, { code: 409, message: 'Conflict occurred attempting to store user - Duplicate entry found with name carol at domain ID default.', title: 'Conflict' });
    const dave = await create({ name: 'dave' });
    const rename = await call('PATCH', `/v3/users/${dave.id}`, { user: { name: 'carol' } });
    assert.equal(rename.status, 409);
    assert.equal(rename.json.error.message, 'Conflict occurred attempting to store user - Duplicate entry found with name carol.');
    assert.equal((await call('PATCH', `/v3/users/${dave.id}`, { user: { domain_id: 'other' } })).json.error.message, 'Cannot change Domain ID');
    assert.equal((await call('PATCH', `/v3/users/${dave.id}`, { user: { id: 'other' } })).json.error.message, 'Cannot change ID');
    assert.equal((await call('PATCH', `/v3/users/${dave.id}`, { user: {} })).status, 400);
    assert.equal((await call('PATCH', '/v3/users/nope', { user: { name: 'z' } })).status, 404);
    assert.equal((await call('DELETE', '/v3/users/nope')).status, 404);
    const noToken = await http(base, 'GET', '/v3/users');
    assert.equal(noToken.status, 401);
    assert.equal(noToken.json.error.message, 'The request you have made requires authentication.');
    assert.equal((await call('GET', `/v3/users/${dave.id}/password`)).status, 405);
  });

  it('lists users with each filter Keystone honours', async () => {
    const domain = (await call('POST', '/v3/domains', { domain: { name: 'filter-dom' } })).json.domain;
    await create({ name: 'Filter-One', domain_id: domain.id });
    await create({ name: 'filter-two', domain_id: domain.id, enabled: false });
    await create({ name: 'other-three', domain_id: domain.id });
    const list = await call('GET', `/v3/users?domain_id=${domain.id}`);
    assert.equal(list.status, 200);
    assert.deepEqual(names(list), ['Filter-One', 'filter-two', 'other-three']);
    assert.deepEqual(list.json.links, { next: null, self: `${base}/v3/users?domain_id=${domain.id}`, previous: null });
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&enabled=false`)), ['filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&enabled=0`)), ['filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&enabled=true`)), ['Filter-One', 'other-three']);
    assert.deepEqual(names(await call('GET', `/v3/users?name=filter-two`)), ['filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__contains=ilter`)), ['Filter-One', 'filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__startswith=filter`)), ['filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__istartswith=filter`)), ['Filter-One', 'filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__icontains=TWO`)), ['filter-two']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__endswith=three`)), ['other-three']);
    assert.deepEqual(names(await call('GET', `/v3/users?domain_id=${domain.id}&name__iendswith=ONE`)), ['Filter-One']);
    // An unknown filter is ignored; a value longer than the column matches nothing.
    assert.equal(names(await call('GET', `/v3/users?domain_id=${domain.id}&colour=blue`)).length, 3);
    assert.deepEqual(names(await call('GET', `/v3/users?name=${'x'.repeat(256)}`)), []);
  });

  it('filters on password_expires_at with Keystone’s operators and errors', async () => {
    const local = await startTestServer(ctx.db(), { 'security_compliance.password_expires_days': '10' });
    try {
      const token = (await adminLogin(local.url)).token;
      const res = await http(local.url, 'POST', '/v3/users', { token, body: { user: { name: 'expiring', password: 'pw-exp' } } });
      assert.equal(res.status, 201, res.text);
      const expires = res.json.user.password_expires_at as string;
      assert.match(expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000$/);
      const at = new Date(`${expires}Z`);
      const listAt = async (filter: string) =>
        ((await http(local.url, 'GET', `/v3/users?password_expires_at=${filter}`, { token })).json.users as { name: string }[]).map((u) => u.name);
      const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
      assert.deepEqual(await listAt(`eq:${iso(at)}`), ['expiring']);
      assert.deepEqual(await listAt(iso(at)), ['expiring']);
      assert.deepEqual(await listAt(`lte:${iso(at)}`), ['expiring']);
      assert.deepEqual(await listAt(`gte:${iso(at)}`), ['expiring']);
      assert.deepEqual(await listAt(`lt:${iso(at)}`), []);
      assert.deepEqual(await listAt(`gt:${iso(new Date(at.getTime() - 1000))}`), ['expiring']);
      assert.deepEqual(await listAt(`neq:${iso(at)}`), []);
      const badOp = await http(local.url, 'GET', `/v3/users?password_expires_at=xx:${iso(at)}`, { token });
      assert.equal(badOp.status, 400);
      assert.equal(badOp.json.error.message, "The given operator xx is not valid. It must be one of the following: 'eq', 'neq', 'lt', 'lte', 'gt', or 'gte'.");
      const badTime = await http(local.url, 'GET', '/v3/users?password_expires_at=lt:yesterday', { token });
      assert.equal(badTime.status, 400);
      assert.match(badTime.json.error.message, /^Timestamp not in expected format\./);
    } finally {
      await local.close();
    }
  });

  it('limits a domain-scoped token to its domain and denies a plain member', async () => {
    const domain = (await call('POST', '/v3/domains', { domain: { name: 'scoped-dom' } })).json.domain;
    await create({ name: 'in-scoped', domain_id: domain.id });
    const outside = await create({ name: 'outside-scoped' });
    const { providers } = server.service;
    const reader = await providers.identity.createUser({ name: 'dom-reader', domain_id: domain.id, password: 'pw-dom-reader' });
    const readerRole = await providers.assignments.findGlobalRoleByName('reader');
    await providers.assignments.grant('UserDomain', reader.id, domain.id, readerRole!.id);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: reader.id }, 'pw-dom-reader', { domain: { id: domain.id } }) });
    assert.equal(login.status, 201, login.text);
    const domainToken = login.headers.get('x-subject-token')!;
    assert.deepEqual(names(await call('GET', '/v3/users', undefined, domainToken)), ['dom-reader', 'in-scoped']);
    assert.deepEqual(names(await call('GET', '/v3/users?domain_id=default', undefined, domainToken)), []);
    const foreign = await call('GET', `/v3/users/${outside.id}`, undefined, domainToken);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json.error.message, 'You are not authorized to perform the requested action: identity:get_user.');

    const member = await projectUserToken(server, 'plain-member', 'member');
    for (const [method, path, body, action] of [
      ['GET', '/v3/users', undefined, 'identity:list_users'],
      ['POST', '/v3/users', { user: { name: 'nope' } }, 'identity:create_user'],
      ['PATCH', `/v3/users/${outside.id}`, { user: { name: 'nope' } }, 'identity:update_user'],
      ['DELETE', `/v3/users/${outside.id}`, undefined, 'identity:delete_user'],
      ['GET', `/v3/users/${outside.id}`, undefined, 'identity:get_user'],
      ['GET', `/v3/users/${outside.id}/groups`, undefined, 'identity:list_groups_for_user'],
      ['GET', `/v3/users/${outside.id}/projects`, undefined, 'identity:list_user_projects'],
    ] as const) {
      const res = await call(method, path, body, member.token);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
    }
    // A member may read itself, its groups and its projects.
    assert.equal((await call('GET', `/v3/users/${member.userId}`, undefined, member.token)).status, 200);
    assert.equal((await call('GET', `/v3/users/${member.userId}/groups`, undefined, member.token)).status, 200);
    const own = await call('GET', `/v3/users/${member.userId}/projects`, undefined, member.token);
    assert.equal(own.status, 200);
    assert.deepEqual(own.json.projects.map((p: { id: string }) => p.id), [member.projectId]);
    assert.equal(own.json.projects[0].links.self, `${base}/v3/projects/${member.projectId}`);
    assert.deepEqual((await call('GET', `/v3/users/${member.userId}/projects?name=nothing`, undefined, member.token)).json.projects, []);
    assert.equal((await call('GET', `/v3/users/${member.userId}/projects?name=admin&enabled=true`, undefined, member.token)).json.projects.length, 1);
  });

  it('ends the tokens of a disabled, reset or deleted user', async () => {
    const subject = async (token: string) => (await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token })).status;
    const tokenOf = async (id: string, password: string) => {
      const res = await login(id, password);
      assert.equal(res.status, 201, res.text);
      return res.headers.get('x-subject-token')!;
    };
    const u = await create({ name: 'revokee', password: 'pw-revokee' });
    let token = await tokenOf(u.id, 'pw-revokee');
    assert.equal(await subject(token), 200);
    assert.equal((await call('PATCH', `/v3/users/${u.id}`, { user: { enabled: false } })).status, 200);
    assert.equal(await subject(token), 404);
    assert.equal((await login(u.id, 'pw-revokee')).status, 401);
    // Re-enabled: the old token stays revoked (the event outlives the flag), new ones work.
    await call('PATCH', `/v3/users/${u.id}`, { user: { enabled: true } });
    assert.equal(await subject(token), 404);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // revocation events have second precision
    token = await tokenOf(u.id, 'pw-revokee');
    assert.equal(await subject(token), 200);
    const reset = await call('PATCH', `/v3/users/${u.id}`, { user: { password: 'pw-new-revokee' } });
    assert.equal(reset.status, 200);
    assert.equal(await subject(token), 404);
    assert.equal((await login(u.id, 'pw-revokee')).status, 401);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    token = await tokenOf(u.id, 'pw-new-revokee');
    // As the caller's own token, a deleted user's token is refused.
    assert.equal((await call('GET', `/v3/users/${u.id}`, undefined, token)).status, 200);
    assert.equal((await call('DELETE', `/v3/users/${u.id}`)).status, 204);
    assert.equal(await subject(token), 404);
    assert.notEqual((await call('GET', `/v3/users/${u.id}`, undefined, token)).status, 200);
    const events = await call('GET', '/v3/OS-REVOKE/events');
    assert.ok(events.json.events.filter((e: { user_id?: string }) => e.user_id === u.id).length >= 3);
  });

  it('deleting a user removes its memberships and role assignments', async () => {
    const u = await create({ name: 'member-gone', password: 'pw-gone' });
    const group = (await call('POST', '/v3/groups', { group: { name: 'grp-of-gone' } })).json.group;
    assert.equal((await call('PUT', `/v3/groups/${group.id}/users/${u.id}`)).status, 204);
    const { providers } = server.service;
    const role = await providers.assignments.findGlobalRoleByName('member');
    const project = (await call('POST', '/v3/projects', { project: { name: 'gone-project' } })).json.project;
    await providers.assignments.grant('UserProject', u.id, project.id, role!.id);
    await providers.assignments.grantSystem('UserSystem', u.id, role!.id);
    assert.equal((await call('DELETE', `/v3/users/${u.id}`)).status, 204);
    const db = ctx.db().kysely;
    assert.equal((await db.selectFrom('user_group_membership').selectAll().where('user_id', '=', u.id).execute()).length, 0);
    assert.equal((await db.selectFrom('assignment').selectAll().where('actor_id', '=', u.id).execute()).length, 0);
    assert.equal((await db.selectFrom('system_assignment').selectAll().where('actor_id', '=', u.id).execute()).length, 0);
    assert.equal((await db.selectFrom('local_user').selectAll().where('user_id', '=', u.id).execute()).length, 0);
    assert.deepEqual((await call('GET', `/v3/groups/${group.id}/users`)).json.users, []);
  });

  it('creates users with federated objects when the identity provider and protocol exist', async () => {
    const db = ctx.db().kysely;
    await db.insertInto('mapping').values({ id: 'map-1', rules: '[]', schema_version: '1.0' }).execute();
    await db.insertInto('identity_provider').values({ id: 'idp-1', enabled: true, description: null, domain_id: 'default', authorization_ttl: null }).execute();
    await db.insertInto('federation_protocol').values({ id: 'saml2', idp_id: 'idp-1', mapping_id: 'map-1', remote_id_attribute: null }).execute();
    const federated = [{ idp_id: 'idp-1', protocols: [{ protocol_id: 'saml2', unique_id: 'fed-unique' }] }];
    const u = await create({ name: 'fed-user', federated });
    assert.deepEqual(u.federated, federated);
    assert.deepEqual((await call('GET', `/v3/users/${u.id}`)).json.user.federated, federated);
    assert.deepEqual(names(await call('GET', '/v3/users?idp_id=idp-1')), ['fed-user']);
    assert.deepEqual(names(await call('GET', '/v3/users?unique_id=fed-unique&protocol_id=saml2')), ['fed-user']);
    assert.deepEqual(names(await call('GET', '/v3/users?unique_id=other')), []);
    const badIdp = await call('POST', '/v3/users', { user: { name: 'fed-bad', federated: [{ idp_id: 'nope', protocols: [{ protocol_id: 'saml2', unique_id: 'x' }] }] } });
    assert.equal(badIdp.status, 400);
    assert.equal(badIdp.json.error.message, 'Could not find Identity Provider: nope');
    const badProtocol = await call('POST', '/v3/users', { user: { name: 'fed-bad', federated: [{ idp_id: 'idp-1', protocols: [{ protocol_id: 'oidc', unique_id: 'x' }] }] } });
    assert.equal(badProtocol.json.error.message, 'Could not find federated protocol oidc for Identity Provider: idp-1.');
  });
});

describeEachDatabase('POST /v3/users/{user_id}/password and [security_compliance]', (ctx) => {
  const servers: TestServer[] = [];
  const serve = async (settings: Record<string, string>) => {
    const server = await startTestServer(ctx.db(), settings);
    servers.push(server);
    return { server, admin: (await adminLogin(server.url)).token };
  };
  after(async () => {
    for (const server of servers) await server.close();
  });
  let users = 0;
  const newUser = async (s: { server: TestServer; admin: string }, password: string, extra: Record<string, unknown> = {}) => {
    const res = await http(s.server.url, 'POST', '/v3/users', { token: s.admin, body: { user: { name: `pw-user-${(users += 1)}`, password, ...extra } } });
    assert.equal(res.status, 201, res.text);
    return res.json.user as { id: string; password_expires_at: string | null };
  };
  const change = (s: { server: TestServer }, id: string, original: string, password: string) =>
    http(s.server.url, 'POST', `/v3/users/${id}/password`, { body: { user: { original_password: original, password } } });
  const login = (s: { server: TestServer }, id: string, password: string) => http(s.server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id }, password) });

  it('disable_user_account_days_inactive: a user inactive too long lists and shows as disabled, unless exempt', async function () {
    this.timeout(30_000);
    const inactive = await serve({ 'security_compliance.disable_user_account_days_inactive': '10' });
    const plain = await serve({});
    const stale = await newUser(inactive, 'pw-stale');
    const exempt = await newUser(inactive, 'pw-exempt', { options: { ignore_user_inactivity: true } });
    const fresh = await newUser(inactive, 'pw-fresh');
    // Never active, created 11 days ago: only created_at tells how long it has been inactive.
    const longAgo = new Date(Date.now() - 11 * 86_400_000);
    await ctx.db().kysely.updateTable('user').set({ created_at: longAgo, last_active_at: null }).where('id', 'in', [stale.id, exempt.id]).execute();
    const enabledIn = async (s: { server: TestServer; admin: string }) => {
      const listed = await http(s.server.url, 'GET', '/v3/users', { token: s.admin });
      assert.equal(listed.status, 200, listed.text);
      const byId = new Map((listed.json.users as { id: string; enabled: boolean }[]).map((u) => [u.id, u.enabled]));
      const shown = await http(s.server.url, 'GET', `/v3/users/${stale.id}`, { token: s.admin });
      return { stale: byId.get(stale.id), exempt: byId.get(exempt.id), fresh: byId.get(fresh.id), staleShown: shown.json.user.enabled };
    };
    assert.deepEqual(await enabledIn(inactive), { stale: false, exempt: true, fresh: true, staleShown: false });
    // The same rows on a server without the rule: everyone is enabled.
    assert.deepEqual(await enabledIn(plain), { stale: true, exempt: true, fresh: true, staleShown: true });
    assert.equal((await login(inactive, stale.id, 'pw-stale')).status, 401);
  });

  it('changes the password without a token, ends the old tokens, and refuses a wrong original', async function () {
    this.timeout(30_000);
    const s = await serve({ 'security_compliance.lockout_failure_attempts': '2', 'security_compliance.lockout_duration': '600' });
    const u = await newUser(s, 'pw-original');
    const old = (await login(s, u.id, 'pw-original')).headers.get('x-subject-token')!;
    assert.equal((await change(s, u.id, 'pw-original', 'pw-changed')).status, 204);
    assert.equal((await http(s.server.url, 'GET', '/v3/auth/tokens', { token: s.admin, subject: old })).status, 404);
    assert.equal((await login(s, u.id, 'pw-original')).status, 401);
    assert.equal((await login(s, u.id, 'pw-changed')).status, 201);
    const missing = await http(s.server.url, 'POST', `/v3/users/${u.id}/password`, { body: { user: { password: 'x' } } });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.message, "'original_password' is a required property");
    const extra = await http(s.server.url, 'POST', `/v3/users/${u.id}/password`, { body: { user: { password: 'x', original_password: 'y', other: 1 } } });
    assert.equal(extra.status, 400);
    const wrong = await change(s, u.id, 'not-it', 'pw-other');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.message, 'The request you have made requires authentication.');
    assert.equal((await change(s, 'no-such-user', 'x', 'y')).status, 401);
    // The second wrong original locks the account: even the right password fails now.
    assert.equal((await change(s, u.id, 'not-it', 'pw-other')).status, 401);
    assert.equal((await login(s, u.id, 'pw-changed')).status, 401);
    assert.equal((await change(s, u.id, 'pw-changed', 'pw-other')).status, 401);
  });

  it('unique_last_password_count refuses the last N passwords', async () => {
    const s = await serve({ 'security_compliance.unique_last_password_count': '2' });
    const u = await newUser(s, 'pw-a1');
    assert.equal((await change(s, u.id, 'pw-a1', 'pw-b2')).status, 204);
    const again = await change(s, u.id, 'pw-b2', 'pw-a1');
    assert.equal(again.status, 400);
    assert.equal(
      again.json.error.message,
      'The new password cannot be identical to a previous password. The total number which includes the new password must be unique is 2.',
    );
    assert.equal((await change(s, u.id, 'pw-b2', 'pw-b2')).status, 400);
    assert.equal((await change(s, u.id, 'pw-b2', 'pw-c3')).status, 204);
    // pw-a1 has left the window of the last two.
    assert.equal((await change(s, u.id, 'pw-c3', 'pw-a1')).status, 204);
  });

  it('minimum_password_age applies to self-service passwords only', async () => {
    const s = await serve({ 'security_compliance.minimum_password_age': '1' });
    const u = await newUser(s, 'pw-admin-set');
    assert.equal((await change(s, u.id, 'pw-admin-set', 'pw-self-1')).status, 204);
    const tooSoon = await change(s, u.id, 'pw-self-1', 'pw-self-2');
    assert.equal(tooSoon.status, 400);
    assert.equal(
      tooSoon.json.error.message,
      'You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for 1 day(s) before it can be changed. Please try again in 0 day(s) or contact your administrator to reset your password.',
    );
    assert.equal((await http(s.server.url, 'PATCH', `/v3/users/${u.id}`, { token: s.admin, body: { user: { password: 'pw-admin-2' } } })).status, 200);
    assert.equal((await change(s, u.id, 'pw-admin-2', 'pw-self-2')).status, 204);
  });

  it('password_regex applies to create, update and change with its description', async () => {
    const s = await serve({
      'security_compliance.password_regex': '^(?=.*\\d)(?=.*[a-zA-Z]).{7,}$',
      'security_compliance.password_regex_description': 'at least 7 characters, one letter and one digit',
    });
    const message = 'The password does not match the requirements: at least 7 characters, one letter and one digit.';
    const created = await http(s.server.url, 'POST', '/v3/users', { token: s.admin, body: { user: { name: 'regex-user', password: 'short' } } });
    assert.equal(created.status, 400);
    assert.equal(created.json.error.message, message);
    const u = await newUser(s, 'good-pass-1');
    const patched = await http(s.server.url, 'PATCH', `/v3/users/${u.id}`, { token: s.admin, body: { user: { password: 'nodigits' } } });
    assert.equal(patched.json.error.message, message);
    const changed = await change(s, u.id, 'good-pass-1', 'nodigits');
    assert.equal(changed.status, 400);
    assert.equal(changed.json.error.message, message);
    assert.equal((await change(s, u.id, 'good-pass-1', 'good-pass-2')).status, 204);
  });

  it('password_expires_days sets expiry on new passwords, except with ignore_password_expiry', async () => {
    const s = await serve({ 'security_compliance.password_expires_days': '5' });
    const before = Date.now();
    const u = await newUser(s, 'pw-expires');
    const expires = new Date(`${u.password_expires_at}Z`).getTime();
    assert.ok(Math.abs(expires - (before + 5 * 86_400_000)) < 5_000, u.password_expires_at!);
    assert.equal((await change(s, u.id, 'pw-expires', 'pw-expires-2')).status, 204);
    const shown = await http(s.server.url, 'GET', `/v3/users/${u.id}`, { token: s.admin });
    assert.ok(new Date(`${shown.json.user.password_expires_at}Z`).getTime() >= expires);
    const exempt = await http(s.server.url, 'PATCH', `/v3/users/${u.id}`, { token: s.admin, body: { user: { password: 'pw-expires-3', options: { ignore_password_expiry: true } } } });
    assert.equal(exempt.json.user.password_expires_at, null);
  });

  it('change_password_upon_first_use makes the user change an admin-set password', async () => {
    const s = await serve({ 'security_compliance.change_password_upon_first_use': 'true' });
    const u = await newUser(s, 'pw-first');
    assert.notEqual(u.password_expires_at, null);
    const expired = await login(s, u.id, 'pw-first');
    assert.equal(expired.status, 401);
    assert.equal(expired.json.error.message, `The password is expired and needs to be changed for user: ${u.id}.`);
    // An expired password still proves the user's identity for the change.
    assert.equal((await change(s, u.id, 'pw-first', 'pw-mine')).status, 204);
    assert.equal((await login(s, u.id, 'pw-mine')).status, 201);
    const exempt = await http(s.server.url, 'PATCH', `/v3/users/${u.id}`, {
      token: s.admin,
      body: { user: { password: 'pw-reset', options: { ignore_change_password_upon_first_use: true } } },
    });
    assert.equal(exempt.json.user.password_expires_at, null);
    assert.equal((await login(s, u.id, 'pw-reset')).status, 201);
  });

  it('lock_password refuses self-service changes', async () => {
    const s = await serve({});
    const u = await newUser(s, 'pw-locked', { options: { lock_password: true } });
    const res = await change(s, u.id, 'pw-locked', 'pw-unlocked');
    assert.equal(res.status, 400);
    assert.equal(
      res.json.error.message,
      'You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.',
    );
  });
});

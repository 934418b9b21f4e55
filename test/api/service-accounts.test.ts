import assert from 'node:assert/strict';
import { decodeTotpSecret, hotp } from '../../src/auth/totp.js';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, assertDenied, client, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const METHODS = 'external,password,token,oauth1,mapped,application_credential,totp';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const totpNow = () => hotp(decodeTotpSecret(TOTP_SECRET)!, Math.floor(Date.now() / 1000 / 30));
const inOneHour = () => new Date(Date.now() + 3600_000).toISOString();

describeEachDatabase('/v4/service_accounts', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: ReturnType<typeof client>;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), { 'auth.methods': METHODS });
    base = server.url;
    admin = client(base, (await adminLogin(base)).token);
  });
  after(async () => server?.close());

  let counter = 0;
  /** A fresh project of the default domain with a manager and a member, each with a token scoped to it. */
  async function team() {
    const n = ++counter;
    const project = await admin.post('/v3/projects', { project: { name: `sa-project-${n}`, domain_id: 'default' } });
    assert.equal(project.status, 201, project.text);
    const projectId: string = project.json.project.id;
    const manager = await projectUserToken(server, `sa-manager-${n}`, 'manager', { projectId });
    const member = await projectUserToken(server, `sa-member-${n}`, 'member', { projectId });
    return { n, projectId, manager: { ...manager, api: client(base, manager.token) }, member: { ...member, api: client(base, member.token) } };
  }

  async function createAccount(api: ReturnType<typeof client>, body: Record<string, unknown>) {
    const res = await api.post('/v4/service_accounts', { service_account: body });
    assert.equal(res.status, 201, res.text);
    return res.json.service_account;
  }

  /** Grants a role to a user on a project through the v3 API, as the admin. */
  async function grant(userId: string, projectId: string, roleName: string) {
    const roles = await admin.get(`/v3/roles?name=${roleName}`);
    const res = await admin.put(`/v3/projects/${projectId}/users/${userId}/roles/${roles.json.roles[0].id}`);
    assert.equal(res.status, 204, res.text);
  }

  /** An API key of a service account, created by the given manager, scoped to the project. */
  async function accountKey(api: ReturnType<typeof client>, userId: string, projectId: string) {
    const res = await api.post('/v4/api-keys', { api_key: { user_id: userId, project_id: projectId, expires_at: inOneHour() } });
    assert.equal(res.status, 201, res.text);
    return res.json.token as string;
  }
  const validate = async (subject: string) => http(base, 'GET', '/v3/auth/tokens', { token: (await adminLogin(base)).token, subject });
  const asKey = (key: string, method: string, path: string, body?: unknown) =>
    http(base, method, path, { headers: { Authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body }) });

  it('lets a project manager create, list, show, rename, disable and delete a service account stored as a user', async () => {
    const t = await team();
    const account = await createAccount(t.manager.api, { name: `robot-${t.n}`, project_id: t.projectId, description: 'ci' });
    assert.deepEqual(Object.keys(account), ['id', 'name', 'domain_id', 'project_id', 'description', 'enabled', 'created_at', 'links']);
    assert.match(account.id, /^[0-9a-f]{32}$/);
    assert.equal(account.domain_id, 'default');
    assert.equal(account.project_id, t.projectId);
    assert.equal(account.description, 'ci');
    assert.equal(account.enabled, true);
    assert.equal(account.links.self, `${base}/v4/service_accounts/${account.id}`);

    // A user in Keystone's table: every v3 client sees it, and role assignments work as for users.
    const asUser = await admin.get(`/v3/users/${account.id}`);
    assert.equal(asUser.status, 200, asUser.text);
    assert.equal(asUser.json.user.name, `robot-${t.n}`);
    assert.equal(asUser.json.user.domain_id, 'default');
    assert.equal(asUser.json.user.options.ignore_user_inactivity, true);
    await grant(account.id, t.projectId, 'member');
    const assignments = await admin.get(`/v3/role_assignments?user.id=${account.id}&scope.project.id=${t.projectId}`);
    assert.equal(assignments.json.role_assignments.length, 1);

    const listed = await t.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.service_accounts.map((a: { id: string }) => a.id), [account.id]);
    // Filters: name and enabled; ordinary users are never listed.
    assert.equal((await t.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}&name=other`)).json.service_accounts.length, 0);
    assert.equal((await t.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}&enabled=false`)).json.service_accounts.length, 0);
    const all = await admin.get('/v4/service_accounts');
    assert.ok(all.json.service_accounts.some((a: { id: string }) => a.id === account.id));
    assert.ok(!all.json.service_accounts.some((a: { id: string }) => a.id === t.manager.userId));

    const shown = await t.manager.api.get(`/v4/service_accounts/${account.id}`);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.service_account, account);

    const renamed = await t.manager.api.patch(`/v4/service_accounts/${account.id}`, { service_account: { name: `robot-${t.n}-b`, description: null } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.service_account.name, `robot-${t.n}-b`);
    assert.equal(renamed.json.service_account.description, null);

    const disabled = await t.manager.api.patch(`/v4/service_accounts/${account.id}`, { service_account: { enabled: false } });
    assert.equal(disabled.json.service_account.enabled, false);
    assert.equal((await admin.get(`/v3/users/${account.id}`)).json.user.enabled, false);
    assert.deepEqual((await t.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}&enabled=false`)).json.service_accounts.map((a: { id: string }) => a.id), [account.id]);
    const enabled = await t.manager.api.patch(`/v4/service_accounts/${account.id}`, { service_account: { enabled: true } });
    assert.equal(enabled.json.service_account.enabled, true);

    assert.equal((await t.manager.api.del(`/v4/service_accounts/${account.id}`)).status, 204);
    assert.equal((await t.manager.api.get(`/v4/service_accounts/${account.id}`)).status, 404);
    assert.equal((await admin.get(`/v3/users/${account.id}`)).status, 404);
  });

  it('lets a domain manager and an admin manage accounts owned by a domain or by its projects', async () => {
    const t = await team();
    const domain = await admin.post('/v3/domains', { domain: { name: `sa-domain-${t.n}` } });
    const domainId: string = domain.json.domain.id;
    const domainManager = await (async () => {
      const user = await admin.post('/v3/users', { user: { name: `dm-${t.n}`, domain_id: domainId, password: 'pw-dm' } });
      const roles = await admin.get('/v3/roles?name=manager');
      await admin.put(`/v3/domains/${domainId}/users/${user.json.user.id}/roles/${roles.json.roles[0].id}`);
      const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.json.user.id }, 'pw-dm', { domain: { id: domainId } }) });
      assert.equal(login.status, 201, login.text);
      return client(base, login.headers.get('x-subject-token')!);
    })();
    const owned = await createAccount(domainManager, { name: 'domain-robot', domain_id: domainId });
    assert.equal(owned.project_id, null);
    assert.equal(owned.domain_id, domainId);
    assert.deepEqual((await domainManager.get(`/v4/service_accounts?domain_id=${domainId}`)).json.service_accounts.map((a: { id: string }) => a.id), [owned.id]);
    // The domain manager of another domain's project is refused; the admin is not.
    assertDenied(await domainManager.post('/v4/service_accounts', { service_account: { name: 'x', project_id: t.projectId } }), 'keystone_ts:create_service_account');
    const byAdmin = await createAccount(admin, { name: `admin-robot-${t.n}`, project_id: t.projectId });
    assert.equal(byAdmin.project_id, t.projectId);
  });

  it('refuses bad bodies (400), no token (401), other projects and non-managers (403), unknown ids (404) and duplicate names (409), changing nothing', async () => {
    const t = await team();
    const other = await team();
    const account = await createAccount(t.manager.api, { name: `robot-${t.n}`, project_id: t.projectId });
    const before = (await admin.get('/v4/service_accounts')).json.service_accounts.length;

    const bad = [
      { service_account: { name: 'no-owner' } },
      { service_account: { name: 'ghost', project_id: 'f'.repeat(32) } },
      { service_account: { name: 'mismatch', project_id: t.projectId, domain_id: 'f'.repeat(32) } },
      { service_account: { name: 'extra', project_id: t.projectId, password: 'secret' } },
      { service_account: { project_id: t.projectId } },
      { name: 'unwrapped', project_id: t.projectId },
    ];
    for (const body of bad) {
      const res = await admin.post('/v4/service_accounts', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.error.code, 400);
    }
    const patchBad = await t.manager.api.patch(`/v4/service_accounts/${account.id}`, { service_account: { project_id: other.projectId } });
    assert.equal(patchBad.status, 400);

    const anonymous = await http(base, 'POST', '/v4/service_accounts', { body: { service_account: { name: 'anon', project_id: t.projectId } } });
    assert.equal(anonymous.status, 401);
    assert.deepEqual(Object.keys(anonymous.json.error).sort(), ['code', 'message', 'title']);
    assert.equal((await http(base, 'GET', `/v4/service_accounts/${account.id}`)).status, 401);

    // A member is not a manager; another project's manager owns nothing here.
    assertDenied(await t.member.api.post('/v4/service_accounts', { service_account: { name: 'm', project_id: t.projectId } }), 'keystone_ts:create_service_account');
    assertDenied(await other.manager.api.post('/v4/service_accounts', { service_account: { name: 'o', project_id: t.projectId } }), 'keystone_ts:create_service_account');
    assertDenied(await other.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}`), 'keystone_ts:list_service_accounts');
    assertDenied(await t.manager.api.get('/v4/service_accounts'), 'keystone_ts:list_service_accounts');
    assertDenied(await other.manager.api.get(`/v4/service_accounts/${account.id}`), 'keystone_ts:get_service_account');
    assertDenied(await other.manager.api.patch(`/v4/service_accounts/${account.id}`, { service_account: { enabled: false } }), 'keystone_ts:update_service_account');
    assertDenied(await other.manager.api.del(`/v4/service_accounts/${account.id}`), 'keystone_ts:delete_service_account');
    assertDenied(await t.member.api.del(`/v4/service_accounts/${account.id}`), 'keystone_ts:delete_service_account');

    // 404: an unknown id, and an ordinary user's id (it is not a service account).
    assert.equal((await admin.get(`/v4/service_accounts/${'e'.repeat(32)}`)).status, 404);
    const notAccount = await admin.get(`/v4/service_accounts/${t.member.userId}`);
    assert.equal(notAccount.status, 404);
    assert.equal(notAccount.json.error.message, `Could not find service account: ${t.member.userId}.`);
    assert.equal((await admin.del(`/v4/service_accounts/${t.member.userId}`)).status, 404);
    assert.equal((await admin.get(`/v3/users/${t.member.userId}`)).status, 200);

    // 409: a user of the same name in the domain (service accounts share the users' namespace).
    const duplicate = await t.manager.api.post('/v4/service_accounts', { service_account: { name: `robot-${t.n}`, project_id: t.projectId } });
    assert.equal(duplicate.status, 409, duplicate.text);
    assert.equal((await t.manager.api.post('/v4/service_accounts', { service_account: { name: `sa-manager-${t.n}`, project_id: t.projectId } })).status, 409);

    // Repeated query parameters: the first counts (Flask's request.args.get), never a 500.
    const repeated = await t.manager.api.get(`/v4/service_accounts?project_id=${t.projectId}&project_id=${other.projectId}&enabled=1&enabled=0`);
    assert.equal(repeated.status, 200, repeated.text);
    assert.deepEqual(repeated.json.service_accounts.map((a: { id: string }) => a.id), [account.id]);

    const after = await admin.get('/v4/service_accounts');
    assert.equal(after.json.service_accounts.length, before);
    const unchanged = await admin.get(`/v4/service_accounts/${account.id}`);
    assert.equal(unchanged.json.service_account.enabled, true);
    assert.equal(unchanged.json.service_account.name, `robot-${t.n}`);
  });

  it('refuses password and TOTP login for a service account, even when a password and a TOTP secret reached it through the database', async () => {
    const t = await team();
    // An ordinary user with a password and a TOTP credential logs in both ways...
    const password = 'pw-was-a-person';
    const person = await admin.post('/v3/users', { user: { name: `converted-${t.n}`, domain_id: 'default', password } });
    const userId: string = person.json.user.id;
    await grant(userId, t.projectId, 'member');
    assert.equal((await admin.post('/v3/credentials', { credential: { type: 'totp', user_id: userId, blob: TOTP_SECRET } })).status, 201);
    const passwordLogin = () => http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, password, { project: { id: t.projectId } }) });
    const totpLogin = () => http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['totp'], totp: { user: { id: userId, passcode: totpNow() } } } } } });
    assert.equal((await passwordLogin()).status, 201);
    assert.equal((await totpLogin()).status, 201);
    // ...until it is marked a service account (as an operator or a shared database could).
    await ctx.db().kysely.insertInto('keystone_ts_service_account').values({ user_id: userId, owner_project_id: t.projectId, owner_domain_id: 'default' }).execute();
    for (const res of [await passwordLogin(), await totpLogin()]) {
      assert.equal(res.status, 401, res.text);
      assert.deepEqual(res.json, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
      assert.equal(res.headers.get('x-subject-token'), null);
    }
    // A wrong password too: the refusal comes before the password is checked (no lockout count).
    assert.equal((await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, 'wrong', { project: { id: t.projectId } }) })).status, 401);
  });

  it('refuses to set a service account password through /v3/users (403), leaving it without one', async () => {
    const t = await team();
    const account = await createAccount(t.manager.api, { name: `robot-${t.n}`, project_id: t.projectId });
    const patch = await admin.patch(`/v3/users/${account.id}`, { user: { password: 'now-a-person-1' } });
    assert.equal(patch.status, 403, patch.text);
    assert.match(patch.json.error.message, /is a service account and cannot have a password/);
    const change = await http(base, 'POST', `/v3/users/${account.id}/password`, { token: (await adminLogin(base)).token, body: { user: { original_password: 'x', password: 'now-a-person-2' } } });
    assert.equal(change.status, 403, change.text);
    for (const pw of ['now-a-person-1', 'now-a-person-2']) {
      assert.equal((await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: account.id }, pw) })).status, 401);
    }
    // Other attributes stay editable through v3, as for any user.
    assert.equal((await admin.patch(`/v3/users/${account.id}`, { user: { description: 'still a robot' } })).status, 200);
  });

  it('disables the accounts of a disabled or deleted owner, and their tokens and API keys stop working', async () => {
    const t = await team();
    const account = await createAccount(t.manager.api, { name: `robot-${t.n}`, project_id: t.projectId });
    await grant(account.id, t.projectId, 'member');
    const key = await accountKey(t.manager.api, account.id, t.projectId);
    // The account works: through its API key it makes itself an application credential and
    // logs in with it (its only ways in), getting a real token.
    const appCred = await asKey(key, 'POST', `/v3/users/${account.id}/application_credentials`, { application_credential: { name: 'ci' } });
    assert.equal(appCred.status, 201, appCred.text);
    const login = await http(base, 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['application_credential'], application_credential: { id: appCred.json.application_credential.id, secret: appCred.json.application_credential.secret } } } },
    });
    assert.equal(login.status, 201, login.text);
    const token = login.headers.get('x-subject-token')!;
    assert.equal((await validate(token)).status, 200);
    assert.equal((await admin.get(`/v3/projects/${t.projectId}`)).status, 200);
    assert.equal((await http(base, 'GET', `/v3/projects/${t.projectId}`, { token })).status, 200);
    assert.equal((await asKey(key, 'GET', `/v3/projects/${t.projectId}`)).status, 200);

    const disabled = await admin.patch(`/v3/projects/${t.projectId}`, { project: { enabled: false } });
    assert.equal(disabled.status, 200, disabled.text);
    const shown = await admin.get(`/v4/service_accounts/${account.id}`);
    assert.equal(shown.json.service_account.enabled, false);
    assert.equal((await admin.get(`/v3/users/${account.id}`)).json.user.enabled, false);
    // The subject token no longer validates; as a caller's token it is refused.
    assert.equal((await validate(token)).status, 404);
    assert.ok([401, 404].includes((await http(base, 'GET', `/v3/projects/${t.projectId}`, { token })).status));
    const keyRefused = await asKey(key, 'GET', '/v3/auth/projects');
    assert.equal(keyRefused.status, 401);
    assert.deepEqual(keyRefused.json, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });

    // Enabling the project again does not enable the account by itself; while the project is
    // disabled the account cannot be enabled (403), and nothing changes.
    await admin.patch(`/v3/projects/${t.projectId}`, { project: { enabled: false } });
    const early = await admin.patch(`/v4/service_accounts/${account.id}`, { service_account: { enabled: true } });
    assert.equal(early.status, 403, early.text);
    // Nor through the v3 users API, which any Keystone client would use.
    const earlyV3 = await admin.patch(`/v3/users/${account.id}`, { user: { enabled: true } });
    assert.equal(earlyV3.status, 403, earlyV3.text);
    assert.equal((await admin.get(`/v3/users/${account.id}`)).json.user.enabled, false);
    assert.equal((await admin.get(`/v4/service_accounts/${account.id}`)).json.service_account.enabled, false);
    await admin.patch(`/v3/projects/${t.projectId}`, { project: { enabled: true } });
    assert.equal((await admin.get(`/v4/service_accounts/${account.id}`)).json.service_account.enabled, false);
    // The token issued before was revoked with the account (a disabled user's revocation event).
    assert.equal((await admin.patch(`/v4/service_accounts/${account.id}`, { service_account: { enabled: true } })).status, 200);
    assert.equal((await validate(token)).status, 404);
    // The key works again once the account is enabled: its requests are new, and revocation
    // events (whole seconds, as Keystone's) end what was issued up to the second of disabling.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await asKey(key, 'GET', `/v3/projects/${t.projectId}`)).status, 200);

    // Deleting the owner: the account stays (disabled), its owner id says whose it was.
    const doomed = await team();
    const orphan = await createAccount(doomed.manager.api, { name: `orphan-${doomed.n}`, project_id: doomed.projectId });
    assert.equal((await admin.del(`/v3/projects/${doomed.projectId}`)).status, 204);
    const after = await admin.get(`/v4/service_accounts/${orphan.id}`);
    assert.equal(after.json.service_account.enabled, false);
    assert.equal(after.json.service_account.project_id, doomed.projectId);
  });

  it('disables the accounts owned by a disabled domain', async () => {
    const n = ++counter;
    const domain = await admin.post('/v3/domains', { domain: { name: `sa-owner-domain-${n}` } });
    const domainId: string = domain.json.domain.id;
    const project = await admin.post('/v3/projects', { project: { name: `p-${n}`, domain_id: domainId } });
    const byDomain = await createAccount(admin, { name: 'd', domain_id: domainId });
    const byProject = await createAccount(admin, { name: 'p', project_id: project.json.project.id });
    assert.equal((await admin.patch(`/v3/domains/${domainId}`, { domain: { enabled: false } })).status, 200);
    for (const id of [byDomain.id, byProject.id]) assert.equal((await admin.get(`/v4/service_accounts/${id}`)).json.service_account.enabled, false);
    // Created under a disabled owner: only disabled.
    assert.equal((await admin.post('/v4/service_accounts', { service_account: { name: 'late', domain_id: domainId } })).status, 403);
    assert.equal((await admin.post('/v4/service_accounts', { service_account: { name: 'late', domain_id: domainId, enabled: false } })).status, 201);
  });
});

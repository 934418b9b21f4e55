import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TokenFormatter } from '../../src/token/formatter.js';
import { describeEachDatabase } from '../support/databases.js';
import { seededRandom } from '../support/random.js';
import { adminLogin, assertDenied, client, http, passwordAuth, startTestServer, type HttpResult, type TestServer } from '../support/server.js';

const RESTRICTIONS = '/v4/tokens/restrictions';
const EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

describeEachDatabase('/v4/tokens/restrictions and restricted tokens', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: ReturnType<typeof client>;
  let adminToken: string;
  let projectId: string;
  let otherProjectId: string;
  let otherDomainId: string;
  let otherDomainProjectId: string;
  const roleIds: Record<string, string> = {};
  const logFile = path.join(tmpdir(), `kts-restrictions-${randomUUID()}.log`);

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), { 'keystone_ts.decision_log': logFile });
    base = server.url;
    const login = await adminLogin(base);
    adminToken = login.token;
    admin = client(base, adminToken);
    projectId = login.body.token.project.id;
    const { resource, assignments } = server.service.providers;
    otherProjectId = (await resource.createProject({ name: 'second', domain_id: 'default' })).id;
    otherDomainId = (await resource.createDomain({ name: 'elsewhere' })).id;
    otherDomainProjectId = (await resource.createProject({ name: 'far', domain_id: otherDomainId })).id;
    for (const name of ['admin', 'manager', 'member', 'reader']) roleIds[name] = (await assignments.findGlobalRoleByName(name))!.id;
    // A role nothing implies and that implies nothing.
    roleIds['auditor'] = (await assignments.createRole({ name: 'auditor' })).id;
  });
  after(async () => {
    await server?.close();
    rmSync(logFile, { force: true });
  });

  let counter = 0;
  /** A new user of the default domain holding `roles` on the admin project, and a token scoped to it. */
  async function user(roles: string[], opts: { project?: string; scope?: unknown } = {}) {
    const { identity, assignments } = server.service.providers;
    const name = `u${++counter}`;
    const created = await identity.createUser({ name, domain_id: 'default', password: `pw-${name}` });
    for (const role of roles) await assignments.grant('UserProject', created.id, opts.project ?? projectId, roleIds[role]!);
    const scope = opts.scope === undefined ? { project: { id: opts.project ?? projectId } } : opts.scope;
    const res = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: created.id }, `pw-${name}`, scope) });
    assert.equal(res.status, 201, res.text);
    return { id: created.id, password: `pw-${name}`, token: res.headers.get('x-subject-token')!, api: client(base, res.headers.get('x-subject-token')!) };
  }

  async function restriction(body: Record<string, unknown>, as = admin) {
    const res = await as.post(RESTRICTIONS, { restriction: { domain_id: 'default', allow_renew: false, allow_rescope: false, ...body } });
    assert.equal(res.status, 201, res.text);
    return res.json.restriction as { id: string } & Record<string, unknown>;
  }

  const exchange = (token: string, id: string) => http(base, 'POST', `${RESTRICTIONS}/${id}/tokens`, { token });
  const validate = (subject: string) => http(base, 'GET', '/v3/auth/tokens', { token: adminToken, subject });
  const roleNames = (res: HttpResult) => (res.json.token.roles as { name: string }[]).map((r) => r.name).sort();
  const countRestrictions = async () => (await admin.get(RESTRICTIONS)).json.restrictions.length as number;

  function form(fields: Record<string, string>, headers: Record<string, string> = {}) {
    return http(base, 'POST', '/v4/oauth2/token', { body: new URLSearchParams(fields).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers } });
  }

  describe('CRUD', () => {
    it('creates with Keystone-NG’s body, shows, lists with filters, updates with PUT and PATCH, deletes', async () => {
      const owner = await user(['member']);
      const created = await admin.post(RESTRICTIONS, {
        restriction: { domain_id: 'default', user_id: owner.id, project_id: projectId, allow_renew: true, allow_rescope: false, roles: [{ id: roleIds['reader'], name: 'reader' }] },
      });
      assert.equal(created.status, 201, created.text);
      const r = created.json.restriction;
      assert.deepEqual(Object.keys(r), [
        'allow_renew', 'allow_rescope', 'domain_id', 'id', 'project_id', 'user_id', 'roles', 'role_ids', 'actions', 'source_cidrs', 'max_lifetime', 'inline_policy', 'links',
      ]);
      assert.match(r.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(r.roles, [{ id: roleIds['reader'], name: 'reader' }]);
      assert.deepEqual(r.role_ids, [roleIds['reader']]);
      assert.equal(r.actions, null);
      assert.equal(r.source_cidrs, null);
      assert.equal(r.links.self, `${base}${RESTRICTIONS}/${r.id}`);

      const shown = await admin.get(`${RESTRICTIONS}/${r.id}`);
      assert.equal(shown.status, 200);
      assert.deepEqual(shown.json.restriction, r);

      const other = await restriction({ actions: ['identity:get_*', 'identity:list_projects'], source_cidrs: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], max_lifetime: 600 });
      assert.deepEqual(other['actions'], ['identity:get_*', 'identity:list_projects']);
      assert.deepEqual(other['source_cidrs'], ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
      assert.equal(other['max_lifetime'], 600);
      assert.equal(other['user_id'], undefined, 'NG leaves out a null user_id');
      const byUser = await admin.get(`${RESTRICTIONS}?user_id=${owner.id}`);
      assert.deepEqual(byUser.json.restrictions.map((x: { id: string }) => x.id), [r.id]);
      const byProject = await admin.get(`${RESTRICTIONS}?project_id=${projectId}`);
      assert.ok(byProject.json.restrictions.some((x: { id: string }) => x.id === r.id));
      assert.ok(!byProject.json.restrictions.some((x: { id: string }) => x.id === other.id));
      const byDomain = await admin.get(`${RESTRICTIONS}?domain_id=default`);
      assert.ok(byDomain.json.restrictions.some((x: { id: string }) => x.id === other.id));
      assert.deepEqual((await admin.get(`${RESTRICTIONS}?domain_id=${otherDomainId}`)).json.restrictions, []);

      const put = await admin.put(`${RESTRICTIONS}/${r.id}`, { restriction: { project_id: otherProjectId, roles: [{ id: roleIds['member'] }] } });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.json.restriction.project_id, otherProjectId);
      assert.deepEqual(put.json.restriction.role_ids, [roleIds['member']]);
      assert.equal(put.json.restriction.allow_renew, true, 'fields not given are kept');
      const patch = await admin.patch(`${RESTRICTIONS}/${r.id}`, { restriction: { allow_rescope: true, project_id: null, max_lifetime: 60 } });
      assert.equal(patch.status, 200, patch.text);
      assert.equal(patch.json.restriction.allow_rescope, true);
      assert.equal(patch.json.restriction.project_id, undefined);
      assert.equal(patch.json.restriction.max_lifetime, 60);
      assert.deepEqual((await admin.get(`${RESTRICTIONS}/${r.id}`)).json.restriction, patch.json.restriction);

      assert.equal((await admin.del(`${RESTRICTIONS}/${r.id}`)).status, 204);
      assert.equal((await admin.get(`${RESTRICTIONS}/${r.id}`)).status, 404);
      assert.equal((await admin.del(`${RESTRICTIONS}/${other.id}`)).status, 204);
    });

    it('refuses bad input with 400 and stores nothing', async () => {
      const before = await countRestrictions();
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ domain_id: undefined }, /domain_id/], // left out of the JSON
        [{ domain_id: 'no-such-domain' }, /Could not find domain/],
        [{ role_ids: ['no-such-role'] }, /Could not find role/],
        [{ project_id: 'no-such-project' }, /Could not find project/],
        [{ project_id: otherDomainProjectId }, /is not in domain/],
        [{ user_id: 'no-such-user' }, /Could not find user/],
        [{ source_cidrs: ['10.0.0.0/33'] }, /Invalid CIDR/],
        [{ source_cidrs: ['2001:db8::/129'] }, /Invalid CIDR/],
        [{ source_cidrs: ['example.com/8'] }, /Invalid CIDR/],
        [{ actions: ['identity:get_[ab]'] }, /Invalid action pattern/],
        [{ actions: ['identity:get_{a,b}'] }, /Invalid action pattern/],
        [{ roles: [{ id: roleIds['reader'] }], role_ids: [roleIds['reader']] }, /not both/],
        [{ max_lifetime: 0 }, /max_lifetime|minimum/],
        [{ inline_policy: { language: 'rego', source: 'package x\nallow := true' } }, /Rego inline policies are not supported/],
        [{ inline_policy: { language: 'python', source: 'x' } }, /./],
        [{ unknown_field: 1 }, /./],
      ];
      for (const [fields, message] of bad) {
        const res = await admin.post(RESTRICTIONS, { restriction: { domain_id: 'default', allow_renew: false, allow_rescope: false, ...fields } });
        assert.equal(res.status, 400, `${JSON.stringify(fields)}: ${res.text}`);
        assert.match(res.json.error.message, message, JSON.stringify(fields));
      }
      assert.equal((await admin.post(RESTRICTIONS, {})).status, 400, 'no restriction member');
      assert.equal(await countRestrictions(), before);

      const r = await restriction({ role_ids: [roleIds['reader']] });
      for (const fields of [{ role_ids: ['no-such-role'] }, { domain_id: otherDomainId }, { source_cidrs: ['300.1.1.1/8'] }, {}]) {
        const res = await admin.patch(`${RESTRICTIONS}/${r.id}`, { restriction: fields });
        assert.equal(res.status, 400, `${JSON.stringify(fields)}: ${res.text}`);
      }
      assert.deepEqual((await admin.get(`${RESTRICTIONS}/${r.id}`)).json.restriction.role_ids, [roleIds['reader']]);
    });

    it('answers 404 for an unknown restriction and 409 for a taken id', async () => {
      assert.equal((await admin.get(`${RESTRICTIONS}/nope`)).status, 404);
      assert.equal((await admin.patch(`${RESTRICTIONS}/nope`, { restriction: { allow_renew: true } })).status, 404);
      assert.equal((await admin.del(`${RESTRICTIONS}/nope`)).status, 404);
      await restriction({ id: 'ci-readonly' });
      const again = await admin.post(RESTRICTIONS, { restriction: { id: 'ci-readonly', domain_id: 'default', allow_renew: true, allow_rescope: true } });
      assert.equal(again.status, 409, again.text);
      assert.equal((await admin.get(`${RESTRICTIONS}/ci-readonly`)).json.restriction.allow_renew, false, 'the first one is unchanged');
    });

    it('lets a user manage restrictions naming themselves, and nothing else (403, nothing changed)', async () => {
      const alice = await user(['member']);
      const bob = await user(['member']);
      const own = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']] }, alice.api);
      assert.equal((await alice.api.get(`${RESTRICTIONS}/${own.id}`)).status, 200);
      const listed = await alice.api.get(`${RESTRICTIONS}?user_id=${alice.id}`);
      assert.deepEqual(listed.json.restrictions.map((x: { id: string }) => x.id), [own.id]);
      assert.equal((await alice.api.patch(`${RESTRICTIONS}/${own.id}`, { restriction: { allow_renew: true } })).status, 200);

      const before = await countRestrictions();
      assertDenied(await alice.api.post(RESTRICTIONS, { restriction: { domain_id: 'default', user_id: bob.id, allow_renew: true, allow_rescope: true } }), 'keystone_ts:create_token_restriction');
      assertDenied(await alice.api.post(RESTRICTIONS, { restriction: { domain_id: 'default', allow_renew: true, allow_rescope: true } }), 'keystone_ts:create_token_restriction');
      assert.equal(await countRestrictions(), before);
      assertDenied(await alice.api.get(RESTRICTIONS), 'keystone_ts:list_token_restrictions');
      assertDenied(await alice.api.get(`${RESTRICTIONS}?user_id=${bob.id}`), 'keystone_ts:list_token_restrictions');
      assertDenied(await bob.api.get(`${RESTRICTIONS}/${own.id}`), 'keystone_ts:get_token_restriction');
      assertDenied(await bob.api.patch(`${RESTRICTIONS}/${own.id}`, { restriction: { allow_rescope: true } }), 'keystone_ts:update_token_restriction');
      assertDenied(await bob.api.del(`${RESTRICTIONS}/${own.id}`), 'keystone_ts:delete_token_restriction');
      // Handing one's restriction to another user is refused too.
      assertDenied(await alice.api.patch(`${RESTRICTIONS}/${own.id}`, { restriction: { user_id: bob.id } }), 'keystone_ts:update_token_restriction');
      const unchanged = (await admin.get(`${RESTRICTIONS}/${own.id}`)).json.restriction;
      assert.equal(unchanged.user_id, alice.id);
      assert.equal(unchanged.allow_rescope, false);
      assert.equal((await alice.api.del(`${RESTRICTIONS}/${own.id}`)).status, 204);
    });

    it('lets a domain manager manage the restrictions of their domain only', async () => {
      const { identity, assignments } = server.service.providers;
      const manager = await identity.createUser({ name: 'dm', domain_id: otherDomainId, password: 'pw-dm' });
      await assignments.grant('UserDomain', manager.id, otherDomainId, roleIds['manager']!);
      const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: manager.id }, 'pw-dm', { domain: { id: otherDomainId } }) });
      assert.equal(login.status, 201, login.text);
      const dm = client(base, login.headers.get('x-subject-token')!);
      const mine = await dm.post(RESTRICTIONS, { restriction: { domain_id: otherDomainId, project_id: otherDomainProjectId, allow_renew: true, allow_rescope: false } });
      assert.equal(mine.status, 201, mine.text);
      assert.equal((await dm.get(`${RESTRICTIONS}?domain_id=${otherDomainId}`)).json.restrictions.length, 1);
      const before = await countRestrictions();
      assertDenied(await dm.post(RESTRICTIONS, { restriction: { domain_id: 'default', allow_renew: true, allow_rescope: false } }), 'keystone_ts:create_token_restriction');
      assert.equal(await countRestrictions(), before);
      assertDenied(await dm.get(`${RESTRICTIONS}?domain_id=default`), 'keystone_ts:list_token_restrictions');
      const theirs = await restriction({});
      assertDenied(await dm.del(`${RESTRICTIONS}/${theirs.id}`), 'keystone_ts:delete_token_restriction');
      assert.equal((await admin.get(`${RESTRICTIONS}/${theirs.id}`)).status, 200);
    });
  });

  describe('down-scoping', () => {
    it('exchanges a token for a restricted one holding the restriction’s roles the user has, as payload 11', async () => {
      const alice = await user(['member']);
      const r = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['reader']], allow_renew: true });
      const res = await exchange(alice.token, r.id);
      assert.equal(res.status, 201, res.text);
      const restricted = res.headers.get('x-subject-token')!;
      assert.deepEqual(roleNames(res), ['reader']);
      assert.equal(res.json.token.project.id, projectId);
      assert.deepEqual(res.json.token.methods.sort(), ['password', 'token']);
      assert.equal(res.json.token.audit_ids.length, 2, 'it carries the subject token’s audit chain');
      const formatter = new TokenFormatter({ keys: server.service.keys, methods: server.config.auth.methods, defaultDomainId: 'default' });
      const data = formatter.parse(restricted);
      assert.deepEqual(data.restriction, { id: r.id, allowRenew: true, allowRescope: false });
      assert.equal(data.projectId, projectId);
      const shown = await validate(restricted);
      assert.equal(shown.status, 200, shown.text);
      assert.deepEqual(roleNames(shown), ['reader']);
      // As the caller's token it works, with the narrowed roles.
      const self = await http(base, 'GET', '/v3/auth/tokens', { token: restricted, subject: restricted });
      assert.equal(self.status, 200, self.text);
    });

    it('caps the expiry by the restriction’s max_lifetime, and never beyond the subject token’s', async () => {
      const alice = await user(['member']);
      const short = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['member']], max_lifetime: 120 });
      const res = await exchange(alice.token, short.id);
      assert.equal(res.status, 201, res.text);
      const expires = Date.parse(res.json.token.expires_at);
      assert.ok(expires <= Date.now() + 121_000 && expires > Date.now() + 100_000, res.json.token.expires_at);
      const subjectExpiry = Date.parse((await validate(alice.token)).json.token.expires_at);
      const long = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['member']], max_lifetime: 31_536_000 });
      const capped = await exchange(alice.token, long.id);
      assert.equal(Date.parse(capped.json.token.expires_at), subjectExpiry);
    });

    it('takes the subject token’s project when the restriction names none, and refuses what does not fit', async () => {
      const alice = await user(['member']);
      const bob = await user(['member']);
      const anyProject = await restriction({ role_ids: [roleIds['reader']] });
      const ok = await exchange(alice.token, anyProject.id);
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.json.token.project.id, projectId);

      const refused = (res: HttpResult, status: number, why: string) => {
        assert.equal(res.status, status, `${why}: ${res.text}`);
        assert.equal(res.headers.get('x-subject-token'), null, why);
      };
      const bobs = await restriction({ user_id: bob.id, role_ids: [roleIds['reader']] });
      refused(await exchange(alice.token, bobs.id), 403, 'another user’s restriction');
      refused(await exchange(alice.token, 'no-such-restriction'), 404, 'no such restriction');
      const elsewhere = await restriction({ domain_id: otherDomainId, role_ids: [roleIds['reader']] });
      refused(await exchange(alice.token, elsewhere.id), 403, 'a restriction of another domain');
      const unscoped = await user(['member'], { scope: 'unscoped' });
      refused(await exchange(unscoped.token, anyProject.id), 400, 'no project to scope to');
      // A restricted token cannot be exchanged again (its power is less than its user's).
      const restricted = ok.headers.get('x-subject-token')!;
      const wider = await restriction({ role_ids: [roleIds['member']] });
      refused(await exchange(restricted, wider.id), 403, 'a restricted subject');
      refused(await http(base, 'POST', `${RESTRICTIONS}/${wider.id}/tokens`), 401, 'no token');
    });

    it('exchanges through RFC 8693 at /v4/oauth2/token, and answers RFC errors', async () => {
      const alice = await user(['member']);
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']] });
      const res = await form({ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: r.id });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'issued_token_type', 'token_type']);
      assert.equal(res.json.token_type, 'Bearer');
      assert.equal(res.json.issued_token_type, ACCESS_TOKEN);
      assert.equal(res.headers.get('x-subject-token'), res.json.access_token);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(res.json.expires_in > 3000 && res.json.expires_in <= 3600, String(res.json.expires_in));
      const shown = await validate(res.json.access_token);
      assert.deepEqual(roleNames(shown), ['reader']);

      const refusals: [Record<string, string>, string][] = [
        [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
        [{ subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: r.id }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: 'urn:example:unknown', restriction_id: r.id }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token: 'garbage', subject_token_type: ACCESS_TOKEN, restriction_id: r.id }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token_type: ACCESS_TOKEN, restriction_id: r.id }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: 'nope' }, 'invalid_request'],
        [{ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: r.id, requested_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, 'invalid_request'],
      ];
      for (const [fields, error] of refusals) {
        const refused = await form(fields);
        assert.equal(refused.status, 400, `${JSON.stringify(fields)}: ${refused.text}`);
        assert.equal(refused.json.error, error, JSON.stringify(fields));
        assert.equal(typeof refused.json.error_description, 'string');
        assert.equal(refused.headers.get('x-subject-token'), null);
      }
      const twice = await http(base, 'POST', '/v4/oauth2/token', {
        body: `grant_type=${encodeURIComponent(EXCHANGE_GRANT)}&grant_type=${encodeURIComponent(EXCHANGE_GRANT)}`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(twice.status, 400);
      assert.equal(twice.json.error, 'invalid_request');
      const json = await http(base, 'POST', '/v4/oauth2/token', { body: { grant_type: EXCHANGE_GRANT } });
      assert.equal(json.status, 400, 'a JSON body is not a token request');
    });
  });

  describe('validation, renew and rescope', () => {
    it('renews only when allow_renew; the renewed token stays restricted', async () => {
      const alice = await user(['member']);
      const renewable = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['reader']], allow_renew: true });
      const fixed = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['reader']], allow_renew: false });
      const a = (await exchange(alice.token, renewable.id)).headers.get('x-subject-token')!;
      const b = (await exchange(alice.token, fixed.id)).headers.get('x-subject-token')!;
      const tokenAuth = (id: string, scope?: unknown) => http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id } }, ...(scope ? { scope } : {}) } } });
      for (const scope of [undefined, { project: { id: projectId } }]) {
        const renewed = await tokenAuth(a, scope);
        assert.equal(renewed.status, 201, renewed.text);
        assert.deepEqual(roleNames(renewed), ['reader'], 'still restricted');
        assert.equal(renewed.json.token.project.id, projectId);
        assert.equal(renewed.json.token.expires_at, (await validate(a)).json.token.expires_at, 'not lengthened');
        const refused = await tokenAuth(b, scope);
        assert.equal(refused.status, 403, refused.text);
        assert.equal(refused.headers.get('x-subject-token'), null);
      }
      // Never out of the restriction: not to a domain, the system or unscoped.
      for (const scope of [{ domain: { id: 'default' } }, { system: { all: true } }, 'unscoped']) {
        assert.equal((await tokenAuth(a, scope)).status, 403, JSON.stringify(scope));
      }
      // Switching allow_renew off in the restriction stops renewals of tokens already out.
      assert.equal((await admin.patch(`${RESTRICTIONS}/${renewable.id}`, { restriction: { allow_renew: false } })).status, 200);
      assert.equal((await tokenAuth(a)).status, 403);
    });

    it('rescopes only when allow_rescope, and only to a project the restriction permits', async () => {
      const { assignments } = server.service.providers;
      const alice = await user(['member']);
      await assignments.grant('UserProject', alice.id, otherProjectId, roleIds['member']!);
      const loose = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']], allow_rescope: true });
      const pinned = await restriction({ user_id: alice.id, project_id: projectId, role_ids: [roleIds['reader']], allow_rescope: true });
      const noRescope = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']], allow_rescope: false, allow_renew: true });
      const tokenAuth = (id: string, project: string) => http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id } }, scope: { project: { id: project } } } } });
      const looseToken = (await exchange(alice.token, loose.id)).headers.get('x-subject-token')!;
      const moved = await tokenAuth(looseToken, otherProjectId);
      assert.equal(moved.status, 201, moved.text);
      assert.equal(moved.json.token.project.id, otherProjectId);
      assert.deepEqual(roleNames(moved), ['reader']);
      const pinnedToken = (await exchange(alice.token, pinned.id)).headers.get('x-subject-token')!;
      const outOfReach = await tokenAuth(pinnedToken, otherProjectId);
      assert.equal(outOfReach.status, 403, outOfReach.text);
      assert.equal(outOfReach.headers.get('x-subject-token'), null);
      const fixedToken = (await exchange(alice.token, noRescope.id)).headers.get('x-subject-token')!;
      const noFlag = await tokenAuth(fixedToken, otherProjectId);
      assert.equal(noFlag.status, 403, noFlag.text);
      assert.equal(noFlag.headers.get('x-subject-token'), null);
      // Nor to a project of another domain, even with allow_rescope and no project named.
      await assignments.grant('UserProject', alice.id, otherDomainProjectId, roleIds['member']!);
      assert.equal((await tokenAuth(looseToken, otherDomainProjectId)).status, 403);
      assert.equal((await tokenAuth(fixedToken, projectId)).status, 201, 'the same project is a renewal');
    });

    it('takes a revoked role away from an existing restricted token at once', async () => {
      const { assignments } = server.service.providers;
      const alice = await user(['member', 'auditor']);
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['member'], roleIds['auditor']] });
      const restricted = (await exchange(alice.token, r.id)).headers.get('x-subject-token')!;
      assert.deepEqual(roleNames(await validate(restricted)), ['auditor', 'member', 'reader']);
      // Through the API, as an operator would; the validation cache must notice.
      const revoked = await admin.del(`/v3/projects/${projectId}/users/${alice.id}/roles/${roleIds['auditor']}`);
      assert.equal(revoked.status, 204, revoked.text);
      assert.deepEqual(roleNames(await validate(restricted)), ['member', 'reader']);
      assert.ok(await assignments.revoke(alice.id, { projectId }, roleIds['member']!, false));
      assert.equal((await validate(restricted)).status, 404, 'no role left: not a valid token');
      assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: restricted, subject: restricted })).status, 401);
    });

    it('grants nothing for a role the restriction names and the user lacks', async () => {
      const alice = await user(['member']);
      const onlyLacking = await restriction({ user_id: alice.id, role_ids: [roleIds['auditor']] });
      const none = await exchange(alice.token, onlyLacking.id);
      assert.equal(none.status, 401, none.text);
      assert.equal(none.headers.get('x-subject-token'), null);
      const mixed = await restriction({ user_id: alice.id, role_ids: [roleIds['auditor'], roleIds['reader']] });
      const res = await exchange(alice.token, mixed.id);
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(roleNames(res), ['reader']);
    });

    it('stops validating a restricted token when its restriction is deleted or no longer covers it', async () => {
      const alice = await user(['member']);
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']] });
      const restricted = (await exchange(alice.token, r.id)).headers.get('x-subject-token')!;
      assert.equal((await validate(restricted)).status, 200);
      assert.equal((await admin.patch(`${RESTRICTIONS}/${r.id}`, { restriction: { project_id: otherProjectId } })).status, 200);
      assert.equal((await validate(restricted)).status, 404, 'moved to another project');
      assert.equal((await admin.patch(`${RESTRICTIONS}/${r.id}`, { restriction: { project_id: null } })).status, 200);
      assert.equal((await validate(restricted)).status, 200, 'covers it again');
      assert.equal((await admin.del(`${RESTRICTIONS}/${r.id}`)).status, 204);
      const gone = await validate(restricted);
      assert.equal(gone.status, 404, gone.text);
      assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: restricted, subject: alice.token })).status, 401);
    });

    it('cannot mint credentials or delegations that would carry the user’s full roles (403, nothing created)', async () => {
      const alice = await user(['member']);
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']] });
      const restricted = client(base, (await exchange(alice.token, r.id)).headers.get('x-subject-token')!);
      const appCred = await restricted.post(`/v3/users/${alice.id}/application_credentials`, { application_credential: { name: 'escape', roles: [{ name: 'member' }] } });
      assert.equal(appCred.status, 403, appCred.text);
      assert.deepEqual((await alice.api.get(`/v3/users/${alice.id}/application_credentials`)).json.application_credentials, []);
      const ec2 = await restricted.post('/v3/credentials', { credential: { type: 'ec2', user_id: alice.id, project_id: projectId, blob: JSON.stringify({ access: 'a-restricted', secret: 's' }) } });
      assert.equal(ec2.status, 403, ec2.text);
      const bob = await user(['member']);
      const trust = await restricted.post('/v3/OS-TRUST/trusts', { trust: { trustor_user_id: alice.id, trustee_user_id: bob.id, project_id: projectId, impersonation: false, roles: [{ name: 'member' }] } });
      assert.equal(trust.status, 403, trust.text);
      assert.deepEqual((await admin.get(`/v3/OS-TRUST/trusts?trustor_user_id=${alice.id}`)).json.trusts, []);
      assert.deepEqual((await admin.get(`/v3/credentials?user_id=${alice.id}`)).json.credentials, []);
    });

    it('notices a restriction changed by another writer of the database (change triggers, not this process)', async () => {
      const alice = await user(['member']);
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['reader'], roleIds['member']] });
      const restricted = (await exchange(alice.token, r.id)).headers.get('x-subject-token')!;
      assert.deepEqual(roleNames(await validate(restricted)), ['member', 'reader']);
      // The suite's own connection, without the server's write tracking: only the database's
      // NOTIFY can tell the server's validation cache.
      const raw = ctx.db().kysely;
      await raw.deleteFrom('keystone_ts_token_restriction_role').where('restriction_id', '=', r.id).where('role_id', '=', roleIds['member']!).execute();
      let roles: string[] = [];
      for (let i = 0; i < 50; i++) {
        roles = roleNames(await validate(restricted));
        if (roles.length === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(roles, ['reader']);
      await raw.deleteFrom('keystone_ts_token_restriction').where('id', '=', r.id).execute();
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        status = (await validate(restricted)).status;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 404);
    });

    it('puts the restriction into the policy input (credentials.restriction, credentials.attributes)', async () => {
      const alice = await user(['member']);
      // The decision API is itself an action the restriction must list.
      const r = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']], actions: ['identity:get_*', 'keystone_ts:authz_decision'], source_cidrs: ['127.0.0.0/8'], allow_renew: true });
      const restricted = (await exchange(alice.token, r.id)).headers.get('x-subject-token')!;
      const decision = await http(base, 'POST', '/v4/authz/decision', { token: restricted, body: { action: 'identity:get_project', target: { project: { id: projectId } } } });
      assert.equal(decision.status, 200, decision.text);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the decision log is written asynchronously
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { input: { credentials: Record<string, unknown> } });
      const restrictedLine = lines.reverse().find((line) => line.input.credentials['user_id'] === alice.id);
      assert.ok(restrictedLine, 'the decision was logged');
      assert.deepEqual(restrictedLine.input.credentials['restriction'], {
        id: r.id,
        actions: ['identity:get_*', 'keystone_ts:authz_decision'],
        source_cidrs: ['127.0.0.0/8'],
        allow_renew: true,
        allow_rescope: false,
        role_ids: [roleIds['reader']],
        inline_policy: null,
      });
      assert.deepEqual(restrictedLine.input.credentials['attributes'], {});
      assert.deepEqual(restrictedLine.input.credentials['roles'], ['reader']);
      // An ordinary token carries restriction null.
      await http(base, 'POST', '/v4/authz/decision', { token: alice.token, body: { action: 'identity:get_project', target: { project: { id: projectId } } } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const plain = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { input: { credentials: Record<string, unknown> } }).reverse().find((line) => line.input.credentials['user_id'] === alice.id);
      assert.equal(plain?.input.credentials['restriction'], null);
    });
  });

  describe('an operator’s rule for the exchange', () => {
    it('sees the restriction as target: here, only restrictions naming their user may be used', async function () {
      this.timeout(20_000);
      const system = client(base, (await adminLogin(base, { system: { all: true } })).token);
      const upload = (rules: Record<string, string>) => system.put('/v4/policy/bundles/default', { rules });
      const alice = await user(['member']);
      const named = await restriction({ user_id: alice.id, role_ids: [roleIds['reader']] });
      const anyone = await restriction({ role_ids: [roleIds['reader']] });
      assert.equal((await upload({ 'keystone_ts:create_restricted_token': 'user_id:%(target.restriction.user_id)s' })).status, 201);
      try {
        let status = 0;
        for (let i = 0; i < 100 && status !== 403; i++) {
          status = (await exchange(alice.token, anyone.id)).status;
          if (status !== 403) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assertDenied(await exchange(alice.token, anyone.id), 'keystone_ts:create_restricted_token');
        const viaOAuth = await form({ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: anyone.id });
        assert.equal(viaOAuth.status, 400);
        assert.equal(viaOAuth.json.error, 'invalid_request');
        assert.equal((await exchange(alice.token, named.id)).status, 201);
        assert.equal((await form({ grant_type: EXCHANGE_GRANT, subject_token: alice.token, subject_token_type: ACCESS_TOKEN, restriction_id: named.id })).status, 200);
      } finally {
        assert.equal((await upload({})).status, 201);
        let status = 0;
        for (let i = 0; i < 100 && status !== 201; i++) {
          status = (await exchange(alice.token, anyone.id)).status;
          if (status !== 201) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(status, 201, 'the defaults are back');
      }
    });
  });

  describe('property: a restricted token never holds a role its user lacks', () => {
    it('over random role sets (seeded)', async function () {
      this.timeout(120_000);
      const { assignments } = server.service.providers;
      const pool: string[] = [];
      for (let i = 0; i < 6; i++) pool.push((await assignments.createRole({ name: `prop-${i}` })).id);
      const random = seededRandom(0x5eed);
      const subset = () => pool.filter(() => random() < 0.5);
      for (let round = 0; round < 20; round++) {
        const held = subset();
        const named = subset();
        const alice = await user(['reader']);
        for (const id of held) await assignments.grant('UserProject', alice.id, projectId, id);
        const r = await restriction({ user_id: alice.id, role_ids: named });
        const res = await exchange(alice.token, r.id);
        const expected = named.filter((id) => held.includes(id)).sort();
        if (expected.length === 0) {
          assert.equal(res.status, 401, `round ${round}: held ${held} named ${named}: ${res.text}`);
          continue;
        }
        assert.equal(res.status, 201, res.text);
        const got = (res.json.token.roles as { id: string }[]).map((role) => role.id).sort();
        assert.deepEqual(got, expected, `round ${round}`);
        const userRoles = new Set([...held, roleIds['reader']]);
        assert.ok(got.every((id) => userRoles.has(id)));
      }
    });
  });
});

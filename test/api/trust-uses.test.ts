import assert from 'node:assert/strict';
/**
 * remaining_uses and expiry where timing matters: the last use goes to exactly one of two
 * concurrent logins, and a token stops validating when its trust expires (a cached validation
 * must not outlive the trust).
 */
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, startTestServer, type HttpResult, type TestServer } from '../support/server.js';


interface TestUser {
  readonly id: string;
  readonly password: string;
}

describeEachDatabase('OS-TRUST: remaining uses and expiry under concurrency and time', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let counter = 0;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), { 'trust.allow_redelegation': 'true' });
    base = server.url;
    admin = (await adminLogin(base)).token;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, token = admin, body?: unknown) => http(base, method, path, { token, body });
  const unique = (prefix: string) => `${prefix}-${++counter}`;
  const newUser = async (): Promise<TestUser> => {
    const name = unique('trust-user');
    const user = await server.service.providers.identity.createUser({ name, domain_id: 'default', password: `pw-${name}` });
    return { id: user.id, password: `pw-${name}` };
  };
  const newProject = async () => {
    const res = await call('POST', '/v3/projects', admin, { project: { name: unique('trust-p') } });
    assert.equal(res.status, 201, res.text);
    return res.json.project as { id: string; name: string };
  };
  const newRole = async (extra: Record<string, unknown> = {}) => {
    const res = await call('POST', '/v3/roles', admin, { role: { name: unique('trust-role'), ...extra } });
    assert.equal(res.status, 201, res.text);
    return res.json.role as { id: string; name: string };
  };
  const grant = async (projectId: string, userId: string, roleId: string) =>
    assert.equal((await call('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${roleId}`)).status, 204);
  const login = (user: TestUser, scope?: unknown) => http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, user.password, scope) });
  const tokenOf = async (user: TestUser, scope?: unknown) => {
    const res = await login(user, scope);
    assert.equal(res.status, 201, res.text);
    return res.headers.get('x-subject-token')!;
  };
  const trustLogin = (user: TestUser, trustId: string) => login(user, { 'OS-TRUST:trust': { id: trustId } });
  const validate = (subject: string) => http(base, 'GET', '/v3/auth/tokens', { token: admin, subject });
  const assertError = (res: HttpResult, code: number, message: string) => {
    assert.equal(res.status, code, res.text);
    // Policy denials add `violations`; the Keystone members must match exactly.
    const { code: gotCode, message: gotMessage } = res.json.error;
    assert.deepEqual({ code: gotCode, message: gotMessage }, { code, message });
  };

  /** A trustor holding `delegated` and `kept` on a fresh project, with its project token, and a trustee. */
  async function scenario() {
    const project = await newProject();
    const trustor = await newUser();
    const trustee = await newUser();
    const delegated = await newRole();
    const kept = await newRole();
    await grant(project.id, trustor.id, delegated.id);
    await grant(project.id, trustor.id, kept.id);
    const trustorToken = await tokenOf(trustor, { project: { id: project.id } });
    const body = (extra: Record<string, unknown> = {}) => ({
      trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id, project_id: project.id, impersonation: true, roles: [{ id: delegated.id }], ...extra },
    });
    const create = async (extra: Record<string, unknown> = {}, token = trustorToken) => {
      const res = await call('POST', '/v3/OS-TRUST/trusts', token, body(extra));
      assert.equal(res.status, 201, res.text);
      return res.json.trust as { id: string; redelegation_count: number; redelegated_trust_id: string | null; expires_at: string | null };
    };
    return { project, trustor, trustee, delegated, kept, trustorToken, body, create };
  }

  it('spends remaining_uses, and the last use is void at once (Keystone quirk)', async () => {
    const s = await scenario();
    const trust = await s.create({ remaining_uses: 2 });
    const first = await trustLogin(s.trustee, trust.id);
    assert.equal(first.status, 201);
    assert.equal((await validate(first.headers.get('x-subject-token')!)).status, 200);
    assert.equal((await call('GET', `/v3/OS-TRUST/trusts/${trust.id}`)).json.trust.remaining_uses, 1);
    const last = await trustLogin(s.trustee, trust.id);
    assert.equal(last.status, 201);
    assertError(await validate(last.headers.get('x-subject-token')!), 404, `Could not find trust: ${trust.id}.`);
    assert.equal((await trustLogin(s.trustee, trust.id)).status, 401);
    assertError(await call('GET', `/v3/OS-TRUST/trusts/${trust.id}`), 404, `Could not find trust: ${trust.id}.`);
  });

  it('gives the last use to exactly one of two concurrent requests', async () => {
    const s = await scenario();
    for (let round = 0; round < 3; round++) {
      const trust = await s.create({ remaining_uses: 1, expires_at: new Date(Date.now() + 3600_000 + round * 1000).toISOString() });
      const results = await Promise.all([trustLogin(s.trustee, trust.id), trustLogin(s.trustee, trust.id)]);
      const statuses = results.map((r) => r.status).sort();
      assert.equal(statuses.filter((code) => code === 201).length, 1, JSON.stringify(statuses));
      // The loser either saw the trust used up (401) or lost the race to spend it (403).
      assert.ok([401, 403].includes(statuses[1]!), JSON.stringify(statuses));
      const loser = results.find((r) => r.status !== 201)!;
      if (loser.status === 403) assert.equal(loser.json.error.message, `No remaining uses for trust: ${trust.id}.`);
    }
  });

  it('stops working when the trust expires', async () => {
    const s = await scenario();
    const expires = new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000);
    const trust = await s.create({ expires_at: expires.toISOString() });
    const res = await trustLogin(s.trustee, trust.id);
    assert.equal(res.status, 201, res.text);
    const text = res.headers.get('x-subject-token')!;
    assert.equal((await validate(text)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, expires.getTime() - Date.now() + 1100));
    assertError(await validate(text), 404, `Could not find trust: ${trust.id}.`);
    assert.equal((await trustLogin(s.trustee, trust.id)).status, 401);
  });

});

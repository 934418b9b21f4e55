import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, startTestServer, type HttpResult, type TestServer } from '../support/server.js';

const GENERIC_403 = 'You are not authorized to perform the requested action.';

interface TestUser {
  readonly id: string;
  readonly password: string;
}

/**
 * Redelegation as Keystone's trust manager rules it (_validate_redelegation): a trustee holding a
 * trust-scoped token may create the next link of a chain, never wider than the link it holds.
 */
describeEachDatabase('OS-TRUST redelegation', (ctx) => {
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
  const unique = (prefix: string) => `${prefix}-${++counter}`;
  const newUser = async (): Promise<TestUser> => {
    const name = unique('redelegation-user');
    const user = await server.service.providers.identity.createUser({ name, domain_id: 'default', password: `pw-${name}` });
    return { id: user.id, password: `pw-${name}` };
  };
  const created = async (path: string, body: unknown, member: string) => {
    const res = await call('POST', path, admin, body);
    assert.equal(res.status, 201, res.text);
    return res.json[member] as { id: string; name: string };
  };
  const grant = async (projectId: string, userId: string, roleId: string) =>
    assert.equal((await call('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${roleId}`)).status, 204);
  const login = (user: TestUser, scope?: unknown) => http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, user.password, scope) });
  const tokenOf = async (user: TestUser, scope?: unknown) => {
    const res = await login(user, scope);
    assert.equal(res.status, 201, res.text);
    return res.headers.get('x-subject-token')!;
  };
  const trustTokenOf = (user: TestUser, trustId: string) => tokenOf(user, { 'OS-TRUST:trust': { id: trustId } });
  const assertError = (res: HttpResult, code: number, message: string) => {
    assert.equal(res.status, code, res.text);
    assert.deepEqual({ code: res.json.error.code, message: res.json.error.message }, { code, message });
  };
  const trustCount = async () => (await call('GET', '/v3/OS-TRUST/trusts')).json.trusts.length as number;

  /** A trustor holding `delegated` and `kept` on a fresh project, its project token, and a trustee. */
  async function scenario() {
    const project = await created('/v3/projects', { project: { name: unique('redelegation-p') } }, 'project');
    const trustor = await newUser();
    const trustee = await newUser();
    const delegated = await created('/v3/roles', { role: { name: unique('redelegation-role') } }, 'role');
    const kept = await created('/v3/roles', { role: { name: unique('redelegation-role') } }, 'role');
    await grant(project.id, trustor.id, delegated.id);
    await grant(project.id, trustor.id, kept.id);
    const trustorToken = await tokenOf(trustor, { project: { id: project.id } });
    const body = (extra: Record<string, unknown> = {}) => ({
      trust: { trustor_user_id: trustor.id, trustee_user_id: trustee.id, project_id: project.id, impersonation: true, roles: [{ id: delegated.id }], ...extra },
    });
    const create = async (extra: Record<string, unknown> = {}) => {
      const res = await call('POST', '/v3/OS-TRUST/trusts', trustorToken, body(extra));
      assert.equal(res.status, 201, res.text);
      return res.json.trust as { id: string; redelegation_count: number };
    };
    return { project, trustor, trustee, delegated, kept, trustorToken, body, create };
  }

  it('redelegates along a chain within the parent’s roles, expiry, impersonation and depth', async () => {
    const s = await scenario();
    const third = await newUser();
    const parentExpiry = new Date(Date.now() + 3600_000).toISOString().slice(0, 19);
    const parent = await s.create({ allow_redelegation: true, expires_at: parentExpiry });
    assert.equal(parent.redelegation_count, 3, '[trust] max_redelegation_count');
    const parentToken = await trustTokenOf(s.trustee, parent.id);
    // The caller of a trust-scoped token is the trustee (impersonation only changes how the token
    // is shown), so the trustee is the trustor of the next link, delegating the original trustor's roles.
    const chained = (extra: Record<string, unknown> = {}) =>
      s.body({ trustor_user_id: s.trustee.id, trustee_user_id: third.id, allow_redelegation: true, ...extra });
    const post = (body: unknown) => call('POST', '/v3/OS-TRUST/trusts', parentToken, body);

    const before = await trustCount();
    assertError(await post(chained({ roles: [{ id: s.kept.id }] })), 403, GENERIC_403);
    assertError(await post(chained({ expires_at: new Date(Date.now() + 7200_000).toISOString() })), 403, GENERIC_403);
    assertError(await post(chained({ remaining_uses: 1 })), 400, 'remaining_uses must not be set if redelegation is allowed');
    assertError(await post(chained({ redelegation_count: 1 })), 403, GENERIC_403);
    assert.equal(await trustCount(), before, 'refused links are not stored');

    const child = await post(chained());
    assert.equal(child.status, 201, child.text);
    assert.equal(child.json.trust.redelegated_trust_id, parent.id);
    assert.equal(child.json.trust.redelegation_count, 2);
    assert.equal(child.json.trust.expires_at, `${parentExpiry}.000000Z`, 'the parent’s expiry is inherited');
    const childLogin = await login(third, { 'OS-TRUST:trust': { id: child.json.trust.id } });
    assert.equal(childLogin.status, 201, childLogin.text);
    assert.equal(childLogin.json.token.user.id, s.trustee.id, 'the child’s trustor is shown in the user’s place');
    // The child's trustor holds no role on the project: the original trustor's roles are what count.
    assert.deepEqual(childLogin.json.token.roles.map((r: { id: string }) => r.id), [s.delegated.id]);

    // A terminating link: allow_redelegation false sets the count to 0, so nothing can follow it.
    const terminator = await post(chained({ allow_redelegation: false, expires_at: new Date(Date.now() + 1800_000).toISOString() }));
    assert.equal(terminator.status, 201, terminator.text);
    assert.equal(terminator.json.trust.redelegation_count, 0);
    const fourth = await newUser();
    const terminatorToken = await trustTokenOf(third, terminator.json.trust.id);
    assertError(await call('POST', '/v3/OS-TRUST/trusts', terminatorToken, s.body({ trustor_user_id: third.id, trustee_user_id: fourth.id })), 403, GENERIC_403);

    // The chain holds only while the original trustor holds the role.
    assert.equal((await call('DELETE', `/v3/projects/${s.project.id}/users/${s.trustor.id}/roles/${s.delegated.id}`)).status, 204);
    assert.equal((await login(third, { 'OS-TRUST:trust': { id: child.json.trust.id } })).status, 403);
    await grant(s.project.id, s.trustor.id, s.delegated.id);

    // Deleting the parent takes its children with it, and their tokens.
    assert.equal((await call('DELETE', `/v3/OS-TRUST/trusts/${parent.id}`, s.trustorToken)).status, 204);
    assert.equal((await call('GET', `/v3/OS-TRUST/trusts/${child.json.trust.id}`)).status, 404);
    const validated = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: childLogin.headers.get('x-subject-token')! });
    assert.equal(validated.status, 404, validated.text);
  });

  it('never widens impersonation on redelegation, and caps the requested depth', async () => {
    const s = await scenario();
    assertError(await call('POST', '/v3/OS-TRUST/trusts', s.trustorToken, s.body({ allow_redelegation: true, redelegation_count: 4 })), 403, GENERIC_403);
    const parent = await s.create({ allow_redelegation: true, impersonation: false });
    const parentToken = await trustTokenOf(s.trustee, parent.id);
    const third = await newUser();
    const link = (impersonation: boolean, extra: Record<string, unknown> = {}) => ({
      trust: { trustor_user_id: s.trustee.id, trustee_user_id: third.id, project_id: s.project.id, impersonation, roles: [{ id: s.delegated.id }], ...extra },
    });
    assertError(await call('POST', '/v3/OS-TRUST/trusts', parentToken, link(true)), 403, GENERIC_403);
    // A parent without expiry bounds nothing: the child may set one.
    const expires = new Date(Date.now() + 3600_000).toISOString().slice(0, 19);
    const ok = await call('POST', '/v3/OS-TRUST/trusts', parentToken, link(false, { expires_at: expires }));
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.trust.redelegated_trust_id, parent.id);
    assert.equal(ok.json.trust.expires_at, `${expires}.000000Z`);
  });
});

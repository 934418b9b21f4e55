import assert from 'node:assert/strict';
import { Decoder } from '@msgpack/msgpack';
import { MultiFernet } from '../../src/token/fernet.js';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/OS-TRUST/trusts and trust-scoped tokens', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let projectId: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    const login = await adminLogin(base);
    admin = login.token;
    projectId = login.body.token.project.id;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, token: string, body?: unknown) => http(base, method, path, { token, body });
  const validate = (subject: string) => http(base, 'GET', '/v3/auth/tokens', { token: admin, subject });

  let counter = 0;
  /** A trustor holding `member` (which implies `reader`) and a trustee holding `reader`, both on the admin project. */
  async function parties() {
    const n = ++counter;
    const trustor = await projectUserToken(server, `trustor-${n}`, 'member');
    const trustee = await projectUserToken(server, `trustee-${n}`, 'reader');
    return { trustor, trustee, trusteePassword: `pw-trustee-${n}` };
  }

  async function createTrust(p: Awaited<ReturnType<typeof parties>>, extra: Record<string, unknown> = {}) {
    const res = await call('POST', '/v3/OS-TRUST/trusts', p.trustor.token, {
      trust: { trustor_user_id: p.trustor.userId, trustee_user_id: p.trustee.userId, project_id: projectId, impersonation: true, roles: [{ name: 'member' }], ...extra },
    });
    assert.equal(res.status, 201, res.text);
    return res.json.trust;
  }

  const trustToken = (p: Awaited<ReturnType<typeof parties>>, trustId: string) =>
    http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: p.trustee.userId }, p.trusteePassword, { 'OS-TRUST:trust': { id: trustId } }) });

  it('creates, shows, lists and deletes a trust with Keystone’s body', async () => {
    const p = await parties();
    const expires = new Date(Date.now() + 3600_000);
    expires.setUTCMilliseconds(0);
    const trust = await createTrust(p, { expires_at: expires.toISOString().replace('.000Z', 'Z') });
    assert.deepEqual(Object.keys(trust), [
      'id', 'trustor_user_id', 'trustee_user_id', 'project_id', 'impersonation', 'expires_at', 'remaining_uses', 'deleted_at',
      'redelegated_trust_id', 'redelegation_count', 'roles', 'roles_links', 'links',
    ]);
    assert.match(trust.id, /^[0-9a-f]{32}$/);
    assert.equal(trust.expires_at, `${expires.toISOString().slice(0, 19)}.000000Z`);
    assert.equal(trust.remaining_uses, null);
    assert.equal(trust.redelegation_count, 0);
    assert.deepEqual(trust.roles.map((r: { name: string }) => r.name), ['member']);
    assert.equal(trust.roles[0].links.self, `${base}/v3/roles/${trust.roles[0].id}`);
    assert.deepEqual(trust.roles_links, { self: `${base}/v3/${trust.id}/roles`, next: null, previous: null });
    assert.deepEqual(trust.links, { self: `${base}/v3/OS-TRUST/trusts/${trust.id}` });

    const shown = await call('GET', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustee.token);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.trust, trust);

    const byTrustor = await call('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${p.trustor.userId}`, p.trustor.token);
    assert.equal(byTrustor.status, 200, byTrustor.text);
    assert.deepEqual(byTrustor.json.trusts.map((t: { id: string }) => t.id), [trust.id]);
    assert.equal(byTrustor.json.trusts[0].roles, undefined);
    const byTrustee = await call('GET', `/v3/OS-TRUST/trusts?trustee_user_id=${p.trustee.userId}`, p.trustee.token);
    assert.deepEqual(byTrustee.json.trusts.map((t: { id: string }) => t.id), [trust.id]);
    // A user lists only the trusts they are party to; listing everything is the admin's.
    assert.equal((await call('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${p.trustor.userId}`, p.trustee.token)).status, 403);
    assert.equal((await call('GET', '/v3/OS-TRUST/trusts', p.trustor.token)).status, 403);
    const all = await call('GET', '/v3/OS-TRUST/trusts', admin);
    assert.ok(all.json.trusts.some((t: { id: string }) => t.id === trust.id));

    const roles = await call('GET', `/v3/OS-TRUST/trusts/${trust.id}/roles`, p.trustor.token);
    assert.equal(roles.status, 200, roles.text);
    assert.deepEqual(roles.json.roles, trust.roles);
    assert.equal((await call('GET', `/v3/OS-TRUST/trusts/${trust.id}/roles/${trust.roles[0].id}`, p.trustor.token)).json.role.name, 'member');
    assert.equal((await call('HEAD', `/v3/OS-TRUST/trusts/${trust.id}/roles/${trust.roles[0].id}`, p.trustor.token)).status, 200);
    const reader = await call('GET', `/v3/OS-TRUST/trusts/${trust.id}/roles/${(await server.service.providers.assignments.findGlobalRoleByName('reader'))!.id}`, p.trustor.token);
    assert.equal(reader.status, 404);

    // The trustee cannot delete; the trustor can, and the trust is gone.
    assert.equal((await call('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustee.token)).status, 403);
    assert.equal((await call('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustor.token)).status, 204);
    const gone = await call('GET', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustor.token);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.message, `Could not find trust: ${trust.id}.`);
    assert.equal((await call('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustor.token)).status, 404);
  });

  it('refuses what Keystone refuses at creation', async () => {
    const p = await parties();
    const body = (extra: Record<string, unknown>) => ({
      trust: { trustor_user_id: p.trustor.userId, trustee_user_id: p.trustee.userId, project_id: projectId, impersonation: false, roles: [{ name: 'member' }], ...extra },
    });
    const post = (extra: Record<string, unknown>, token = p.trustor.token) => call('POST', '/v3/OS-TRUST/trusts', token, body(extra));
    // Someone else as trustor: the policy rule itself.
    assert.equal((await post({}, p.trustee.token)).status, 403);
    assert.equal((await post({ trustee_user_id: 'nobody' })).status, 404);
    const notHeld = await post({ roles: [{ name: 'admin' }] });
    assert.equal(notHeld.status, 404);
    assert.match(notHeld.json.error.message, /^Could not find role: /);
    assert.equal((await post({ roles: [] })).status, 403);
    assert.equal((await post({ expires_at: 'bad.123Z' })).status, 400);
    const past = await post({ expires_at: '2000-01-01T00:00:00Z' });
    assert.equal(past.status, 400);
    assert.match(past.json.error.message, /^The 'expires_at' must not be before now\./);
    assert.equal((await post({ remaining_uses: 0 })).status, 400);
    assert.equal((await post({ impersonation: undefined })).status, 400);
  });

  it('issues trust-scoped tokens: payload 3, the trustor shown with impersonation, the trust’s roles', async () => {
    const p = await parties();
    const trust = await createTrust(p);
    const res = await trustToken(p, trust.id);
    assert.equal(res.status, 201, res.text);
    const token = res.json.token;
    assert.deepEqual(token['OS-TRUST:trust'], { id: trust.id, trustor_user: { id: p.trustor.userId }, trustee_user: { id: p.trustee.userId }, impersonation: true });
    assert.equal(token.user.id, p.trustor.userId);
    assert.equal(token.project.id, projectId);
    assert.equal(token.is_domain, undefined);
    assert.deepEqual(token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    assert.deepEqual(Object.keys(token.roles[0]), ['id', 'name', 'domain_id', 'description', 'options']);
    const text = res.headers.get('x-subject-token')!;
    const payload = new Decoder().decode(new MultiFernet(server.service.keys.keys()).decrypt(text).plaintext) as unknown[];
    assert.equal(payload[0], 3);
    const validated = await validate(text);
    assert.equal(validated.status, 200, validated.text);
    assert.deepEqual(validated.json.token['OS-TRUST:trust'], token['OS-TRUST:trust']);

    // Without impersonation the token shows the trustee.
    const plain = await createTrust(p, { impersonation: false });
    const plainToken = await trustToken(p, plain.id);
    assert.equal(plainToken.status, 201, plainToken.text);
    assert.equal(plainToken.json.token.user.id, p.trustee.userId);
    assert.equal(plainToken.json.token['OS-TRUST:trust'].impersonation, false);

    // Only the trustee may use the trust.
    const other = await parties();
    const stranger = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: other.trustee.userId }, other.trusteePassword, { 'OS-TRUST:trust': { id: trust.id } }) });
    assert.equal(stranger.status, 403);

    // A trust token cannot be rescoped.
    const rescope = await http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: text } }, scope: { project: { id: projectId } } } } });
    assert.equal(rescope.status, 403);
  });

  it('consumes remaining uses and refuses an exhausted trust', async () => {
    const p = await parties();
    const trust = await createTrust(p, { remaining_uses: 2 });
    assert.equal(trust.remaining_uses, 2);
    const first = await trustToken(p, trust.id);
    assert.equal(first.status, 201, first.text);
    assert.equal((await validate(first.headers.get('x-subject-token')!)).status, 200);
    const last = await trustToken(p, trust.id);
    assert.equal(last.status, 201, last.text);
    // Keystone's quirk: the token of the last use fails validation at once (the trust reads as gone).
    const afterLast = await validate(last.headers.get('x-subject-token')!);
    assert.equal(afterLast.status, 404);
    assert.equal(afterLast.json.error.message, `Could not find trust: ${trust.id}.`);
    assert.equal((await trustToken(p, trust.id)).status, 401);
  });

  it('refuses an expired trust and revokes the tokens of a deleted one', async () => {
    const p = await parties();
    const trust = await createTrust(p);
    const issued = await trustToken(p, trust.id);
    const text = issued.headers.get('x-subject-token')!;
    assert.equal((await validate(text)).status, 200);
    assert.equal((await call('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, p.trustor.token)).status, 204);
    assert.equal((await validate(text)).status, 404);
    assert.equal((await trustToken(p, trust.id)).status, 401);
    const events = await call('GET', '/v3/OS-REVOKE/events', admin);
    assert.ok(events.json.events.some((e: Record<string, unknown>) => e['OS-TRUST:trust_id'] === trust.id), events.text);

    const soon = await createTrust(p, { expires_at: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await trustToken(p, soon.id)).status, 201);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal((await trustToken(p, soon.id)).status, 401);
    assert.equal((await call('GET', `/v3/OS-TRUST/trusts/${soon.id}`, p.trustor.token)).status, 404);
  });

  it('stops validating a trust token when the trustor loses the delegated role', async () => {
    const p = await parties();
    const trust = await createTrust(p);
    const text = (await trustToken(p, trust.id)).headers.get('x-subject-token')!;
    const member = (await server.service.providers.assignments.findGlobalRoleByName('member'))!;
    assert.equal((await call('DELETE', `/v3/projects/${projectId}/users/${p.trustor.userId}/roles/${member.id}`, admin)).status, 204);
    const res = await validate(text);
    assert.equal(res.status, 403);
    assert.equal((await trustToken(p, trust.id)).status, 403);
  });
});

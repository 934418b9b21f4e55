import assert from 'node:assert/strict';
import { Decoder } from '@msgpack/msgpack';
import { MultiFernet } from '../../src/token/fernet.js';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const GENERIC_401 = 'The request you have made requires authentication.';
const NAIVE_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

describeEachDatabase('/v3/users/{id}/application_credentials, access rules and the application_credential method', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let adminUserId: string;
  let projectId: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    const login = await adminLogin(base);
    admin = login.token;
    adminUserId = login.body.token.user.id;
    projectId = login.body.token.project.id;
  });
  after(async () => server?.close());

  const call = (method: string, path: string, token: string, body?: unknown, headers?: Record<string, string>) => http(base, method, path, { token, body, headers });
  const appCredAuth = (credential: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['application_credential'], application_credential: credential }, ...extra } } });
  const validate = (subject: string, headers: Record<string, string> = {}) => http(base, 'GET', '/v3/auth/tokens', { token: admin, subject, headers });

  let userCounter = 0;
  /** A fresh member of the admin project with a project-scoped token. */
  const member = (role = 'member') => projectUserToken(server, `ac-user-${++userCounter}`, role);

  async function createAppCred(user: { token: string; userId: string }, body: Record<string, unknown>) {
    const res = await call('POST', `/v3/users/${user.userId}/application_credentials`, user.token, { application_credential: body });
    assert.equal(res.status, 201, res.text);
    return res.json.application_credential;
  }

  /** The msgpack payload inside a Fernet token, decrypted with the server's keys. */
  function payloadOf(tokenText: string): unknown[] {
    const { plaintext } = new MultiFernet(server.service.keys.keys()).decrypt(tokenText);
    return new Decoder().decode(plaintext) as unknown[];
  }

  it('creates with Keystone’s body, shows the secret only once and stores only its hash', async () => {
    const user = await member();
    const created = await createAppCred(user, { name: 'ac1', description: 'ci' });
    assert.deepEqual(Object.keys(created), ['id', 'name', 'description', 'user_id', 'project_id', 'system', 'expires_at', 'unrestricted', 'roles', 'secret', 'links']);
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.equal(created.user_id, user.userId);
    assert.equal(created.project_id, projectId);
    assert.equal(created.system, null);
    assert.equal(created.expires_at, null);
    assert.equal(created.unrestricted, null);
    // 64 random bytes, urlsafe base64 without padding.
    assert.match(created.secret, /^[A-Za-z0-9_-]{86}$/);
    // Defaults to the token's roles, rendered as full role dicts.
    assert.deepEqual(created.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    assert.deepEqual(Object.keys(created.roles[0]), ['id', 'name', 'domain_id', 'description', 'options']);
    assert.equal(created.links.self, `${base}/v3/application_credentials/${created.id}`);

    const row = await server.service.db.kysely.selectFrom('application_credential').select(['secret_hash']).where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.match(row.secret_hash, /^\$2b\$/);
    assert.ok(!row.secret_hash.includes(created.secret));

    const shown = await call('GET', `/v3/users/${user.userId}/application_credentials/${created.id}`, user.token);
    assert.equal(shown.status, 200);
    const { secret: _secret, ...withoutSecret } = created;
    assert.deepEqual(shown.json.application_credential, withoutSecret);
    const head = await call('HEAD', `/v3/users/${user.userId}/application_credentials/${created.id}`, user.token);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');

    await createAppCred(user, { name: 'ac2' });
    const listed = await call('GET', `/v3/users/${user.userId}/application_credentials`, user.token);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.application_credentials.map((a: { name: string }) => a.name).sort(), ['ac1', 'ac2']);
    assert.ok(listed.json.application_credentials.every((a: Record<string, unknown>) => !('secret' in a)));
    assert.deepEqual(listed.json.links, { next: null, self: `${base}/v3/users/${user.userId}/application_credentials`, previous: null });
    const byName = await call('GET', `/v3/users/${user.userId}/application_credentials?name=ac2`, user.token);
    assert.deepEqual(byName.json.application_credentials.map((a: { name: string }) => a.name), ['ac2']);
    assert.equal((await call('HEAD', `/v3/users/${user.userId}/application_credentials`, user.token)).status, 200);

    const deleted = await call('DELETE', `/v3/users/${user.userId}/application_credentials/${created.id}`, user.token);
    assert.equal(deleted.status, 204);
    const gone = await call('GET', `/v3/users/${user.userId}/application_credentials/${created.id}`, user.token);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json, { error: { code: 404, message: `Could not find Application Credential: ${created.id}.`, title: 'Not Found' } });
    assert.equal((await call('DELETE', `/v3/users/${user.userId}/application_credentials/${created.id}`, user.token)).status, 404);
  });

  it('answers 400, 404 and 409 with Keystone’s bodies', async () => {
    const user = await member();
    const path = `/v3/users/${user.userId}/application_credentials`;
    const cases: [unknown, number, string][] = [
      [{}, 400, "'application_credential' is a required property"],
      [{ application_credential: {} }, 400, "'name' is a required property"],
      [{ application_credential: { name: 'x', bogus: 1 } }, 400, "Additional properties are not allowed ('bogus' was unexpected)"],
      [{ application_credential: { name: 'x', unrestricted: 'yes' } }, 400, "Invalid input for field 'unrestricted': A string is not of type 'boolean', 'null'"],
      [{ application_credential: { name: 'x', access_rules: [{ method: 'FETCH', path: '/x', service: 'compute' }] } }, 400, "Invalid input for field 'access_rules/0/method': A string is not one of ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT']"],
      [{ application_credential: { name: 'x', expires_at: 'tomorrow' } }, 400, 'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.'],
      [{ application_credential: { name: 'x', expires_at: '2001-01-01T00:00:00' } }, 400, "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."],
      [{ application_credential: { name: 'x', roles: [{ name: 'admin' }] } }, 400, 'Invalid application credential: Cannot create an application credential with unassigned role'],
      [{ application_credential: { name: 'x', roles: [{ name: 'no-such-role' }] } }, 404, 'Could not find role: no-such-role.'],
      [{ application_credential: { name: 'x', access_rules: [{ id: 'not-a-rule-of-mine' }] } }, 404, 'Could not find Access Rule: not-a-rule-of-mine.'],
    ];
    for (const [body, status, message] of cases) {
      const res = await call('POST', path, user.token, body);
      assert.equal(res.status, status, `${JSON.stringify(body)} ${res.text}`);
      assert.equal(res.json.error.message, message);
    }
    await createAppCred(user, { name: 'dup' });
    const dup = await call('POST', path, user.token, { application_credential: { name: 'dup' } });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json, { error: { code: 409, message: 'Conflict occurred attempting to store application_credential - Duplicate entry found with name dup.', title: 'Conflict' } });
  });

  it('authenticates by id and by name into a payload-9 project token with only the credential’s roles', async () => {
    const user = await member();
    const reader = (await server.service.providers.assignments.findGlobalRoleByName('reader'))!;
    const created = await createAppCred(user, { name: 'reader-only', roles: [{ id: reader.id }] });
    assert.deepEqual(created.roles.map((r: { name: string }) => r.name), ['reader']);

    const byId = await appCredAuth({ id: created.id, secret: created.secret });
    assert.equal(byId.status, 201, byId.text);
    const token = byId.json.token;
    assert.deepEqual(token.methods, ['application_credential']);
    assert.equal(token.user.id, user.userId);
    assert.equal(token.project.id, projectId);
    assert.deepEqual(token.roles.map((r: { name: string }) => r.name), ['reader']);
    assert.deepEqual(token.application_credential, { id: created.id, name: 'reader-only', restricted: true });
    assert.deepEqual(Object.keys(token).slice(-2), ['catalog', 'application_credential']);
    const subject = byId.headers.get('x-subject-token')!;
    const payload = payloadOf(subject);
    // [9, user, methods, project, expires, audit_ids, app_cred]: the credential id rides last.
    assert.equal(payload[0], 9);
    assert.equal(payload.length, 7);
    assert.deepEqual(payload[6], [true, Buffer.from(created.id, 'hex')]);

    const validated = await validate(subject);
    assert.equal(validated.status, 200, validated.text);
    assert.deepEqual(validated.json.token.application_credential, token.application_credential);
    assert.deepEqual(validated.json.token.roles, token.roles);
    // The token works as X-Auth-Token and carries only the reader role into policy.
    assert.equal((await call('GET', `/v3/users/${user.userId}`, subject)).status, 200);

    // By id, the owner is the credential's user whatever `user` says (LP#2148477).
    const spoofed = await appCredAuth({ id: created.id, secret: created.secret, user: { id: adminUserId } });
    assert.equal(spoofed.status, 201);
    assert.equal(spoofed.json.token.user.id, user.userId);

    const byNameAndUserId = await appCredAuth({ name: 'reader-only', user: { id: user.userId }, secret: created.secret });
    assert.equal(byNameAndUserId.status, 201, byNameAndUserId.text);
    assert.equal(byNameAndUserId.json.token.application_credential.id, created.id);
    const userName = (await call('GET', `/v3/users/${user.userId}`, admin)).json.user.name;
    const byNameAndUserName = await appCredAuth({ name: 'reader-only', user: { name: userName, domain: { name: 'Default' } }, secret: created.secret });
    assert.equal(byNameAndUserName.status, 201, byNameAndUserName.text);
  });

  it('refuses bad secrets, unknown credentials, scopes and malformed requests as Keystone does', async () => {
    const user = await member();
    const created = await createAppCred(user, { name: 'strict' });
    const wrong = await appCredAuth({ id: created.id, secret: 'not-the-secret' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { error: { code: 401, message: GENERIC_401, title: 'Unauthorized' } });
    assert.equal((await appCredAuth({ id: created.id })).status, 401);
    assert.equal((await appCredAuth({ name: 'nope', user: { id: user.userId }, secret: created.secret })).status, 401);

    const scoped = await appCredAuth({ id: created.id, secret: created.secret }, { scope: { project: { id: projectId } } });
    assert.equal(scoped.status, 401);
    assert.deepEqual(scoped.json, {
      error: { code: 401, identity: {}, message: 'Error authenticating with application credential: Application credentials cannot request a scope.', title: 'Unauthorized' },
    });
    // Keystone looks the credential up (for the scope) before any secret: an unknown id is its 404.
    const unknown = await appCredAuth({ id: '0'.repeat(32), secret: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.message, `Could not find Application Credential: ${'0'.repeat(32)}.`);
    const neither = await appCredAuth({ secret: 'x' });
    assert.equal(neither.status, 400);
    assert.match(neither.json.error.message, /^Expecting to find name or ID in application credential\./);
    const noUser = await appCredAuth({ name: 'strict', secret: 'x' });
    assert.equal(noUser.status, 400);
    assert.match(noUser.json.error.message, /^Expecting to find user in application credential\./);
  });

  it('keeps restricted credentials from managing credentials; unrestricted ones may', async () => {
    const user = await member();
    const restricted = await createAppCred(user, { name: 'restricted' });
    const restrictedToken = (await appCredAuth({ id: restricted.id, secret: restricted.secret })).headers.get('x-subject-token')!;
    const path = `/v3/users/${user.userId}/application_credentials`;
    const refused = await call('POST', path, restrictedToken, { application_credential: { name: 'child' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.json, {
      error: {
        code: 403,
        message: "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials..",
        title: 'Forbidden',
      },
    });
    assert.equal((await call('DELETE', `${path}/${restricted.id}`, restrictedToken)).status, 403);
    // Reading is allowed.
    assert.equal((await call('GET', path, restrictedToken)).status, 200);

    const unrestricted = await createAppCred(user, { name: 'unrestricted', unrestricted: true });
    assert.equal(unrestricted.unrestricted, true);
    const auth = await appCredAuth({ id: unrestricted.id, secret: unrestricted.secret });
    assert.equal(auth.json.token.application_credential.restricted, false);
    const unrestrictedToken = auth.headers.get('x-subject-token')!;
    const child = await call('POST', path, unrestrictedToken, { application_credential: { name: 'child' } });
    assert.equal(child.status, 201, child.text);
    assert.equal((await call('DELETE', `${path}/${child.json.application_credential.id}`, unrestrictedToken)).status, 204);
    // The same rule holds for the credentials API: EC2 credentials only from an unrestricted one.
    const ec2Path = `/v3/users/${user.userId}/credentials/OS-EC2`;
    const projectId = auth.json.token.project.id as string;
    assert.equal((await call('POST', ec2Path, restrictedToken, { tenant_id: projectId })).status, 403);
    const ec2 = await call('POST', ec2Path, unrestrictedToken, { tenant_id: projectId });
    assert.equal(ec2.status, 201, ec2.text);
    // A delegated token cannot be rescoped into a wider one.
    const rescope = await http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: unrestrictedToken } } } } });
    assert.equal(rescope.status, 403);
  });

  it('enforces ownership: the rule sees the credential’s owner, not the path’s user', async () => {
    const alice = await member();
    const bob = await member();
    const created = await createAppCred(alice, { name: 'alice-cred' });
    // Bob puts his own id in the path: still not the owner.
    for (const method of ['GET', 'DELETE']) {
      const res = await call(method, `/v3/users/${bob.userId}/application_credentials/${created.id}`, bob.token);
      assert.equal(res.status, 403, `${method} ${res.text}`);
      assert.equal(res.json.error.message, `You are not authorized to perform the requested action: identity:${method === 'GET' ? 'get' : 'delete'}_application_credential.`);
    }
    const list = await call('GET', `/v3/users/${alice.userId}/application_credentials`, bob.token);
    assert.equal(list.status, 403);
    const createForAlice = await call('POST', `/v3/users/${alice.userId}/application_credentials`, bob.token, { application_credential: { name: 'x' } });
    assert.equal(createForAlice.status, 403);
    assert.equal(createForAlice.json.error.message, 'You are not authorized to perform the requested action: identity:create_application_credential.');
    // An admin reads and deletes anyone's.
    assert.equal((await call('GET', `/v3/users/${alice.userId}/application_credentials/${created.id}`, admin)).status, 200);
    assert.equal((await call('GET', `/v3/users/${alice.userId}/application_credentials`, admin)).json.application_credentials.length, 1);
    assert.equal((await call('DELETE', `/v3/users/${bob.userId}/application_credentials/${created.id}`, admin)).status, 204);
  });

  it('caps the token at the credential’s expiry and refuses an expired credential', async () => {
    const user = await member();
    const soon = new Date(Date.now() + 600_000);
    const requested = `${soon.toISOString().slice(0, 19)}.123456`;
    const created = await createAppCred(user, { name: 'expiring', expires_at: requested });
    assert.match(created.expires_at, NAIVE_MICROS);
    assert.equal(created.expires_at, requested);
    // A zone is honoured and the microseconds kept.
    const zoned = await createAppCred(user, { name: 'zoned', expires_at: '2200-01-01T01:00:00.5+01:00' });
    assert.equal(zoned.expires_at, '2200-01-01T00:00:00.500000');
    // Microseconds since 1970 stop being exact JavaScript numbers in 2255.
    const far = await call('POST', `/v3/users/${user.userId}/application_credentials`, user.token, { application_credential: { name: 'far', expires_at: '2999-01-01T00:00:00' } });
    assert.equal(far.status, 400);

    const auth = await appCredAuth({ id: created.id, secret: created.secret });
    assert.equal(auth.status, 201);
    assert.equal(auth.json.token.expires_at, `${requested.slice(0, 19)}.000000Z`);

    await server.service.db.kysely
      .updateTable('application_credential')
      .set({ expires_at: (Date.now() - 1000) * 1000 })
      .where('id', '=', created.id)
      .execute();
    const expired = await appCredAuth({ id: created.id, secret: created.secret });
    assert.equal(expired.status, 401);
    assert.equal(expired.json.error.message, GENERIC_401);
  });

  it('invalidates tokens when the credential is deleted, the role revoked or the user disabled', async () => {
    const user = await member();
    const { providers } = server.service;
    const memberRole = (await providers.assignments.findGlobalRoleByName('member'))!;

    const doomed = await createAppCred(user, { name: 'doomed' });
    const doomedToken = (await appCredAuth({ id: doomed.id, secret: doomed.secret })).headers.get('x-subject-token')!;
    assert.equal((await validate(doomedToken)).status, 200);
    assert.equal((await call('DELETE', `/v3/users/${user.userId}/application_credentials/${doomed.id}`, user.token)).status, 204);
    const afterDelete = await validate(doomedToken);
    assert.equal(afterDelete.status, 404);
    assert.deepEqual(afterDelete.json, { error: { code: 404, message: `Could not find Application Credential: ${doomed.id}.`, title: 'Not Found' } });
    assert.equal((await call('GET', `/v3/users/${user.userId}`, doomedToken)).status, 404);

    // Revoking the grant does not delete the credential; its tokens lose the role at once.
    const cred = await createAppCred(user, { name: 'grant-bound' });
    const credToken = (await appCredAuth({ id: cred.id, secret: cred.secret })).headers.get('x-subject-token')!;
    assert.equal((await call('DELETE', `/v3/projects/${projectId}/users/${user.userId}/roles/${memberRole.id}`, admin)).status, 204);
    assert.equal((await validate(credToken)).status, 404);
    assert.equal((await appCredAuth({ id: cred.id, secret: cred.secret })).status, 401);
    assert.equal((await call('GET', `/v3/users/${user.userId}/application_credentials/${cred.id}`, admin)).status, 200);
    assert.equal((await call('PUT', `/v3/projects/${projectId}/users/${user.userId}/roles/${memberRole.id}`, admin)).status, 204);
    assert.equal((await validate(credToken)).status, 200);

    // A disabled owner can neither authenticate nor use earlier tokens.
    assert.equal((await call('PATCH', `/v3/users/${user.userId}`, admin, { user: { enabled: false } })).status, 200);
    assert.equal((await appCredAuth({ id: cred.id, secret: cred.secret })).status, 401);
    assert.equal((await validate(credToken)).status, 404);
    assert.equal((await call('PATCH', `/v3/users/${user.userId}`, admin, { user: { enabled: true } })).status, 200);
  });

  it('deletes the credentials of a user’s project when a role they hold there is deleted', async () => {
    const role = (await call('POST', '/v3/roles', admin, { role: { name: 'ac-temporary' } })).json.role;
    const user = await member();
    assert.equal((await call('PUT', `/v3/projects/${projectId}/users/${user.userId}/roles/${role.id}`, admin)).status, 204);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.userId }, `pw-ac-user-${userCounter}`, { project: { id: projectId } }) });
    const created = await createAppCred({ token: login.headers.get('x-subject-token')!, userId: user.userId }, { name: 'temp', roles: [{ name: 'ac-temporary' }] });
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`, admin)).status, 204);
    assert.equal((await call('GET', `/v3/users/${user.userId}/application_credentials/${created.id}`, admin)).status, 404);
  });

  it('manages access rules: shared duplicates, in-use refusal, and the validator header', async () => {
    const user = await member();
    const rule = { path: '/v2.1/servers/*/ips', method: 'GET', service: 'compute' };
    const created = await createAppCred(user, { name: 'with-rules', access_rules: [rule] });
    assert.deepEqual(Object.keys(created), ['id', 'name', 'description', 'user_id', 'project_id', 'system', 'expires_at', 'unrestricted', 'roles', 'access_rules', 'secret', 'links']);
    const ruleId = created.access_rules[0].id;
    assert.deepEqual(created.access_rules, [{ id: ruleId, service: 'compute', path: '/v2.1/servers/*/ips', method: 'GET' }]);
    // The same rule again is shared, and a rule can be named by its id.
    const second = await createAppCred(user, { name: 'same-rules', access_rules: [rule] });
    assert.equal(second.access_rules[0].id, ruleId);
    const third = await createAppCred(user, { name: 'by-id', access_rules: [{ id: ruleId }] });
    assert.equal(third.access_rules[0].id, ruleId);

    const rules = `/v3/users/${user.userId}/access_rules`;
    const listed = await call('GET', rules, user.token);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.access_rules, [{ id: ruleId, service: 'compute', path: '/v2.1/servers/*/ips', method: 'GET', links: { self: `${base}/v3/access_rules/${ruleId}` } }]);
    assert.equal((await call('GET', `${rules}?service=identity`, user.token)).json.access_rules.length, 0);
    const shown = await call('GET', `${rules}/${ruleId}`, user.token);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json.access_rule, listed.json.access_rules[0]);
    assert.equal((await call('HEAD', `${rules}/${ruleId}`, user.token)).status, 200);
    assert.equal((await call('GET', `${rules}/nope`, user.token)).status, 404);

    // Tokens of such a credential validate only for a validator that enforces access rules.
    const auth = await appCredAuth({ id: created.id, secret: created.secret });
    assert.equal(auth.status, 201);
    assert.deepEqual(auth.json.token.application_credential, { id: created.id, name: 'with-rules', restricted: true, access_rules: created.access_rules });
    const subject = auth.headers.get('x-subject-token')!;
    const refused = await validate(subject);
    assert.equal(refused.status, 404);
    assert.equal(refused.json.error.message, 'Failed to validate token');
    assert.equal((await validate(subject, { 'OpenStack-Identity-Access-Rules': '0.9' })).status, 404);
    const accepted = await validate(subject, { 'OpenStack-Identity-Access-Rules': '1.0' });
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual(accepted.json.token.application_credential.access_rules, created.access_rules);

    // Another user may not see or delete them.
    const other = await member();
    assert.equal((await call('GET', rules, other.token)).status, 403);
    assert.equal((await call('DELETE', `${rules}/${ruleId}`, other.token)).status, 403);
    // Reading another user's rules takes a system reader (a project admin is not one).
    assert.equal((await call('GET', rules, admin)).status, 403);
    const systemAdmin = (await adminLogin(base, { system: { all: true } })).token;
    assert.equal((await call('GET', rules, systemAdmin)).status, 200);

    const inUse = await call('DELETE', `${rules}/${ruleId}`, user.token);
    assert.equal(inUse.status, 403);
    assert.deepEqual(inUse.json, { error: { code: 403, message: 'May not delete access rule in use', title: 'Forbidden' } });
    for (const cred of [created, second, third]) {
      assert.equal((await call('DELETE', `/v3/users/${user.userId}/application_credentials/${cred.id}`, user.token)).status, 204);
    }
    assert.equal((await call('GET', rules, user.token)).json.access_rules.length, 1);
    assert.equal((await call('DELETE', `${rules}/${ruleId}`, user.token)).status, 204);
    assert.equal((await call('GET', rules, user.token)).json.access_rules.length, 0);
    assert.equal((await call('DELETE', `${rules}/${ruleId}`, user.token)).status, 404);
  });

  it('deletes a user’s credentials and access rules with the user', async () => {
    const user = await member();
    const created = await createAppCred(user, { name: 'ephemeral', access_rules: [{ path: '/v3/users', method: 'GET', service: 'identity' }] });
    assert.equal((await call('DELETE', `/v3/users/${user.userId}`, admin)).status, 204);
    const kysely = server.service.db.kysely;
    assert.equal((await kysely.selectFrom('application_credential').select('id').where('id', '=', created.id).execute()).length, 0);
    assert.equal((await kysely.selectFrom('access_rule').select('id').where('user_id', '=', user.userId).execute()).length, 0);
  });

  it('limits credentials per user with [application_credential] user_limit', async function () {
    this.timeout(60_000);
    const limited = await startTestServer(ctx.db(), { 'application_credential.user_limit': '1' });
    try {
      const user = await projectUserToken(limited, 'ac-limited', 'member');
      const path = `/v3/users/${user.userId}/application_credentials`;
      assert.equal((await http(limited.url, 'POST', path, { token: user.token, body: { application_credential: { name: 'one' } } })).status, 201);
      const second = await http(limited.url, 'POST', path, { token: user.token, body: { application_credential: { name: 'two' } } });
      assert.equal(second.status, 403);
      assert.equal(second.json.error.message, 'Unable to create additional application credentials, maximum of 1 already exceeded for user.');
    } finally {
      await limited.close();
    }
  });
});

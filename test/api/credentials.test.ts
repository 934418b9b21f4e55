import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';
import { MultiFernet } from '../../src/token/fernet.js';
import { readKeyFiles } from '../../src/token/key-repository.js';

/** The 403 body without keystone-ts' `violations` (which name the rule's check string). */
const withoutViolations = ({ violations: _, ...rest }: Record<string, unknown>) => rest;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const VALIDATION_TAIL = 'The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

describeEachDatabase('/v3/credentials', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let adminUserId: string;
  let adminProjectId: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    const login = await adminLogin(base);
    admin = login.token;
    adminUserId = login.body.token.user.id;
    adminProjectId = login.body.token.project.id;
  });
  after(async () => server?.close());

  const call = (method: string, p: string, body?: unknown, token = admin) => http(base, method, p, { token, body });
  const create = async (credential: Record<string, unknown>, token = admin) => {
    const res = await call('POST', '/v3/credentials', { credential }, token);
    assert.equal(res.status, 201, res.text);
    return res.json.credential;
  };
  const storedRow = (id: string) => ctx.db().kysely.selectFrom('credential').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const credentialKeys = () => readKeyFiles(path.join(server.dir, 'credential-keys'));

  it('creates, shows, updates and deletes a credential with Keystone’s bodies, the blob Fernet-encrypted at rest', async () => {
    const c = await create({ user_id: adminUserId, type: 'cert', blob: 'PEM-DATA', 'os:note': 'n1', extra: { dropped: true } });
    assert.deepEqual(Object.keys(c), ['os_note', 'id', 'user_id', 'project_id', 'type', 'blob', 'links']);
    assert.match(c.id, /^[0-9a-f]{32}$/);
    assert.equal(c.project_id, null);
    assert.equal(c.blob, 'PEM-DATA');
    assert.equal(c.links.self, `${base}/v3/credentials/${c.id}`);

    // At rest: a padded Fernet token under the primary credential key, and its SHA-1 beside it.
    const row = await storedRow(c.id);
    assert.ok(row.encrypted_blob.endsWith('='), row.encrypted_blob);
    assert.ok(!row.encrypted_blob.includes('PEM-DATA'));
    const keys = credentialKeys();
    assert.equal(row.key_hash, createHash('sha1').update(keys[0]!.text).digest('hex'));
    assert.equal(new MultiFernet([keys[0]!.key]).decrypt(row.encrypted_blob).plaintext.toString(), 'PEM-DATA');
    assert.deepEqual(JSON.parse(row.extra!), { os_note: 'n1' });

    const shown = await call('GET', `/v3/credentials/${c.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json.credential, c);
    const head = await call('HEAD', `/v3/credentials/${c.id}`);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');

    const patched = await call('PATCH', `/v3/credentials/${c.id}`, { credential: { blob: 'NEW-PEM', project_id: adminProjectId, colour: 'blue' } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(Object.keys(patched.json.credential), ['os_note', 'colour', 'id', 'user_id', 'project_id', 'type', 'blob', 'links']);
    assert.equal(patched.json.credential.blob, 'NEW-PEM');
    assert.equal(patched.json.credential.project_id, adminProjectId);
    // A PATCH without blob keeps it (and answers with it).
    const kept = await call('PATCH', `/v3/credentials/${c.id}`, { credential: { type: 'x509' } });
    assert.equal(kept.json.credential.blob, 'NEW-PEM');
    assert.equal(kept.json.credential.type, 'x509');

    assert.equal((await call('DELETE', `/v3/credentials/${c.id}`)).status, 204);
    const gone = await call('GET', `/v3/credentials/${c.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json, { error: { code: 404, message: `Could not find credential: ${c.id}.`, title: 'Not Found' } });
    assert.equal((await call('DELETE', `/v3/credentials/${c.id}`)).status, 404);
    assert.equal((await call('PATCH', `/v3/credentials/${c.id}`, { credential: { blob: 'x' } })).status, 404);
  });

  it('gives ec2 credentials the SHA-256 of their access key as id and stores the blob JSON-encoded, as Keystone', async () => {
    // tempest's test_credentials_create_get_update_delete, step by step.
    const blob = '{"access": "ak-tempest", "secret": "sk-tempest"}';
    const c = await create({ user_id: adminUserId, project_id: adminProjectId, blob, type: 'ec2' });
    assert.equal(c.id, sha256('ak-tempest'));
    assert.equal(c.blob, blob);
    const row = await storedRow(c.id);
    // json.dumps(blob): the blob string as a JSON string literal.
    assert.equal(new MultiFernet(credentialKeys().map((k) => k.key)).decrypt(row.encrypted_blob).plaintext.toString(), JSON.stringify(blob));

    const other = (await call('POST', '/v3/projects', { project: { name: 'ec2-other' } })).json.project;
    const newBlob = '{"access": "ak-new", "secret": "sk-new"}';
    const updated = await call('PATCH', `/v3/credentials/${c.id}`, { credential: { blob: newBlob, project_id: other.id, type: 'ec2' } });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.json.credential.id, c.id, 'an update does not re-hash the id');
    assert.equal(updated.json.credential.project_id, other.id);
    assert.deepEqual(JSON.parse(updated.json.credential.blob), { access: 'ak-new', secret: 'sk-new' });
    const shown = (await call('GET', `/v3/credentials/${c.id}`)).json.credential;
    assert.equal(shown.blob, newBlob);

    // A second credential for the same access key is a conflict.
    const dup = await call('POST', '/v3/credentials', { credential: { user_id: adminUserId, project_id: adminProjectId, blob, type: 'ec2' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, `Conflict occurred attempting to store credential - Duplicate entry found with ID ${c.id}.`);
    assert.equal((await call('DELETE', `/v3/credentials/${c.id}`)).status, 204);
  });

  it('answers 400 as Keystone does', async () => {
    const cases: [unknown, string][] = [
      [{}, "'credential' is a required property"],
      [{ credential: { type: 'cert', user_id: adminUserId } }, "'blob' is a required property"],
      [{ credential: { blob: 'b', user_id: adminUserId } }, "'type' is a required property"],
      [{ credential: { blob: 'b', type: 'cert' } }, "'user_id' is a required property"],
      [{ credential: { blob: 1, type: 'cert', user_id: adminUserId } }, "Invalid input for field 'blob': 1 is not of type 'string'"],
      [{ credential: { blob: '{"access": "a"}', type: 'ec2', user_id: adminUserId } }, "'project_id' is a required property"],
      [{ credential: { blob: 'not json', type: 'ec2', user_id: adminUserId, project_id: adminProjectId } }, 'Invalid blob in credential'],
      [{ credential: { blob: '{}', type: 'ec2', user_id: adminUserId, project_id: adminProjectId } }, `Expecting to find blob in credential. ${VALIDATION_TAIL}`],
      [{ credential: { blob: '{"secret": "s"}', type: 'ec2', user_id: adminUserId, project_id: adminProjectId } }, `Expecting to find access in credential. ${VALIDATION_TAIL}`],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/v3/credentials', body);
      assert.equal(res.status, 400, JSON.stringify(body) + res.text);
      assert.deepEqual(res.json, { error: { code: 400, message, title: 'Bad Request' } });
    }

    const cert = await create({ user_id: adminUserId, type: 'cert', blob: 'c' });
    const patchCases: [unknown, string][] = [
      [{}, "'credential' is a required property"],
      [{ credential: {} }, 'An object does not have enough properties'],
      [{ credential: { id: 'other' } }, 'Cannot change ID'],
      // Turning a project-less credential into ec2 needs a project.
      [{ credential: { type: 'ec2' } }, `Expecting to find project_id in credential. ${VALIDATION_TAIL}`],
    ];
    for (const [body, message] of patchCases) {
      const res = await call('PATCH', `/v3/credentials/${cert.id}`, body);
      assert.equal(res.status, 400, JSON.stringify(body) + res.text);
      assert.equal(res.json.error.message, message);
    }

    // An ec2 credential's delegation and access id cannot change.
    const ec2 = await create({ user_id: adminUserId, project_id: adminProjectId, type: 'ec2', blob: '{"access": "ak-locked", "secret": "s", "trust_id": "t1"}' });
    const locked = await call('PATCH', `/v3/credentials/${ec2.id}`, { credential: { blob: '{"access": "ak-locked", "secret": "s2"}' } });
    assert.equal(locked.status, 400);
    assert.equal(locked.json.error.message, 'trust_id can not be updated for credential');
    const noBlob = await call('PATCH', `/v3/credentials/${ec2.id}`, { credential: { project_id: adminProjectId } });
    assert.equal(noBlob.status, 400);
    assert.equal(noBlob.json.error.message, 'Invalid blob in credential');
    await call('DELETE', `/v3/credentials/${ec2.id}`);
    await call('DELETE', `/v3/credentials/${cert.id}`);
  });

  it('lets a member manage only its own credentials and shows it only those in lists', async () => {
    const alice = await projectUserToken(server, 'cred-alice', 'member');
    const bob = await projectUserToken(server, 'cred-bob', 'member');
    const mine = await create({ user_id: alice.userId, type: 'totp', blob: 'GEZDGNBVGY3TQOJQ' }, alice.token);
    const bobs = await create({ user_id: bob.userId, type: 'totp', blob: 'BOBSECRET' }, bob.token);
    const adminOwn = await create({ user_id: adminUserId, type: 'cert', blob: 'admin-cert' });

    const forbidden = (action: string) => ({ code: 403, message: `You are not authorized to perform the requested action: identity:${action}.`, title: 'Forbidden' });
    const asAlice = (method: string, p: string, body?: unknown) => call(method, p, body, alice.token);
    let res = await asAlice('POST', '/v3/credentials', { credential: { user_id: bob.userId, type: 'totp', blob: 'x' } });
    assert.equal(res.status, 403);
    assert.deepEqual(withoutViolations(res.json.error), forbidden('create_credential'));
    for (const [method, action, body] of [
      ['GET', 'get_credential', undefined],
      ['PATCH', 'update_credential', { credential: { blob: 'stolen' } }],
      ['DELETE', 'delete_credential', undefined],
    ] as const) {
      res = await asAlice(method, `/v3/credentials/${bobs.id}`, body);
      assert.equal(res.status, 403, `${method} ${res.text}`);
      assert.deepEqual(withoutViolations(res.json.error), forbidden(action));
      // An unknown id is no different to someone who may not see it.
      assert.equal((await asAlice(method, '/v3/credentials/0123456789abcdef0123456789abcdef', body)).status, 403);
    }
    // Nor may she give her credential to Bob: the update is checked against the result.
    res = await asAlice('PATCH', `/v3/credentials/${mine.id}`, { credential: { user_id: bob.userId } });
    assert.equal(res.status, 403);
    assert.deepEqual(withoutViolations(res.json.error), forbidden('update_credential'));
    assert.equal((await asAlice('PATCH', `/v3/credentials/${mine.id}`, { credential: { blob: 'GEZDGNBVGY3TQOJR' } })).status, 200);

    const listed = await asAlice('GET', '/v3/credentials');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.credentials.map((c: { id: string }) => c.id), [mine.id]);
    assert.equal(listed.json.credentials[0].blob, 'GEZDGNBVGY3TQOJR');
    assert.deepEqual(listed.json.links, { next: null, self: `${base}/v3/credentials`, previous: null });
    assert.deepEqual((await asAlice('GET', `/v3/credentials?user_id=${bob.userId}`)).json.credentials, []);

    // The admin sees everyone's, and filters by user and type.
    const all = (await call('GET', '/v3/credentials')).json.credentials.map((c: { id: string }) => c.id);
    for (const id of [mine.id, bobs.id, adminOwn.id]) assert.ok(all.includes(id), id);
    const byUser = await call('GET', `/v3/credentials?user_id=${bob.userId}`);
    assert.deepEqual(byUser.json.credentials.map((c: { id: string }) => c.id), [bobs.id]);
    assert.equal(byUser.json.links.self, `${base}/v3/credentials?user_id=${bob.userId}`);
    const byType = (await call('GET', '/v3/credentials?type=cert')).json.credentials.map((c: { id: string }) => c.id);
    assert.deepEqual(byType, [adminOwn.id]);
    const byTypePrefix = (await call('GET', '/v3/credentials?type__istartswith=TOT')).json.credentials.map((c: { id: string }) => c.id).sort();
    assert.deepEqual(byTypePrefix, [mine.id, bobs.id].sort());
    assert.equal((await call('HEAD', '/v3/credentials')).status, 200);

    assert.equal((await asAlice('DELETE', `/v3/credentials/${mine.id}`)).status, 204);
    for (const id of [bobs.id, adminOwn.id]) await call('DELETE', `/v3/credentials/${id}`);
  });

  it('refuses credentials beyond [credential] user_limit with Keystone’s 403', async () => {
    const limited = await startTestServer(ctx.db(), { 'credential.user_limit': '2' }, { shareKeysWith: server });
    try {
      const token = (await adminLogin(limited.url)).token;
      const user = (await http(limited.url, 'POST', '/v3/users', { token, body: { user: { name: 'limited-user' } } })).json.user;
      const post = (blob: string) => http(limited.url, 'POST', '/v3/credentials', { token, body: { credential: { user_id: user.id, type: 'cert', blob } } });
      assert.equal((await post('one')).status, 201);
      assert.equal((await post('two')).status, 201);
      const third = await post('three');
      assert.equal(third.status, 403);
      assert.deepEqual(third.json, { error: { code: 403, message: 'Unable to create additional credentials, maximum of 2 already exceeded for user.', title: 'Forbidden' } });
      // OS-EC2 creation counts against the same limit.
      const project = (await http(limited.url, 'GET', '/v3/projects?name=admin', { token })).json.projects[0];
      const ec2 = await http(limited.url, 'POST', `/v3/users/${user.id}/credentials/OS-EC2`, { token, body: { tenant_id: project.id } });
      assert.equal(ec2.status, 403);
    } finally {
      await limited.close();
    }
  });
});

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { decode } from '@msgpack/msgpack';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

/**
 * The signer tempest's keystone plugin uses (tempest.lib.services.identity.v3.oauth_token_client),
 * run as it ships in Debian: every signed request of the main flow is signed by it, so our
 * verification is checked against the client the interop tests will use, not against itself.
 */
class TempestSigner {
  readonly #python: ChildProcessWithoutNullStreams;
  readonly #waiting: ((line: string) => void)[] = [];

  constructor() {
    const script = [
      'import json, sys',
      'from tempest.lib.services.identity.v3.oauth_token_client import OAUTHTokenClient',
      'client = OAUTHTokenClient.__new__(OAUTHTokenClient)',
      'for line in sys.stdin:',
      '    a = json.loads(line)',
      "    p = client._generate_params_with_signature(a['consumer_key'], a['uri'], client_secret=a.get('consumer_secret'), resource_owner_key=a.get('token'), resource_owner_secret=a.get('token_secret'), callback_uri=a.get('callback'), verifier=a.get('verifier'), http_method='POST')",
      "    print(json.dumps(client._generate_oauth_header(p)['Authorization']), flush=True)",
    ].join('\n');
    this.#python = spawn('/usr/bin/python3', ['-c', script]);
    createInterface({ input: this.#python.stdout }).on('line', (line) => this.#waiting.shift()?.(line));
  }

  sign(args: { consumer_key: string; consumer_secret: string; uri: string; token?: string; token_secret?: string; callback?: string; verifier?: string }): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting.push((line) => resolve(JSON.parse(line) as string));
      this.#python.stdin.write(`${JSON.stringify(args)}\n`);
    });
  }

  close(): void {
    this.#python.stdin.end();
  }
}

/** A second, independent RFC 5849 signer for what tempest cannot send (query parameters, other clocks, HMAC-SHA256). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function jsSign(opts: {
  uri: string;
  consumerKey: string;
  consumerSecret: string;
  token?: string;
  tokenSecret?: string;
  callback?: string;
  verifier?: string;
  signedExtra?: [string, string][];
  timestamp?: number;
  signatureMethod?: 'HMAC-SHA1' | 'HMAC-SHA256';
}): string {
  const oauth: [string, string][] = [
    ['oauth_consumer_key', opts.consumerKey],
    ['oauth_nonce', randomBytes(8).toString('hex')],
    ['oauth_signature_method', opts.signatureMethod ?? 'HMAC-SHA1'],
    ['oauth_timestamp', String(opts.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_version', '1.0'],
  ];
  if (opts.token) oauth.push(['oauth_token', opts.token]);
  if (opts.callback) oauth.push(['oauth_callback', opts.callback]);
  if (opts.verifier) oauth.push(['oauth_verifier', opts.verifier]);
  const pairs = [...oauth, ...(opts.signedExtra ?? [])].map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort();
  const base = `POST&${rfc3986(opts.uri)}&${rfc3986(pairs.join('&'))}`;
  const digest = opts.signatureMethod === 'HMAC-SHA256' ? 'sha256' : 'sha1';
  const signature = createHmac(digest, `${rfc3986(opts.consumerSecret)}&${rfc3986(opts.tokenSecret ?? '')}`).update(base).digest('base64');
  const signed: [string, string][] = [...oauth, ['oauth_signature', signature]];
  return `OAuth ${signed.map(([k, v]) => `${k}="${rfc3986(v)}"`).join(', ')}`;
}

function form(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text));
}

describeEachDatabase('OS-OAUTH1', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let adminUserId: string;
  let projectId: string;
  let signer: TempestSigner;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    const login = await adminLogin(base);
    admin = login.token;
    adminUserId = login.body.token.user.id;
    projectId = login.body.token.project.id;
    signer = new TempestSigner();
  });
  after(async () => {
    signer?.close();
    await server?.close();
  });

  const call = (method: string, path: string, body?: unknown, token = admin) => http(base, method, path, { token, body });
  const db = () => server.service.db.kysely;
  const count = async (table: 'request_token' | 'access_token' | 'consumer') =>
    Number((await db().selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  async function createConsumer(description = 'a consumer'): Promise<{ id: string; secret: string }> {
    const res = await call('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description } });
    assert.equal(res.status, 201, res.text);
    return res.json.consumer;
  }

  const post = (path: string, authorization: string, headers: Record<string, string> = {}) =>
    http(base, 'POST', path, { headers: { Authorization: authorization, ...headers } });

  async function requestToken(consumer: { id: string; secret: string }) {
    const authorization = await signer.sign({ consumer_key: consumer.id, consumer_secret: consumer.secret, uri: `${base}/v3/OS-OAUTH1/request_token`, callback: 'oob' });
    const res = await post('/v3/OS-OAUTH1/request_token', authorization, { 'Requested-Project-Id': projectId });
    assert.equal(res.status, 201, res.text);
    return form(res.text);
  }

  async function authorize(requestTokenId: string, roles: unknown[]) {
    const res = await call('PUT', `/v3/OS-OAUTH1/authorize/${requestTokenId}`, { roles });
    assert.equal(res.status, 200, res.text);
    return res.json.token.oauth_verifier as string;
  }

  function signAccessTokenRequest(consumer: { id: string; secret: string }, rt: Record<string, string>, verifier: string) {
    return signer.sign({
      consumer_key: consumer.id,
      consumer_secret: consumer.secret,
      uri: `${base}/v3/OS-OAUTH1/access_token`,
      token: rt['oauth_token'],
      token_secret: rt['oauth_token_secret'],
      verifier,
    });
  }

  async function accessToken(consumer: { id: string; secret: string }, roles: unknown[] = [{ name: 'member' }]) {
    const rt = await requestToken(consumer);
    const verifier = await authorize(rt['oauth_token']!, roles);
    const res = await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, rt, verifier));
    assert.equal(res.status, 201, res.text);
    return form(res.text);
  }

  const oauthAuthBody = { auth: { identity: { methods: ['oauth1'], oauth1: {} } } };
  async function oauthLogin(consumer: { id: string; secret: string }, at: Record<string, string>, secret = at['oauth_token_secret']!) {
    const authorization = await signer.sign({ consumer_key: consumer.id, consumer_secret: consumer.secret, uri: `${base}/v3/auth/tokens`, token: at['oauth_token'], token_secret: secret });
    return http(base, 'POST', '/v3/auth/tokens', { headers: { Authorization: authorization }, body: oauthAuthBody });
  }

  /** The Fernet payload's version number, decrypted with the server's own keys. */
  function payloadVersion(token: string): number {
    const raw = Buffer.from(token, 'base64url');
    for (const key of server.service.keys.keys()) {
      try {
        const decipher = createDecipheriv('aes-128-cbc', key.subarray(16, 32), raw.subarray(9, 25));
        const plain = Buffer.concat([decipher.update(raw.subarray(25, raw.length - 32)), decipher.final()]);
        return (decode(plain) as unknown[])[0] as number;
      } catch {
        // not this key
      }
    }
    throw new Error('no key decrypts the token');
  }

  it('creates, shows, lists, updates and deletes consumers; the secret is shown once and never changes', async () => {
    const created = await call('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'cli', 'x-extra': 1 } });
    assert.equal(created.status, 201, created.text);
    const consumer = created.json.consumer;
    assert.deepEqual(Object.keys(consumer), ['x_extra', 'id', 'description', 'secret', 'links']);
    assert.match(consumer.id, /^[0-9a-f]{32}$/);
    assert.match(consumer.secret, /^[0-9a-f]{32}$/);
    assert.equal(consumer.links.self, `${base}/v3/OS-OAUTH1/consumers/${consumer.id}`);

    const shown = await call('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json.consumer, { x_extra: 1, id: consumer.id, description: 'cli', links: consumer.links });
    const listed = await call('GET', '/v3/OS-OAUTH1/consumers');
    assert.ok(listed.json.consumers.some((c: { id: string; secret?: string }) => c.id === consumer.id && c.secret === undefined));
    assert.equal(listed.json.links.self, `${base}/v3/OS-OAUTH1/consumers`);

    const patched = await call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { description: 'renamed' } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.consumer.description, 'renamed');
    assert.equal(patched.json.consumer.secret, undefined);
    assert.equal((await call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { secret: 'mine' } })).status, 400);
    assert.equal((await call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: {} })).status, 400);
    const changeId = await call('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, { consumer: { id: 'other' } });
    assert.equal(changeId.status, 400);
    assert.equal(changeId.json.error.message, 'Cannot change ID');
    const stored = await db().selectFrom('consumer').selectAll().where('id', '=', consumer.id).executeTakeFirstOrThrow();
    assert.equal(stored.secret, consumer.secret);

    // Consumers are the admin's business (identity:create_consumer = ADM).
    const member = await projectUserToken(server, 'consumer-member', 'member');
    const denied = await call('POST', '/v3/OS-OAUTH1/consumers', { consumer: {} }, member.token);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:create_consumer.');

    assert.equal((await call('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`)).status, 204);
    const gone = await call('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.message, 'Consumer not found');
    assert.equal((await call('GET', '/v3/OS-OAUTH1/request_token')).status, 405);
  });

  it('runs the whole flow with tempest’s signer: request token, authorize, access token, a v7 token with only the delegated roles', async () => {
    const consumer = await createConsumer();
    const rt = await requestToken(consumer);
    assert.deepEqual(Object.keys(rt), ['oauth_token', 'oauth_token_secret', 'oauth_expires_at']);
    assert.match(rt['oauth_expires_at']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const rtRow = await db().selectFrom('request_token').selectAll().where('id', '=', rt['oauth_token']!).executeTakeFirstOrThrow();
    assert.equal(rtRow.consumer_id, consumer.id);
    assert.equal(rtRow.requested_project_id, projectId);

    // The admin holds admin, member (implied by admin's chain) and reader; it delegates member only.
    const verifier = await authorize(rt['oauth_token']!, [{ name: 'member' }]);
    assert.match(verifier, /^[a-km-zA-HJ-NP-Z2-9]{8}$/);
    assert.equal(new Set(verifier).size, 8);

    const res = await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, rt, verifier));
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get('content-type'), 'application/x-www-form-urlencoded');
    const at = form(res.text);
    assert.deepEqual(Object.keys(at), ['oauth_token', 'oauth_token_secret', 'oauth_expires_at']);
    assert.equal(await db().selectFrom('request_token').where('id', '=', rt['oauth_token']!).select('id').executeTakeFirst(), undefined);

    const login = await oauthLogin(consumer, at);
    assert.equal(login.status, 201, login.text);
    const subject = login.headers.get('x-subject-token')!;
    assert.equal(payloadVersion(subject), 7);
    const token = login.json.token;
    assert.deepEqual(token.methods, ['oauth1']);
    assert.equal(token.user.id, adminUserId);
    assert.equal(token.project.id, projectId);
    assert.deepEqual(token['OS-OAUTH1'], { access_token_id: at['oauth_token'], consumer_id: consumer.id });
    assert.deepEqual(token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);

    const validated = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject });
    assert.equal(validated.status, 200, validated.text);
    assert.deepEqual(validated.json.token['OS-OAUTH1'], token['OS-OAUTH1']);
    assert.deepEqual(validated.json.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    // An OAuth1 token cannot be rescoped into a broader one.
    const rescope = await http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: subject } } } } });
    assert.equal(rescope.status, 403);

    // The user's access tokens, their roles, and revocation by deletion.
    const path = `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens`;
    const listed = await call('GET', path);
    assert.equal(listed.status, 200);
    const entry = listed.json.access_tokens.find((t: { id: string }) => t.id === at['oauth_token']);
    assert.deepEqual(entry, {
      id: at['oauth_token'],
      authorizing_user_id: adminUserId,
      project_id: projectId,
      consumer_id: consumer.id,
      expires_at: at['oauth_expires_at'],
      links: { roles: `${base}${path}/${at['oauth_token']}/roles`, self: `${base}${path}/${at['oauth_token']}` },
    });
    assert.deepEqual((await call('GET', `${path}/${at['oauth_token']}`)).json.access_token, entry);
    const roles = await call('GET', `${path}/${at['oauth_token']}/roles`);
    assert.equal(roles.status, 200);
    assert.deepEqual(roles.json.roles.map((r: { name: string }) => r.name), ['member']);
    const memberId = roles.json.roles[0].id;
    const role = await call('GET', `${path}/${at['oauth_token']}/roles/${memberId}`);
    assert.equal(role.json.role.id, memberId);
    assert.equal(role.json.role.description, undefined);
    assert.equal((await call('GET', `${path}/${at['oauth_token']}/roles/nope`)).status, 404);

    // The OAuth1 token itself cannot manage access tokens (delegation).
    assert.equal((await call('GET', path, undefined, subject)).status, 403);

    assert.equal((await call('DELETE', `${path}/${at['oauth_token']}`)).status, 204);
    assert.equal((await call('GET', `${path}/${at['oauth_token']}`)).status, 404);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject })).status, 404);
    assert.equal((await oauthLogin(consumer, at)).status, 404);
  });

  it('refuses a bad consumer secret or a tampered parameter with 401 and stores nothing', async () => {
    const consumer = await createConsumer();
    const before = await count('request_token');
    const uri = `${base}/v3/OS-OAUTH1/request_token`;
    const wrongSecret = await signer.sign({ consumer_key: consumer.id, consumer_secret: 'f'.repeat(32), uri, callback: 'oob' });
    const bad = await post('/v3/OS-OAUTH1/request_token', wrongSecret, { 'Requested-Project-Id': projectId });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });

    const good = await signer.sign({ consumer_key: consumer.id, consumer_secret: consumer.secret, uri, callback: 'oob' });
    const tampered = good.replace(/oauth_nonce="(\d)/, (_m, d: string) => `oauth_nonce="${(Number(d) + 1) % 10}`);
    assert.notEqual(tampered, good);
    assert.equal((await post('/v3/OS-OAUTH1/request_token', tampered, { 'Requested-Project-Id': projectId })).status, 401);
    // Signed for another URL.
    const elsewhere = await signer.sign({ consumer_key: consumer.id, consumer_secret: consumer.secret, uri: `${base}/v3/OS-OAUTH1/access_token`, callback: 'oob' });
    assert.equal((await post('/v3/OS-OAUTH1/request_token', elsewhere, { 'Requested-Project-Id': projectId })).status, 401);
    assert.equal(await count('request_token'), before);

    // Protocol errors are Keystone's 400s (validate_oauth_params), unknown things 404.
    const stale = jsSign({ uri, consumerKey: consumer.id, consumerSecret: consumer.secret, callback: 'oob', timestamp: Math.floor(Date.now() / 1000) - 3600 });
    const staleRes = await post('/v3/OS-OAUTH1/request_token', stale, { 'Requested-Project-Id': projectId });
    assert.equal(staleRes.status, 400);
    assert.equal(staleRes.json.error.message, 'Validation failed with errors: invalid_request, detail message is: Timestamp given is invalid, differ from allowed by over 600 seconds..');
    const noCallback = jsSign({ uri, consumerKey: consumer.id, consumerSecret: consumer.secret });
    assert.equal((await post('/v3/OS-OAUTH1/request_token', noCallback, { 'Requested-Project-Id': projectId })).status, 400);
    assert.equal((await post('/v3/OS-OAUTH1/request_token', good)).status, 400);
    assert.equal((await post('/v3/OS-OAUTH1/request_token', good, { 'Requested-Project-Id': 'nope' })).status, 404);
    assert.equal((await http(base, 'POST', '/v3/OS-OAUTH1/request_token', { headers: { 'Requested-Project-Id': projectId } })).status, 401);
    assert.equal(await count('request_token'), before);

    // An independent signer agrees, HMAC-SHA256 included.
    const sha256 = jsSign({ uri, consumerKey: consumer.id, consumerSecret: consumer.secret, callback: 'oob', signatureMethod: 'HMAC-SHA256' });
    assert.equal((await post('/v3/OS-OAUTH1/request_token', sha256, { 'Requested-Project-Id': projectId })).status, 201);
  });

  it('signs query arguments as Keystone’s oauthlib call does: twice with a form Content-Type', async () => {
    const consumer = await createConsumer();
    const uri = `${base}/v3/OS-OAUTH1/request_token`;
    const headers = { 'Requested-Project-Id': projectId };
    const once = jsSign({ uri, consumerKey: consumer.id, consumerSecret: consumer.secret, callback: 'oob', signedExtra: [['a b', 'c+d']] });
    assert.equal((await post('/v3/OS-OAUTH1/request_token?a%20b=c%2Bd', once, headers)).status, 201);
    assert.equal((await post('/v3/OS-OAUTH1/request_token?a%20b=c%2Bd', once, { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' })).status, 401);
    const twice = jsSign({ uri, consumerKey: consumer.id, consumerSecret: consumer.secret, callback: 'oob', signedExtra: [['a b', 'c+d'], ['a b', 'c+d']] });
    assert.equal((await post('/v3/OS-OAUTH1/request_token?a%20b=c%2Bd', twice, { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' })).status, 201);
    // A parameter the client did not sign.
    assert.equal((await post('/v3/OS-OAUTH1/request_token?a%20b=c%2Bd&x=1', once, headers)).status, 401);
  });

  it('makes the verifier single-use and refuses a wrong one, an expired request token and a foreign consumer', async () => {
    const consumer = await createConsumer();
    const rt = await requestToken(consumer);
    const verifier = await authorize(rt['oauth_token']!, [{ name: 'member' }]);
    const accessBefore = await count('access_token');

    const wrongVerifier = verifier === 'abcdefgh' ? 'abcdefgk' : 'abcdefgh';
    assert.equal((await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, rt, wrongVerifier))).status, 401);
    const wrongSecret = await signAccessTokenRequest(consumer, { ...rt, oauth_token_secret: '0'.repeat(32) }, verifier);
    assert.equal((await post('/v3/OS-OAUTH1/access_token', wrongSecret)).status, 401);
    const other = await createConsumer('other');
    const foreign = await signer.sign({ consumer_key: other.id, consumer_secret: other.secret, uri: `${base}/v3/OS-OAUTH1/access_token`, token: rt['oauth_token'], token_secret: rt['oauth_token_secret'], verifier });
    assert.equal((await post('/v3/OS-OAUTH1/access_token', foreign)).status, 401);
    assert.equal(await count('access_token'), accessBefore);
    assert.ok(await db().selectFrom('request_token').where('id', '=', rt['oauth_token']!).select('id').executeTakeFirst());

    const used = await signAccessTokenRequest(consumer, rt, verifier);
    assert.equal((await post('/v3/OS-OAUTH1/access_token', used)).status, 201);
    // Again with the same verifier: the request token is gone (Keystone's 404), nothing is issued.
    const again = await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, rt, verifier));
    assert.equal(again.status, 404);
    assert.equal(again.json.error.message, 'Request token not found');
    assert.equal(await count('access_token'), accessBefore + 1);

    // An expired request token can be neither authorized nor exchanged.
    const late = await requestToken(consumer);
    const lateVerifier = await authorize(late['oauth_token']!, [{ name: 'member' }]);
    await db().updateTable('request_token').set({ expires_at: '2000-01-01T00:00:00.000000Z' }).where('id', '=', late['oauth_token']!).execute();
    assert.equal((await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, late, lateVerifier))).status, 401);
    assert.equal((await call('PUT', `/v3/OS-OAUTH1/authorize/${late['oauth_token']}`, { roles: [{ name: 'member' }] })).status, 401);
    assert.equal(await count('access_token'), accessBefore + 1);
    // Unauthorized request tokens have no verifier to match.
    const unauthorized = await requestToken(consumer);
    assert.equal((await post('/v3/OS-OAUTH1/access_token', await signAccessTokenRequest(consumer, unauthorized, 'abcdefgh'))).status, 401);
  });

  it('delegates only roles the authorizing user holds on the project, by id or by name', async () => {
    const consumer = await createConsumer();
    const rt = await requestToken(consumer);
    const { providers } = server.service;
    const service = await providers.assignments.findGlobalRoleByName('service');
    const refused = await call('PUT', `/v3/OS-OAUTH1/authorize/${rt['oauth_token']}`, { roles: [{ id: service!.id }] });
    assert.equal(refused.status, 401);
    assert.equal((await call('PUT', `/v3/OS-OAUTH1/authorize/${rt['oauth_token']}`, { roles: [{ name: 'no-such-role' }] })).status, 404);
    assert.equal((await call('PUT', `/v3/OS-OAUTH1/authorize/${rt['oauth_token']}`, { roles: [{ id: 'x', name: 'member' }] })).status, 400);
    const stored = await db().selectFrom('request_token').selectAll().where('id', '=', rt['oauth_token']!).executeTakeFirstOrThrow();
    assert.equal(stored.verifier, null);

    const reader = await providers.assignments.findGlobalRoleByName('reader');
    const at = await accessToken(consumer, [{ id: reader!.id }]);
    const login = await oauthLogin(consumer, at);
    assert.equal(login.status, 201, login.text);
    assert.deepEqual(login.json.token.roles.map((r: { name: string }) => r.name), ['reader']);

    // The reader token cannot do admin things even though its user can.
    const subject = login.headers.get('x-subject-token')!;
    assert.equal((await call('GET', '/v3/OS-OAUTH1/consumers', undefined, subject)).status, 403);
  });

  it('refuses authentication with a wrong access secret, another consumer or an expired access token', async () => {
    const consumer = await createConsumer();
    const at = await accessToken(consumer);
    assert.equal((await oauthLogin(consumer, at, '0'.repeat(32))).status, 401);
    const other = await createConsumer('other');
    assert.equal((await oauthLogin(other, at)).status, 401);
    const stale = jsSign({
      uri: `${base}/v3/auth/tokens`,
      consumerKey: consumer.id,
      consumerSecret: consumer.secret,
      token: at['oauth_token'],
      tokenSecret: at['oauth_token_secret'],
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    assert.equal((await http(base, 'POST', '/v3/auth/tokens', { headers: { Authorization: stale }, body: oauthAuthBody })).status, 401);
    assert.equal((await http(base, 'POST', '/v3/auth/tokens', { body: oauthAuthBody })).status, 401);
    assert.equal((await oauthLogin(consumer, at)).status, 201);

    await db().updateTable('access_token').set({ expires_at: '2000-01-01T00:00:00.000000Z' }).where('id', '=', at['oauth_token']!).execute();
    const expired = await oauthLogin(consumer, at);
    assert.equal(expired.status, 401);
  });

  it('revokes tokens issued through a consumer when the consumer is deleted', async () => {
    const consumer = await createConsumer();
    const at = await accessToken(consumer);
    const login = await oauthLogin(consumer, at);
    assert.equal(login.status, 201);
    const subject = login.headers.get('x-subject-token')!;
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject })).status, 200);

    assert.equal((await call('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`)).status, 204);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject })).status, 404);
    assert.equal(await db().selectFrom('access_token').where('consumer_id', '=', consumer.id).select('id').executeTakeFirst(), undefined);
    const events = await db().selectFrom('revocation_event').selectAll().where('consumer_id', '=', consumer.id).execute();
    assert.equal(events.length, 1);
  });

  it('verifies against [DEFAULT] public_endpoint when a proxy fronts the service', async () => {
    const proxied = await startTestServer(ctx.db(), { 'DEFAULT.public_endpoint': 'https://Keystone.Example:443/identity' });
    try {
      const adminToken = (await adminLogin(proxied.url)).token;
      const res = await http(proxied.url, 'POST', '/v3/OS-OAUTH1/consumers', { token: adminToken, body: { consumer: {} } });
      const consumer = res.json.consumer;
      assert.equal(consumer.links.self, `https://Keystone.Example:443/identity/v3/OS-OAUTH1/consumers/${consumer.id}`);
      const sign = (uri: string) => signer.sign({ consumer_key: consumer.id, consumer_secret: consumer.secret, uri, callback: 'oob' });
      const send = async (authorization: string) =>
        (await http(proxied.url, 'POST', '/v3/OS-OAUTH1/request_token', { headers: { Authorization: authorization, 'Requested-Project-Id': projectId } })).status;
      // What tempest signs with the catalog's endpoint (host case and default port normalized away).
      assert.equal(await send(await sign('https://keystone.example/identity/v3/OS-OAUTH1/request_token')), 201);
      // What reached us, with the public endpoint's scheme as Keystone's _update_url_scheme puts it.
      const direct = `${proxied.url}/v3/OS-OAUTH1/request_token`;
      assert.equal(await send(await sign(direct.replace(/^http:/, 'https:'))), 201);
      assert.equal(await send(await sign(direct)), 401);
      assert.equal(await send(await sign('https://keystone.example/other/v3/OS-OAUTH1/request_token')), 401);
    } finally {
      await proxied.close();
    }
  });
});

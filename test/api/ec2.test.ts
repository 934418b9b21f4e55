import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (alg: string, key: string | Buffer, data: string) => createHmac(alg, key).update(data, 'utf8').digest();
/** RFC 3986 percent-encoding, as AWS signers quote. */
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const canonicalQuery = (params: Record<string, string>) =>
  Object.keys(params)
    .sort()
    .map((k) => `${rfc3986(k)}=${rfc3986(params[k]!)}`)
    .join('&');
const amzDate = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** AWS signature version 2 (HmacSHA256) over verb, host, path and the sorted query. */
function signV2(secret: string, host: string, params: Record<string, string>) {
  const signed = { ...params, SignatureVersion: '2', SignatureMethod: 'HmacSHA256' };
  const signature = hmac('sha256', secret, `GET\n${host}\n/\n${canonicalQuery(signed)}`).toString('base64');
  return { signature, params: signed };
}

function signingKey(secret: string, date: string, region: string, service: string) {
  const kDate = hmac('sha256', `AWS4${secret}`, date);
  return hmac('sha256', hmac('sha256', hmac('sha256', kDate, region), service), 'aws4_request');
}

/** AWS signature version 4 with the Authorization header, as boto signs an EC2 API call. */
function signV4Header(access: string, secret: string, when: Date, verb = 'POST') {
  const date = amzDate(when);
  const scope = `${date.slice(0, 8)}/RegionOne/ec2/aws4_request`;
  const bodyHash = sha256('Action=DescribeInstances&Version=2016-11-15');
  const headers: Record<string, string> = { Host: 'ec2.example.org:8788', 'X-Amz-Date': date };
  const canonicalHeaders = `host:ec2.example.org:8788\nx-amz-date:${date}\n`;
  const canonical = [verb, '/', '', canonicalHeaders, 'host;x-amz-date', bodyHash].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  const signature = createHmac('sha256', signingKey(secret, scope.split('/')[0]!, 'RegionOne', 'ec2')).update(stringToSign).digest('hex');
  headers['Authorization'] = `AWS4-HMAC-SHA256 Credential=${access}/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`;
  return { access, signature, host: 'ec2.example.org:8788', verb, path: '/', params: {}, headers, body_hash: bodyHash };
}

describeEachDatabase('OS-EC2 credentials, /v3/ec2tokens and /v3/s3tokens', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let adminProjectId: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db());
    base = server.url;
    const login = await adminLogin(base);
    admin = login.token;
    adminProjectId = login.body.token.project.id;
  });
  after(async () => server?.close());

  const call = (method: string, p: string, body?: unknown, token = admin) => http(base, method, p, { token, body });
  const ec2tokens = (credentials: unknown, token = admin) => call('POST', '/v3/ec2tokens', { credentials }, token);
  const unauthorized = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

  it('creates, lists, shows and deletes a user’s EC2 credentials as tempest expects', async () => {
    const member = await projectUserToken(server, 'ec2-member', 'member');
    const asMember = (method: string, p: string, body?: unknown) => call(method, p, body, member.token);
    const res = await asMember('POST', `/v3/users/${member.userId}/credentials/OS-EC2`, { tenant_id: member.projectId });
    assert.equal(res.status, 201, res.text);
    const cred = res.json.credential;
    assert.deepEqual(Object.keys(cred), ['user_id', 'tenant_id', 'access', 'secret', 'trust_id', 'links']);
    assert.equal(cred.user_id, member.userId);
    assert.equal(cred.tenant_id, member.projectId);
    assert.match(cred.access, /^[0-9a-f]{32}$/);
    assert.match(cred.secret, /^[0-9a-f]{32}$/);
    assert.equal(cred.trust_id, null);
    assert.deepEqual(cred.links, { self: `${base}/v3/users/${member.userId}/credentials/OS-EC2/${cred.access}` });

    // It is a /v3/credentials row of type ec2 with the blob Keystone writes.
    const asV3 = await asMember('GET', `/v3/credentials/${sha256(cred.access)}`);
    assert.equal(asV3.status, 200);
    assert.equal(asV3.json.credential.type, 'ec2');
    assert.equal(asV3.json.credential.blob, `{"access": "${cred.access}", "secret": "${cred.secret}", "trust_id": null}`);

    const second = (await asMember('POST', `/v3/users/${member.userId}/credentials/OS-EC2`, { tenant_id: member.projectId })).json.credential;
    const list = await asMember('GET', `/v3/users/${member.userId}/credentials/OS-EC2`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.credentials.map((c: { access: string }) => c.access).sort(), [cred.access, second.access].sort());
    assert.deepEqual(list.json.links, { next: null, self: `${base}/v3/users/${member.userId}/credentials/OS-EC2`, previous: null });

    const shown = await asMember('GET', `/v3/users/${member.userId}/credentials/OS-EC2/${cred.access}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json.credential, cred);
    assert.equal((await asMember('HEAD', `/v3/users/${member.userId}/credentials/OS-EC2/${cred.access}`)).status, 200);

    assert.equal((await asMember('DELETE', `/v3/users/${member.userId}/credentials/OS-EC2/${cred.access}`)).status, 204);
    const gone = await asMember('GET', `/v3/users/${member.userId}/credentials/OS-EC2/${cred.access}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json, { error: { code: 404, message: `Could not find credential: ${sha256(cred.access)}.`, title: 'Not Found' } });
    assert.equal((await asMember('DELETE', `/v3/users/${member.userId}/credentials/OS-EC2/${second.access}`)).status, 204);
  });

  it('keeps members to their own EC2 credentials and answers Keystone’s 401/404s', async () => {
    const alice = await projectUserToken(server, 'ec2-alice', 'member');
    const bob = await projectUserToken(server, 'ec2-bob', 'member');
    const bobs = (await call('POST', `/v3/users/${bob.userId}/credentials/OS-EC2`, { tenant_id: bob.projectId }, bob.token)).json.credential;
    const denied = async (method: string, p: string, action: string, body?: unknown) => {
      const res = await call(method, p, body, alice.token);
      assert.equal(res.status, 403, `${method} ${p} ${res.text}`);
      assert.equal(res.json.error.message, `You are not authorized to perform the requested action: identity:${action}.`);
    };
    await denied('POST', `/v3/users/${bob.userId}/credentials/OS-EC2`, 'ec2_create_credential', { tenant_id: bob.projectId });
    await denied('GET', `/v3/users/${bob.userId}/credentials/OS-EC2`, 'ec2_list_credentials');
    await denied('GET', `/v3/users/${bob.userId}/credentials/OS-EC2/${bobs.access}`, 'ec2_get_credential');
    // The owner check is on the credential, not on the path.
    await denied('GET', `/v3/users/${alice.userId}/credentials/OS-EC2/${bobs.access}`, 'ec2_get_credential');
    await denied('DELETE', `/v3/users/${alice.userId}/credentials/OS-EC2/${bobs.access}`, 'ec2_delete_credential');

    const notFound = async (method: string, p: string, message: string, body?: unknown) => {
      const res = await call(method, p, body);
      assert.equal(res.status, 404, `${method} ${p} ${res.text}`);
      assert.equal(res.json.error.message, message);
    };
    await notFound('POST', '/v3/users/nobody/credentials/OS-EC2', 'Could not find user: nobody.', { tenant_id: adminProjectId });
    await notFound('GET', '/v3/users/nobody/credentials/OS-EC2', 'Could not find user: nobody.');
    await notFound('POST', `/v3/users/${bob.userId}/credentials/OS-EC2`, 'Could not find project: None.', {});
    await notFound('POST', `/v3/users/${bob.userId}/credentials/OS-EC2`, 'Could not find project: nope.', { tenant_id: 'nope' });
    await notFound('GET', `/v3/users/${bob.userId}/credentials/OS-EC2/unknown`, `Could not find credential: ${sha256('unknown')}.`);

    // A credential whose id is an access-key hash but whose type is not exactly `ec2` is no
    // EC2 credential: Keystone answers 401 here and 404 at ec2tokens.
    const odd = await call('POST', '/v3/credentials', { credential: { user_id: bob.userId, type: 'EC2', blob: '{"access": "odd-access", "secret": "s"}' } });
    assert.equal(odd.status, 201, odd.text);
    assert.equal(odd.json.credential.id, sha256('odd-access'));
    const oddShow = await call('GET', `/v3/users/${bob.userId}/credentials/OS-EC2/odd-access`);
    assert.equal(oddShow.status, 401);
    assert.deepEqual(oddShow.json, unauthorized);
    const oddToken = await ec2tokens({ access: 'odd-access', signature: 'x', host: 'h', verb: 'GET', path: '/', params: { SignatureVersion: '2' } });
    assert.equal(oddToken.status, 404);
    assert.equal(oddToken.json.error.message, 'EC2 access key not found.');
  });

  it('validates EC2 signatures v0, v1, v2 and v4 and issues an ec2credential token for the credential’s project', async () => {
    const owner = await projectUserToken(server, 'ec2-owner', 'member');
    const { access, secret } = (await call('POST', `/v3/users/${owner.userId}/credentials/OS-EC2`, { tenant_id: owner.projectId }, owner.token)).json.credential;
    const now = new Date();
    const timestamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');

    const v2 = signV2(secret, 'ec2.example.org:8773', { AWSAccessKeyId: access, Action: 'DescribeInstances', Timestamp: timestamp, Version: '2016-11-15' });
    const res = await ec2tokens({ access, signature: v2.signature, host: 'ec2.example.org:8773', verb: 'GET', path: '/', params: v2.params });
    assert.equal(res.status, 200, res.text);
    const subject = res.headers.get('x-subject-token')!;
    assert.ok(subject.startsWith('gAAAAA'));
    assert.ok(!res.text.endsWith('\n'));
    const token = res.json.token;
    assert.deepEqual(token.methods, ['ec2credential']);
    assert.equal(token.user.id, owner.userId);
    assert.equal(token.project.id, owner.projectId);
    assert.deepEqual(token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    assert.ok(Array.isArray(token.catalog) && token.catalog.length > 0);
    // The token validates as the subject, but cannot be anyone's X-Auth-Token.
    const validated = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject });
    assert.equal(validated.status, 200, validated.text);
    assert.deepEqual(validated.json.token.methods, ['ec2credential']);
    const asCaller = await call('GET', `/v3/users/${owner.userId}`, undefined, subject);
    assert.equal(asCaller.status, 403);
    assert.equal(asCaller.json.error.message, 'You are not authorized to perform the requested action.');

    // Some clients sign the host without its port.
    const noPort = signV2(secret, 'ec2.example.org', { AWSAccessKeyId: access, Action: 'DescribeRegions', Timestamp: timestamp });
    assert.equal((await ec2tokens({ access, signature: noPort.signature, host: 'ec2.example.org:8773', verb: 'GET', path: '/', params: noPort.params })).status, 200);

    const v0 = hmac('sha1', secret, `DescribeInstances${timestamp}`).toString('base64');
    assert.equal((await ec2tokens({ access, signature: v0, params: { SignatureVersion: '0', Action: 'DescribeInstances', Timestamp: timestamp } })).status, 200);

    const v1Params: Record<string, string> = { SignatureVersion: '1', Action: 'DescribeImages', AWSAccessKeyId: access, Timestamp: timestamp, version: '1' };
    const v1Keys = Object.keys(v1Params).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    const v1 = hmac('sha1', secret, v1Keys.map((k) => k + v1Params[k]).join('')).toString('base64');
    assert.equal((await ec2tokens({ access, signature: v1, params: v1Params })).status, 200);

    const v4 = signV4Header(access, secret, now);
    const v4res = await call('POST', '/v3/ec2tokens', { ec2Credentials: v4 });
    assert.equal(v4res.status, 200, v4res.text);
    assert.deepEqual(v4res.json.token.methods, ['ec2credential']);

    // v4 with the authentication in the query string (a presigned GET).
    const date = amzDate(now);
    const scope = `${date.slice(0, 8)}/RegionOne/ec2/aws4_request`;
    const query: Record<string, string> = {
      Action: 'DescribeVolumes',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `${access}/${scope}`,
      'X-Amz-Date': date,
      'X-Amz-SignedHeaders': 'host',
    };
    const canonical = ['GET', '/', canonicalQuery(query), 'host:ec2.example.org\n', 'host', sha256('')].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
    const qsig = createHmac('sha256', signingKey(secret, date.slice(0, 8), 'RegionOne', 'ec2')).update(stringToSign).digest('hex');
    const presigned = await ec2tokens({ access, signature: qsig, host: 'ec2.example.org', verb: 'GET', path: '/', params: query, headers: { Host: 'ec2.example.org' }, body_hash: sha256('') });
    assert.equal(presigned.status, 200, presigned.text);

    // Refusals: wrong secret, missing signature, stale or unreadable timestamp, v4 date outside its scope.
    const forged = signV2('not-the-secret', 'ec2.example.org', { AWSAccessKeyId: access, Action: 'DescribeInstances', Timestamp: timestamp });
    for (const credentials of [
      { access, signature: forged.signature, host: 'ec2.example.org', verb: 'GET', path: '/', params: forged.params },
      { access, host: 'ec2.example.org', verb: 'GET', path: '/', params: v2.params },
      { access, signature: v2.signature, host: 'ec2.example.org', verb: 'GET', path: '/', params: { SignatureVersion: '9' } },
      { access },
      signV4Header(access, secret, new Date(now.getTime() - 3600_000)),
      { ...signV4Header(access, secret, now), headers: { ...signV4Header(access, secret, now).headers, 'X-Amz-Date': '19990101T000000Z' } },
    ]) {
      const refused = await ec2tokens(credentials);
      assert.equal(refused.status, 401, JSON.stringify(credentials) + refused.text);
      assert.deepEqual(refused.json, unauthorized);
      assert.ok(refused.headers.get('www-authenticate'));
    }
    const stale = new Date(now.getTime() - 16 * 60_000).toISOString();
    const staleSig = signV2(secret, 'h', { Action: 'A', Timestamp: stale });
    assert.equal((await ec2tokens({ access, signature: staleSig.signature, host: 'h', verb: 'GET', path: '/', params: staleSig.params })).status, 401);
    const badTime = signV2(secret, 'h', { Action: 'A', Timestamp: 'yesterday' });
    assert.equal((await ec2tokens({ access, signature: badTime.signature, host: 'h', verb: 'GET', path: '/', params: badTime.params })).status, 401);
    // Not stale within [credential] auth_ttl (15 minutes).
    const recent = signV2(secret, 'h', { Action: 'A', Timestamp: new Date(now.getTime() - 14 * 60_000).toISOString() });
    assert.equal((await ec2tokens({ access, signature: recent.signature, host: 'h', verb: 'GET', path: '/', params: recent.params })).status, 200);

    const unknown = await ec2tokens({ access: 'no-such-key', signature: 'x' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json, { error: { code: 404, message: 'EC2 access key not found.', title: 'Not Found' } });
    for (const body of [undefined, {}, { credentials: {} }]) {
      const empty = await call('POST', '/v3/ec2tokens', body);
      if (body && 'credentials' in body) {
        assert.equal(empty.status, 401);
        continue;
      }
      assert.equal(empty.status, 400);
      assert.equal(empty.json.error.message, 'request must include a request body');
    }
    assert.equal((await call('GET', '/v3/ec2tokens')).status, 405);

    // service_or_admin: a member may not validate, a service user may.
    const denied = await ec2tokens({ access, signature: v2.signature, host: 'ec2.example.org:8773', verb: 'GET', path: '/', params: v2.params }, owner.token);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:ec2tokens_validate.');
    const service = await projectUserToken(server, 'ec2-service', 'service');
    assert.equal((await ec2tokens({ access, signature: v2.signature, host: 'ec2.example.org:8773', verb: 'GET', path: '/', params: v2.params }, service.token)).status, 200);
  });

  it('refuses a token to a disabled user or one without a role on the credential’s project', async () => {
    const user = (await call('POST', '/v3/users', { user: { name: 'ec2-roleless' } })).json.user;
    const blob = JSON.stringify({ access: 'roleless-access', secret: 'roleless-secret' });
    assert.equal((await call('POST', '/v3/credentials', { credential: { user_id: user.id, project_id: adminProjectId, type: 'ec2', blob } })).status, 201);
    const signed = signV2('roleless-secret', 'h', { Action: 'A' });
    const request = { access: 'roleless-access', signature: signed.signature, host: 'h', verb: 'GET', path: '/', params: signed.params };
    const roleless = await ec2tokens(request);
    assert.equal(roleless.status, 401);
    assert.deepEqual(roleless.json, unauthorized);

    const member = await projectUserToken(server, 'ec2-disabled', 'member');
    const { access, secret } = (await call('POST', `/v3/users/${member.userId}/credentials/OS-EC2`, { tenant_id: member.projectId }, member.token)).json.credential;
    const ok = signV2(secret, 'h', { Action: 'A' });
    const req = { access, signature: ok.signature, host: 'h', verb: 'GET', path: '/', params: ok.params };
    assert.equal((await ec2tokens(req)).status, 200);
    assert.equal((await call('PATCH', `/v3/users/${member.userId}`, { user: { enabled: false } })).status, 200);
    assert.equal((await ec2tokens(req)).status, 401);
  });

  it('validates S3 signatures v1 and v4 and answers the token body without X-Subject-Token', async () => {
    const owner = await projectUserToken(server, 's3-owner', 'member');
    const { access, secret } = (await call('POST', `/v3/users/${owner.userId}/credentials/OS-EC2`, { tenant_id: owner.projectId }, owner.token)).json.credential;
    const s3tokens = (credentials: unknown) => call('POST', '/v3/s3tokens', { credentials });

    const v1String = 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/bucket/photo.jpg';
    const v1 = await s3tokens({ access, token: Buffer.from(v1String).toString('base64url'), signature: hmac('sha1', secret, v1String).toString('base64') });
    assert.equal(v1.status, 200, v1.text);
    assert.equal(v1.headers.get('x-subject-token'), null);
    assert.deepEqual(v1.json.token.methods, ['ec2credential']);
    assert.equal(v1.json.token.project.id, owner.projectId);

    const v4String = ['AWS4-HMAC-SHA256', '20240101T000000Z', '20240101/RegionOne/s3/aws4_request', sha256('canonical request')].join('\n');
    const v4sig = createHmac('sha256', signingKey(secret, '20240101', 'RegionOne', 's3')).update(v4String).digest('hex');
    assert.equal((await s3tokens({ access, token: Buffer.from(v4String).toString('base64'), signature: v4sig })).status, 200);

    for (const credentials of [
      { access, token: Buffer.from(v1String).toString('base64'), signature: 'bad' },
      // A v4 string-to-sign for a service other than s3, iam or sts is refused even when signed.
      {
        access,
        token: Buffer.from(v4String.replace('/s3/', '/ec2/')).toString('base64'),
        signature: createHmac('sha256', signingKey(secret, '20240101', 'RegionOne', 'ec2')).update(v4String.replace('/s3/', '/ec2/')).digest('hex'),
      },
      { access, signature: 'no token' },
    ]) {
      const refused = await s3tokens(credentials);
      assert.equal(refused.status, 401, refused.text);
      assert.deepEqual(refused.json, unauthorized);
    }
  });
});

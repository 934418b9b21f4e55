import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { projectPath } from '../../src/common/paths.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { KEYSTONE_PYTHON, requireKeystonePython } from '../support/keystone-python.js';
import { adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

type Item =
  | { op: 'decrypt'; credential: { type: string; encrypted_blob: string; key_hash: string } }
  | { op: 'encrypt'; credential: { type: string; blob: unknown } }
  | { op: 'sign'; secret: string; credentials: unknown };

/** Runs upstream's credential Manager/Provider and keystoneclient's Ec2Signer (keystone_credential.py). */
function upstream<T>(keyRepository: string, items: Item[]): T[] {
  const run = spawnSync(KEYSTONE_PYTHON, [projectPath('test', 'support', 'keystone_credential.py')], {
    input: JSON.stringify({ key_repository: keyRepository, items }),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`keystone_credential.py failed (${run.status}):\n${run.stderr}`);
  return (JSON.parse(run.stdout) as { results: T[] }).results;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * One credential table, one credential key repository, two implementations: upstream Keystone
 * decrypts the rows this server writes, this server serves the rows Keystone writes, and accepts
 * the EC2 signatures keystoneclient computes.
 */
describe('credentials shared with upstream Keystone', function () {
  let db: Db;
  let server: TestServer;
  let admin: string;
  let userId: string;
  let projectId: string;
  let keys: string;

  before(async function () {
    requireKeystonePython(this);
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
    keys = path.join(server.dir, 'credential-keys');
    const login = await adminLogin(server.url);
    admin = login.token;
    userId = login.body.token.user.id;
    projectId = login.body.token.project.id;
  });
  after(async () => {
    await server?.close();
    await db?.close();
  });

  const call = (method: string, p: string, body?: unknown) => http(server.url, method, p, { token: admin, body });

  it('upstream decrypts the blobs this server stores, with the same key_hash', async () => {
    const served: { id: string; blob: string }[] = [];
    for (const credential of [
      { user_id: userId, type: 'cert', blob: 'PEM with ünïcode' },
      { user_id: userId, type: 'totp', blob: 'GEZDGNBVGY3TQOJQ' },
      { user_id: userId, project_id: projectId, type: 'ec2', blob: '{"access": "ours-access", "secret": "ours-secret"}' },
    ]) {
      const res = await call('POST', '/v3/credentials', { credential });
      assert.equal(res.status, 201, res.text);
      served.push(res.json.credential);
    }
    const ec2 = (await call('POST', `/v3/users/${userId}/credentials/OS-EC2`, { tenant_id: projectId })).json.credential;
    served.push((await call('GET', `/v3/credentials/${sha256(ec2.access)}`)).json.credential);

    const rows = await db.kysely.selectFrom('credential').selectAll().where('id', 'in', served.map((c) => c.id)).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const decrypted = upstream<{ blob: string }>(
      keys,
      served.map((c) => {
        const row = byId.get(c.id)!;
        return { op: 'decrypt', credential: { type: row.type, encrypted_blob: row.encrypted_blob, key_hash: row.key_hash } };
      }),
    );
    assert.deepEqual(decrypted.map((d) => d.blob), served.map((c) => c.blob));

    const [probe] = upstream<{ key_hash: string }>(keys, [{ op: 'encrypt', credential: { type: 'cert', blob: 'x' } }]);
    for (const row of rows) assert.equal(row.key_hash, probe!.key_hash);
  });

  it('serves the rows upstream writes, legacy ec2 objects included, and takes them to ec2tokens with keystoneclient’s signatures', async () => {
    const written = [
      { id: 'a'.repeat(32), type: 'cert', blob: 'upstream PEM', project_id: null },
      { id: sha256('up-access'), type: 'ec2', blob: '{"access": "up-access", "secret": "up-secret"}', project_id: projectId },
      // Before bug #1259584 Keystone stored the ec2 blob as an object.
      { id: sha256('legacy-access'), type: 'ec2', blob: { access: 'legacy-access', secret: 'legacy-secret' }, project_id: projectId },
    ];
    const encrypted = upstream<{ encrypted_blob: string; key_hash: string }>(
      keys,
      written.map((c) => ({ op: 'encrypt', credential: { type: c.type, blob: c.blob } })),
    );
    for (const [i, c] of written.entries()) {
      await db.kysely
        .insertInto('credential')
        .values({ id: c.id, user_id: userId, project_id: c.project_id, type: c.type, extra: '{}', key_hash: encrypted[i]!.key_hash, encrypted_blob: encrypted[i]!.encrypted_blob })
        .execute();
    }
    const blobs = await Promise.all(written.map(async (c) => (await call('GET', `/v3/credentials/${c.id}`)).json.credential.blob));
    assert.deepEqual(blobs, ['upstream PEM', '{"access": "up-access", "secret": "up-secret"}', '{"access": "legacy-access", "secret": "legacy-secret"}']);
    const legacy = (await call('GET', `/v3/users/${userId}/credentials/OS-EC2/legacy-access`)).json.credential;
    assert.equal(legacy.secret, 'legacy-secret');

    const v2 = { access: 'up-access', host: 'ec2.example.org:8773', verb: 'GET', path: '/', params: { SignatureVersion: '2', Action: 'DescribeInstances', AWSAccessKeyId: 'up-access', 'Odd Key*': "it's (ok)!" } };
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const v4 = {
      access: 'legacy-access',
      host: 'ec2.example.org',
      verb: 'GET',
      path: '/',
      params: { Action: 'DescribeRegions', Version: '2016-11-15' },
      headers: {
        Host: 'ec2.example.org',
        'X-Amz-Date': date,
        Authorization: `AWS4-HMAC-SHA256 Credential=legacy-access/${date.slice(0, 8)}/RegionOne/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=x`,
      },
      body_hash: sha256(''),
    };
    const [s2, s4] = upstream<{ signature: string }>(keys, [
      { op: 'sign', secret: 'up-secret', credentials: v2 },
      { op: 'sign', secret: 'legacy-secret', credentials: v4 },
    ]);
    for (const request of [{ ...v2, signature: s2!.signature }, { ...v4, signature: s4!.signature }]) {
      const res = await call('POST', '/v3/ec2tokens', { credentials: request });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.token.methods, ['ec2credential']);
      assert.equal(res.json.token.project.id, projectId);
    }
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { TokenInspection } from '../../src/token/formatter.js';
import { keystone, requireKeystonePython } from '../support/keystone-python.js';
import { adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

/** What Keystone's validate_token returns, in `token inspect`'s shape, or why it refused. */
type KeystoneDecoded = TokenInspection & { error?: string };

/**
 * "Both ways, checked by Keystone itself": tokens this server hands out over HTTP, for every
 * scope it issues, are decoded by upstream Keystone's Fernet provider with the server's own key
 * repository and [auth] methods, and must say what our validation says.
 */
describe('upstream Keystone decodes tokens served over HTTP', function () {
  let db: Db;
  let server: TestServer;

  before(async function () {
    requireKeystonePython(this);
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
    const { providers } = server.service;
    const admin = await providers.identity.findUserByName('admin', 'default');
    const role = await providers.assignments.findGlobalRoleByName('admin');
    await providers.assignments.grant('UserDomain', admin!.id, 'default', role!.id);
  });
  after(async () => {
    await server?.close();
    await db?.close();
  });

  it('project, domain, system, unscoped and rescoped tokens decode to the same fields', async () => {
    const logins = [
      await adminLogin(server.url),
      await adminLogin(server.url, { domain: { id: 'default' } }),
      await adminLogin(server.url, { system: { all: true } }),
      await adminLogin(server.url, 'unscoped'),
    ];
    const rescoped = await http(server.url, 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['token'], token: { id: logins[3]!.token } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } },
    });
    const tokens = [...logins.map((l) => l.token), rescoped.headers.get('x-subject-token')!];
    const decoded = keystone<KeystoneDecoded>({
      command: 'validate',
      config: { key_repository: path.join(server.dir, 'fernet-keys'), auth_methods: server.config.auth.methods, default_domain_id: 'default' },
      items: tokens,
    });
    for (const [i, token] of tokens.entries()) {
      const ours = (await http(server.url, 'GET', '/v3/auth/tokens', { token: tokens[0]!, subject: token })).json.token;
      const theirs = decoded[i]!;
      assert.equal(theirs.error, undefined, `Keystone refused token ${i}: ${JSON.stringify(theirs)}`);
      assert.equal(theirs.user_id, ours.user.id);
      assert.deepEqual(theirs.methods, ours.methods);
      assert.deepEqual(theirs.audit_ids, ours.audit_ids);
      assert.equal(theirs.project_id, ours.project?.id ?? null);
      assert.equal(theirs.domain_id, ours.domain?.id ?? null);
      assert.equal(theirs.system, ours.system ? 'all' : null);
      assert.equal(theirs.issued_at, ours.issued_at);
      assert.equal(theirs.expires_at, ours.expires_at);
    }
    assert.equal(decoded[4]!.audit_ids[1], decoded[3]!.audit_ids[0], 'the rescoped token carries the audit chain');
  });
});

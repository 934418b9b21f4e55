import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/common/errors.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { PolicySyntaxError } from '../../src/policy/oslo.js';
import { createOsloEngine } from '../../src/policy/pdp.js';
import { loadPolicyOverrides, parsePolicyFile } from '../../src/policy/policy-file.js';
import { adminLogin, http, projectUserToken, startTestServer } from '../support/server.js';

const SAMPLE_YAML = `# A policy.yaml as operators keep it
#"identity:get_user": "rule:admin_required"
"identity:get_auth_catalog": "role:admin"
cloud_admin: "role:admin and system_scope:all"
"identity:list_users": rule:cloud_admin or
  (role:reader and domain_id:%(target.domain_id)s)
'identity:get_region': ''
`;

describe('operator policy files (oslo.policy YAML / JSON)', () => {
  it('reads the YAML oslopolicy tools write: quotes, comments, folded lines, empty rules', () => {
    assert.deepEqual(parsePolicyFile(SAMPLE_YAML, 'policy.yaml'), {
      'identity:get_auth_catalog': 'role:admin',
      cloud_admin: 'role:admin and system_scope:all',
      'identity:list_users': 'rule:cloud_admin or (role:reader and domain_id:%(target.domain_id)s)',
      'identity:get_region': '',
    });
    assert.deepEqual(parsePolicyFile('{"identity:get_user": "role:admin"}', 'policy.json'), { 'identity:get_user': 'role:admin' });
  });

  it('refuses shapes it does not understand, with the line', () => {
    assert.throws(() => parsePolicyFile('"a": [1, 2]\n', 'p.yaml'), /p\.yaml:1: .*only string check strings/);
    assert.throws(() => parsePolicyFile('  indented: x\n', 'p.yaml'), /p\.yaml:1: unexpected indentation/);
    assert.throws(() => parsePolicyFile('no colon here\n', 'p.yaml'), /p\.yaml:1: expected/);
    assert.throws(() => parsePolicyFile('{"a": 1}', 'p.json'), /must be a string/);
  });

  it('refuses unknown action names and unparsable check strings at load, accepts alias rules', () => {
    const defaults = loadPolicyRules();
    const engine = (overrides: Record<string, string>) => createOsloEngine({ defaults, overrides, enforceScope: true, enforceNewDefaults: true });
    assert.throws(() => engine({ 'identity:get_usr': 'role:admin' }), PolicySyntaxError);
    assert.throws(() => engine({ 'identity:get_user': 'role:admin and (' }), PolicySyntaxError);
    assert.throws(() => engine({ 'identity:get_user': 'rule:no_such_alias' }), /unknown rule/);
    assert.doesNotThrow(() => engine({ cloud_admin: 'role:admin', 'identity:get_user': 'rule:cloud_admin' }));
  });

  it('finds a relative policy_file next to the configuration file; a missing default is no override', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kts-policy-'));
    try {
      writeFileSync(path.join(dir, 'policy.yaml'), SAMPLE_YAML);
      const conf = path.join(dir, 'keystone.conf');
      assert.equal(loadPolicyOverrides('policy.yaml', [conf], true)['identity:get_auth_catalog'], 'role:admin');
      assert.deepEqual(loadPolicyOverrides('policy.yaml', [path.join(tmpdir(), 'elsewhere', 'keystone.conf')], true), {});
      assert.throws(() => loadPolicyOverrides('custom.yaml', [conf], false), ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('an override takes effect on the API', () => {
    let db: Db;
    let dir: string;
    before(async () => {
      db = await openDatabase('pglite://memory');
      await migrateToLatest(db);
      dir = mkdtempSync(path.join(tmpdir(), 'kts-policy-'));
      writeFileSync(path.join(dir, 'tight.yaml'), '"identity:get_auth_catalog": "role:admin"\n');
    });
    after(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('tightens identity:get_auth_catalog to admins only', async () => {
      const server = await startTestServer(db, { 'oslo_policy.policy_file': path.join(dir, 'tight.yaml') });
      try {
        const member = await projectUserToken(server, 'catalog-reader', 'member');
        const denied = await http(server.url, 'GET', '/v3/auth/catalog', { token: member.token });
        assert.equal(denied.status, 403);
        assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:get_auth_catalog.');
        const { token } = await adminLogin(server.url);
        assert.equal((await http(server.url, 'GET', '/v3/auth/catalog', { token })).status, 200);
      } finally {
        await server.close();
      }
    });
  });
});

import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/domains/{domain_id}/config', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let member: string;
  let domain: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'security_compliance.password_regex': '^.{8,}$', 'security_compliance.password_regex_description': 'at least 8', 'ldap.page_size': '7' });
    base = server.url;
    admin = (await adminLogin(base)).token;
    member = (await projectUserToken(server, 'molly', 'member')).token;
  });
  after(async () => server?.close());

  const call = (method: 'GET' | 'HEAD' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, token = admin) =>
    http(base, method, path, { token, ...(body === undefined ? {} : { body }) });

  beforeEach(async () => {
    const created = await http(base, 'POST', '/v3/domains', { token: admin, body: { domain: { name: `cfg-${Math.random().toString(36).slice(2)}` } } });
    assert.equal(created.status, 201);
    domain = created.json.domain.id as string;
  });

  const custom = { identity: { driver: 'ldap' }, ldap: { url: 'ldap://example.com', user_tree_dn: 'ou=Users,dc=example', password: 's3cret' } };

  it('creates (201, then 200 when one existed), never serving sensitive options, and reads groups and options', async () => {
    const created = await call('PUT', `/v3/domains/${domain}/config`, { config: custom });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json.config, { identity: { driver: 'ldap' }, ldap: { url: 'ldap://example.com', user_tree_dn: 'ou=Users,dc=example' } });
    assert.ok(!created.text.includes('s3cret'));
    const again = await call('PUT', `/v3/domains/${domain}/config`, { config: { identity: { driver: 'sql' } } });
    assert.equal(again.status, 200);
    // Create replaces: the ldap group is gone.
    assert.deepEqual(again.json.config, { identity: { driver: 'sql' } });
    await call('PUT', `/v3/domains/${domain}/config`, { config: custom });
    assert.deepEqual((await call('GET', `/v3/domains/${domain}/config`)).json.config, created.json.config);
    assert.equal((await call('HEAD', `/v3/domains/${domain}/config`)).status, 200);
    assert.deepEqual((await call('GET', `/v3/domains/${domain}/config/ldap`)).json.config, { ldap: { url: 'ldap://example.com', user_tree_dn: 'ou=Users,dc=example' } });
    assert.deepEqual((await call('GET', `/v3/domains/${domain}/config/ldap/url`)).json.config, { url: 'ldap://example.com' });
    const password = await call('GET', `/v3/domains/${domain}/config/ldap/password`);
    assert.equal(password.status, 404);
    assert.ok(!password.text.includes('s3cret'));
  });

  it('updates the whole config, one group, or one option, and deletes each', async () => {
    await call('PUT', `/v3/domains/${domain}/config`, { config: custom });
    const merged = await call('PATCH', `/v3/domains/${domain}/config`, { config: { identity: { list_limit: 5 } } });
    assert.equal(merged.status, 200);
    assert.deepEqual(merged.json.config.identity, { driver: 'ldap', list_limit: 5 });
    const group = await call('PATCH', `/v3/domains/${domain}/config/identity`, { config: { identity: { driver: 'sql' } } });
    assert.equal(group.status, 200);
    assert.deepEqual(group.json.config.identity, { driver: 'sql', list_limit: 5 });
    const option = await call('PATCH', `/v3/domains/${domain}/config/ldap/url`, { config: { url: 'ldap://other' } });
    assert.equal(option.status, 200);
    assert.equal(option.json.config.ldap.url, 'ldap://other');

    const wrongGroup = await call('PATCH', `/v3/domains/${domain}/config/identity`, { config: { ldap: { url: 'x' } } });
    assert.equal(wrongGroup.status, 403);
    assert.equal(wrongGroup.json.error.message, 'Invalid domain specific configuration: request to update group identity, but config provided contains group ldap instead.');
    const absent = await call('PATCH', `/v3/domains/${domain}/config/ldap/suffix`, { config: { suffix: 'dc=x' } });
    assert.equal(absent.status, 404);
    assert.equal(absent.json.error.message, `Could not find option suffix in group ldap in domain configuration for domain ${domain}.`);

    // A falsy value is still a value that can be deleted on its own (Keystone cannot).
    await call('PATCH', `/v3/domains/${domain}/config/identity/list_limit`, { config: { list_limit: 0 } });
    assert.equal((await call('DELETE', `/v3/domains/${domain}/config/identity/list_limit`)).status, 204);
    assert.equal((await call('GET', `/v3/domains/${domain}/config/identity/list_limit`)).status, 404);
    assert.equal((await call('DELETE', `/v3/domains/${domain}/config/identity`)).status, 204);
    assert.equal((await call('GET', `/v3/domains/${domain}/config/identity`)).status, 404);
    assert.equal((await call('DELETE', `/v3/domains/${domain}/config/identity`)).status, 404);
    assert.equal((await call('DELETE', `/v3/domains/${domain}/config`)).status, 204);
    const gone = await call('GET', `/v3/domains/${domain}/config`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.message, `Could not find any options in domain configuration for domain ${domain}.`);
  });

  it('refuses unsupported groups and options and empty configs (403), bad shapes (400) and unknown domains (404), storing nothing', async () => {
    const cases: [unknown, number, string][] = [
      [{ config: {} }, 403, 'Invalid domain specific configuration: No options specified.'],
      [{ config: { identity: {} } }, 403, 'Invalid domain specific configuration: The value of group identity specified in the config should be a dictionary of options.'],
      [{ config: { identity: 'sql' } }, 403, 'Invalid domain specific configuration: The value of group identity specified in the config should be a dictionary of options.'],
      [{ config: { assignment: { driver: 'sql' } } }, 403, 'Invalid domain specific configuration: Group assignment is not supported for domain specific configurations.'],
      [{ config: { ldap: { nope: 1 } } }, 403, 'Invalid domain specific configuration: Option nope in group ldap is not supported for domain specific configurations.'],
      [{ config: ['identity'] }, 400, ''],
    ];
    for (const [body, status, message] of cases) {
      const res = await call('PUT', `/v3/domains/${domain}/config`, body);
      assert.equal(res.status, status, JSON.stringify(body));
      if (message) assert.equal(res.json.error.message, message);
    }
    assert.equal((await call('GET', `/v3/domains/${domain}/config`)).status, 404);
    assert.equal((await call('PUT', '/v3/domains/nope/config', { config: custom })).status, 404);
    assert.equal((await call('GET', '/v3/domains/nope/config')).status, 404);
  });

  it('serves the defaults this process runs with', async () => {
    const all = await call('GET', '/v3/domains/config/default');
    assert.equal(all.status, 200);
    assert.deepEqual(Object.keys(all.json.config).sort(), ['identity', 'ldap']);
    assert.deepEqual(all.json.config.identity, { driver: 'sql', list_limit: null });
    assert.equal(all.json.config.ldap.page_size, 7);
    assert.ok(!('password' in all.json.config.ldap));
    assert.deepEqual((await call('GET', '/v3/domains/config/identity/default')).json.config, { identity: { driver: 'sql', list_limit: null } });
    assert.deepEqual((await call('GET', '/v3/domains/config/ldap/page_size/default')).json.config, { page_size: 7 });
    const sensitive = await call('GET', '/v3/domains/config/ldap/password/default');
    assert.equal(sensitive.status, 403);
    assert.equal(sensitive.json.error.message, 'Invalid domain specific configuration: Reading the default for option password in group ldap is not supported.');
    assert.equal((await call('GET', '/v3/domains/config/resource/default')).status, 403);
  });

  it('lets any authenticated user read the password rules of the default domain, and only those', async () => {
    const rules = await call('GET', '/v3/domains/default/config/security_compliance', undefined, member);
    assert.equal(rules.status, 200);
    assert.deepEqual(rules.json.config, { security_compliance: { password_regex: '^.{8,}$', password_regex_description: 'at least 8' } });
    const one = await call('GET', '/v3/domains/default/config/security_compliance/password_regex', undefined, member);
    assert.deepEqual(one.json.config, { password_regex: '^.{8,}$' });
    assert.equal((await call('GET', '/v3/domains/default/config/security_compliance/lockout_duration', undefined, member)).status, 403);
    assert.equal((await call('GET', `/v3/domains/${domain}/config/security_compliance`, undefined, member)).status, 403);
  });

  it('is admin-only otherwise: a member is refused before the domain is looked up', async () => {
    await call('PUT', `/v3/domains/${domain}/config`, { config: custom });
    for (const [method, path, action] of [
      ['GET', `/v3/domains/${domain}/config`, 'identity:get_domain_config'],
      ['GET', '/v3/domains/nope/config', 'identity:get_domain_config'],
      ['PUT', `/v3/domains/${domain}/config`, 'identity:create_domain_config'],
      ['PATCH', `/v3/domains/${domain}/config/identity`, 'identity:update_domain_config'],
      ['DELETE', `/v3/domains/${domain}/config`, 'identity:delete_domain_config'],
      ['GET', '/v3/domains/config/default', 'identity:get_domain_config_default'],
    ] as const) {
      const res = await call(method, path, method === 'PUT' || method === 'PATCH' ? { config: { identity: { driver: 'x' } } } : undefined, member);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
    }
    assert.deepEqual((await call('GET', `/v3/domains/${domain}/config/identity`)).json.config, { identity: { driver: 'ldap' } });
  });

  it('is deleted with its domain', async () => {
    await call('PUT', `/v3/domains/${domain}/config`, { config: custom });
    assert.equal((await http(base, 'PATCH', `/v3/domains/${domain}`, { token: admin, body: { domain: { enabled: false } } })).status, 200);
    assert.equal((await http(base, 'DELETE', `/v3/domains/${domain}`, { token: admin })).status, 204);
    const rows = await server.service.db.kysely.selectFrom('whitelisted_config').select('option').where('domain_id', '=', domain).execute();
    const secret = await server.service.db.kysely.selectFrom('sensitive_config').select('option').where('domain_id', '=', domain).execute();
    assert.deepEqual([rows.length, secret.length], [0, 0]);
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/index.js';

// dist/test/config/ → the fixtures stay in the source tree.
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/config');
const KEYSTONE_CONF = path.join(fixtures, 'keystone.conf');
const LOCAL_CONF = path.join(fixtures, 'keystone-ts.conf');

describe('config: an operator’s keystone.conf (test/fixtures/config)', () => {
  let config: Config;
  const warnings: string[] = [];
  before(() => {
    config = loadConfig({
      configFiles: [KEYSTONE_CONF, LOCAL_CONF],
      env: { KEYSTONE_TS_DEFAULT__INSECURE_DEBUG: 'no' },
      onWarning: (message) => warnings.push(message),
    });
  });

  it('loads without error, the second file overriding the first', () => {
    assert.equal(config.token.expiration, 3600, 'keystone-ts.conf overrides keystone.conf');
    assert.equal(config.token.provider, 'fernet');
    assert.equal(config.token.revoke_by_id, false);
    assert.equal(config.keystone_ts.workers, 0);
    assert.equal(config.keystone_ts.data_dir, '/var/lib/keystone-ts');
    assert.equal(config.keystone_ts.bind, '0.0.0.0:5000');
    assert.equal(config.keystone_ts.log_format, 'json');
    assert.equal(config.DEFAULT.insecure_debug, false);
  });

  it('reads the options keystone-ts acts on', () => {
    assert.equal(config.DEFAULT.public_endpoint, 'https://identity.example.com:5000');
    assert.equal(config.DEFAULT.list_limit, 500);
    assert.equal(config.DEFAULT.debug, false);
    assert.deepEqual(config.DEFAULT.notification_opt_out, ['identity.authenticate.success', 'identity.authenticate.pending']);
    assert.equal(config.oslo_middleware.max_request_body_size, 262144, 'from its old [DEFAULT] name');
    assert.equal(config.oslo_middleware.enable_proxy_headers_parsing, true);
    assert.deepEqual(config.auth.methods, [
      'external', 'password', 'token', 'oauth1', 'mapped', 'application_credential', 'totp', 'openid',
    ]);
    assert.equal(config.database.connection, 'postgresql://keystone:db-secret@db.example.com:5432/keystone');
    assert.equal(config.database.max_pool_size, 20);
    assert.equal(config.fernet_tokens.max_active_keys, 4);
    assert.equal(config.identity.password_hash_rounds, 12);
    assert.deepEqual(config.assignment.prohibited_implied_role, ['admin', 'reader']);
    assert.equal(config.endpoint_filter.return_all_endpoints_if_no_filter, false);
    assert.deepEqual(config.federation.trusted_dashboard, [
      'https://dashboard.example.com/auth/websso/',
      'https://dashboard2.example.com/auth/websso/',
    ]);
    assert.equal(config.resource.admin_project_name, 'admin');
    assert.equal(config.resource.project_name_url_safe, 'new');
    assert.equal(config.oslo_policy.enforce_scope, false);
    assert.equal(config.oslo_policy.enforce_new_defaults, false);
    assert.equal(config.cache.enabled, true);
    assert.equal(config.unified_limit.enforcement_model, 'strict_two_level');
    assert.equal(config.totp.included_previous_windows, 2);
    assert.deepEqual(config.cors.allowed_origin, ['https://dashboard.example.com']);
  });

  it('reads [security_compliance] including a quoted regex and a continued description', () => {
    const sc = config.security_compliance;
    assert.equal(sc.lockout_failure_attempts, 6);
    assert.equal(sc.lockout_duration, 1800);
    assert.equal(sc.password_expires_days, 90);
    assert.equal(sc.unique_last_password_count, 5);
    assert.equal(sc.minimum_password_age, 1);
    assert.equal(sc.disable_user_account_days_inactive, 90);
    assert.equal(sc.change_password_upon_first_use, true);
    assert.equal(sc.password_regex, '^(?=.*\\d)(?=.*[a-zA-Z]).{7,}$');
    assert.equal(
      sc.password_regex_description,
      'Passwords must contain at least 1 letter, 1 digit,\nand be a minimum length of 7 characters.',
    );
  });

  it('warns about what it accepts without acting on, never echoing secrets', () => {
    const relative = (message: string): string => message.replace(`${fixtures}${path.sep}`, '');
    const shown = warnings.map(relative);
    for (const expected of [
      'keystone.conf:30: [DEFAULT] log_dir is accepted but has no effect in keystone-ts',
      'keystone.conf:36: [DEFAULT] transport_url is accepted but has no effect in keystone-ts',
      'keystone.conf:39: [DEFAULT] max_request_body_size is deprecated, use [oslo_middleware] max_request_body_size',
      'keystone.conf:50: [auth] openid (a Python plugin entry point) is accepted but has no effect in keystone-ts',
      'keystone.conf:53: [cache] backend is accepted but has no effect in keystone-ts',
      'keystone.conf:98: [oslo_concurrency] is accepted and ignored by keystone-ts',
    ]) {
      assert.ok(shown.includes(expected), `missing warning: ${expected}\n${shown.join('\n')}`);
    }
    assert.ok(!warnings.join('\n').includes('secret'), 'no credential appears in a warning');
  });
});

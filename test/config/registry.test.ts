import assert from 'node:assert/strict';
import {
  PASSTHROUGH,
  REGISTRY,
  defaultConfig,
  envVarName,
  optionSpec,
  type Config,
  type ConfigValue,
  type OptionSpec,
} from '../../src/config/index.js';
import { checkValue } from '../../src/config/values.js';

/** Compile-time equality of two types (fails `npx tsc` rather than a test when it breaks). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

const sections = Object.entries(REGISTRY) as [string, { options: Record<string, OptionSpec> }][];
const allOptions = sections.flatMap(([section, spec]) =>
  Object.entries(spec.options).map(([option, optionSpec]) => ({ section, option, spec: optionSpec })),
);

describe('config/registry: the declarations themselves', () => {
  it('names sections and options the way keystone.conf spells them', () => {
    for (const [section] of sections) assert.match(section, /^(DEFAULT|[a-z][a-z0-9_]*)$/, section);
    for (const { section, option } of allOptions) assert.match(option, /^[a-z][a-z0-9_]*$/, `[${section}] ${option}`);
  });

  it('gives every section and option a help text', () => {
    for (const [section, spec] of Object.entries(REGISTRY)) assert.ok(spec.help.trim().length > 10, section);
    for (const { section, option, spec } of allOptions) assert.ok(spec.help.trim().length > 10, `[${section}] ${option}`);
  });

  it('has defaults that its own rules accept (type, choices, range)', () => {
    for (const { section, option, spec } of allOptions) {
      const result = checkValue(spec, spec.default);
      assert.ok(result.ok, `[${section}] ${option} default ${JSON.stringify(spec.default)}: ${result.ok ? '' : result.problem}`);
    }
  });

  it('has no old name that is also a current option name', () => {
    for (const { section, option, spec } of allOptions) {
      for (const old of spec.deprecatedNames ?? []) {
        const oldSection = old.section ?? section;
        assert.equal(
          optionSpec(oldSection, old.name),
          undefined,
          `[${section}] ${option}: old name [${oldSection}] ${old.name} is a current option`,
        );
      }
    }
  });

  it('keeps ignored library sections apart from declared ones', () => {
    for (const name of Object.keys(PASSTHROUGH)) assert.ok(!(name in REGISTRY), name);
  });

  it('names the environment variable of an option', () => {
    assert.equal(envVarName('token', 'expiration'), 'KEYSTONE_TS_TOKEN__EXPIRATION');
    assert.equal(envVarName('DEFAULT', 'public_endpoint'), 'KEYSTONE_TS_DEFAULT__PUBLIC_ENDPOINT');
  });
});

describe('config/registry: defaults match Keystone (spec §7.2 and §5.5)', () => {
  const config = defaultConfig();
  // [section, option, expected default] straight from the spec's tables (2026 defaults).
  const expected: [string, string, unknown][] = [
    ['DEFAULT', 'public_endpoint', null],
    ['DEFAULT', 'max_project_tree_depth', 5],
    ['DEFAULT', 'max_token_size', 255],
    ['DEFAULT', 'list_limit', null],
    ['DEFAULT', 'max_db_limit', 1000],
    ['DEFAULT', 'strict_password_check', false],
    ['DEFAULT', 'insecure_debug', false],
    ['DEFAULT', 'admin_token', null],
    ['DEFAULT', 'notification_format', 'cadf'],
    ['DEFAULT', 'debug', false],
    ['oslo_middleware', 'max_request_body_size', 114688],
    ['token', 'expiration', 3600],
    ['token', 'provider', 'fernet'],
    ['token', 'allow_expired_window', 172800],
    ['token', 'allow_rescope_scoped_token', true],
    ['token', 'revoke_by_id', true],
    ['token', 'caching', true],
    ['token', 'cache_on_issue', true],
    ['fernet_tokens', 'key_repository', '/etc/keystone/fernet-keys/'],
    ['fernet_tokens', 'max_active_keys', 3],
    ['fernet_receipts', 'key_repository', '/etc/keystone/fernet-keys/'],
    ['fernet_receipts', 'max_active_keys', 3],
    ['receipt', 'expiration', 300],
    ['receipt', 'provider', 'fernet'],
    ['jwt_tokens', 'jws_algorithm', 'ES256'],
    ['jwt_tokens', 'jws_accepted_algorithms', ['ES256']],
    ['jwt_tokens', 'jws_public_key_repository', '/etc/keystone/jws-keys/public'],
    ['jwt_tokens', 'jws_private_key_repository', '/etc/keystone/jws-keys/private'],
    ['credential', 'key_repository', '/etc/keystone/credential-keys/'],
    ['credential', 'provider', 'fernet'],
    ['credential', 'user_limit', -1],
    ['credential', 'auth_ttl', 15],
    ['identity', 'default_domain_id', 'default'],
    ['identity', 'driver', 'sql'],
    ['identity', 'password_hash_algorithm', 'bcrypt'],
    ['identity', 'password_hash_rounds', null],
    ['identity', 'salt_bytesize', null],
    ['identity', 'scrypt_block_size', null],
    ['identity', 'scrypt_parallelism', null],
    ['identity', 'max_password_length', 4096],
    ['identity', 'list_limit', null],
    ['identity', 'domain_specific_drivers_enabled', false],
    ['identity', 'domain_configurations_from_database', false],
    ['resource', 'admin_project_name', null],
    ['resource', 'admin_project_domain_name', null],
    ['resource', 'project_name_url_safe', 'off'],
    ['resource', 'domain_name_url_safe', 'off'],
    ['resource', 'list_limit', null],
    ['security_compliance', 'lockout_failure_attempts', null],
    ['security_compliance', 'lockout_duration', 1800],
    ['security_compliance', 'password_expires_days', null],
    ['security_compliance', 'unique_last_password_count', 0],
    ['security_compliance', 'minimum_password_age', 0],
    ['security_compliance', 'password_regex', null],
    ['security_compliance', 'password_regex_description', null],
    ['security_compliance', 'change_password_upon_first_use', false],
    ['security_compliance', 'disable_user_account_days_inactive', null],
    ['security_compliance', 'report_invalid_password_hash', []],
    ['security_compliance', 'invalid_password_hash_secret_key', null],
    ['security_compliance', 'invalid_password_hash_function', 'sha256'],
    ['security_compliance', 'invalid_password_hash_max_chars', null],
    ['security_compliance', 'allow_insecure_application_credential_trust_escalation', false],
    ['auth', 'methods', ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential']],
    ['auth', 'additional_primary_auth_methods', []],
    ['assignment', 'prohibited_implied_role', ['admin']],
    ['application_credential', 'user_limit', -1],
    ['trust', 'allow_redelegation', false],
    ['trust', 'max_redelegation_count', 3],
    ['revoke', 'expiration_buffer', 1800],
    ['totp', 'included_previous_windows', 1],
    ['oauth1', 'request_token_duration', 28800],
    ['oauth1', 'access_token_duration', 86400],
    ['oauth2', 'oauth2_authn_methods', ['tls_client_auth', 'client_secret_basic']],
    ['oauth2', 'oauth2_cert_dn_mapping_id', 'oauth2_mapping'],
    ['unified_limit', 'enforcement_model', 'flat'],
    ['unified_limit', 'list_limit', null],
    ['endpoint_filter', 'return_all_endpoints_if_no_filter', true],
    ['federation', 'trusted_dashboard', []],
    ['federation', 'default_authorization_ttl', 0],
    ['federation', 'remote_id_attribute', null],
    ['federation', 'federated_domain_name', 'Federated'],
    ['oslo_policy', 'enforce_scope', true],
    ['oslo_policy', 'enforce_new_defaults', true],
    ['oslo_policy', 'policy_file', 'policy.yaml'],
    ['cache', 'enabled', false],
    ['catalog', 'list_limit', null],
    ['role', 'list_limit', null],
    ['policy', 'list_limit', null],
    ['database', 'connection', null],
    ['database', 'max_pool_size', 5],
    ['keystone_ts', 'data_dir', './data'],
    ['keystone_ts', 'bind', '127.0.0.1:5000'],
    ['keystone_ts', 'workers', 0],
    ['keystone_ts', 'log_format', 'text'],
  ];
  for (const [section, option, value] of expected) {
    it(`[${section}] ${option} = ${JSON.stringify(value)}`, () => {
      const values = (config as unknown as Record<string, Record<string, unknown>>)[section];
      assert.ok(values !== undefined && Object.hasOwn(values, option), `[${section}] ${option} is declared`);
      assert.deepEqual(values[option], value);
    });
  }

  it('keeps Keystone’s bounds: [fernet_tokens] max_active_keys ≥ 1, [receipt] expiration ≤ 86400, [identity] salt_bytesize 0..96', () => {
    assert.deepEqual(pick(optionSpec('fernet_tokens', 'max_active_keys')), { min: 1, max: undefined });
    assert.deepEqual(pick(optionSpec('receipt', 'expiration')), { min: 0, max: 86400 });
    assert.deepEqual(pick(optionSpec('identity', 'salt_bytesize')), { min: 0, max: 96 });
    assert.deepEqual(pick(optionSpec('identity', 'max_password_length')).max, 4096);
    assert.deepEqual(pick(optionSpec('totp', 'included_previous_windows')), { min: 0, max: 10 });
  });

  it('derives precise TypeScript types from the declarations', () => {
    // These lines fail to compile, not to run, if the derived Config type drifts.
    assertType<Equal<Config['token']['provider'], 'fernet' | 'jws'>>();
    assertType<Equal<Config['token']['expiration'], number>>();
    assertType<Equal<Config['security_compliance']['lockout_failure_attempts'], number | null>>();
    assertType<Equal<Config['DEFAULT']['public_endpoint'], string | null>>();
    assertType<Equal<Config['auth']['methods'], readonly string[]>>();
    assertType<Equal<Config['security_compliance']['report_invalid_password_hash'], readonly 'event'[]>>();
    assertType<Equal<Config['identity']['password_hash_algorithm'], 'bcrypt' | 'bcrypt_sha256' | 'scrypt' | 'pbkdf2_sha512'>>();
    assertType<Equal<Config['role']['driver'], 'sql' | null>>();
    assertType<Equal<Config['ldap']['chase_referrals'], boolean | null>>();
    assertType<Equal<ConfigValue<'resource', 'project_name_url_safe'>, 'off' | 'new' | 'strict'>>();
    assertType<Equal<Config['domain_config']['additional_sensitive_options'], Readonly<Record<string, string>> | null>>();
    const readonlyCheck = (config: Config): void => {
      // @ts-expect-error the Config is readonly
      config.token.expiration = 1;
    };
    assert.equal(typeof readonlyCheck, 'function');
  });
});

function pick(spec: OptionSpec | undefined): { min?: number; max?: number } {
  assert.ok(spec !== undefined && (spec.type === 'int' || spec.type === 'float'));
  return { min: spec.min, max: spec.max };
}

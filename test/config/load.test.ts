import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/common/errors.js';
import {
  ConfigLoadError,
  defaultConfig,
  loadConfig,
  type Config,
  type ConfigOverrides,
  type LoadConfigOptions,
} from '../../src/config/index.js';

/** Loads from in-memory files named like real ones, so messages read `keystone.conf:3: ...`. */
function load(
  files: Record<string, string>,
  options: Partial<Omit<LoadConfigOptions, 'readFile'>> = {},
): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const config = loadConfig({
    configFiles: options.configFiles ?? Object.keys(files),
    env: options.env ?? {},
    overrides: options.overrides,
    onWarning: (message) => warnings.push(message),
    readFile: (name) => {
      const text = files[name];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${name}`), { code: 'ENOENT' });
      return text;
    },
  });
  return { config, warnings };
}

/** The problems of a load that must fail. */
function problems(files: Record<string, string>, options: Partial<Omit<LoadConfigOptions, 'readFile'>> = {}): string[] {
  try {
    load(files, options);
  } catch (error) {
    assert.ok(error instanceof ConfigLoadError, `expected ConfigLoadError, got ${String(error)}`);
    assert.ok(error instanceof ConfigError, 'a ConfigLoadError is a ConfigError');
    return [...error.problems];
  }
  assert.fail('expected the configuration to be refused');
}

describe('config/load: building the Config', () => {
  describe('files', () => {
    it('returns the registry defaults when nothing is configured', () => {
      const config = defaultConfig();
      assert.equal(config.token.expiration, 3600);
      assert.equal(config.DEFAULT.public_endpoint, null);
      assert.deepEqual(config.auth.methods, ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential']);
    });

    it('applies files in order: a later file overrides an earlier one, option by option', () => {
      const { config } = load({
        '/etc/keystone/keystone.conf': '[token]\nexpiration = 600\nprovider = jws\n[identity]\nmax_password_length = 100\n',
        '/etc/keystone/keystone.d/override.conf': '[token]\nexpiration = 900\n',
      });
      assert.equal(config.token.expiration, 900);
      assert.equal(config.token.provider, 'jws');
      assert.equal(config.identity.max_password_length, 100);
    });

    it('lets the last of repeated keys in one file win', () => {
      assert.equal(load({ 'keystone.conf': '[token]\nexpiration = 1\nexpiration = 2\n' }).config.token.expiration, 2);
    });

    it('collects every line of a multi option, across files, replacing the default', () => {
      const { config } = load({
        'a.conf': '[federation]\ntrusted_dashboard = https://a.example.com/auth/websso/\n',
        'b.conf':
          '[federation]\ntrusted_dashboard = https://b.example.com/auth/websso/\n' +
          'trusted_dashboard = https://c.example.com/auth/websso/\n',
      });
      assert.deepEqual(config.federation.trusted_dashboard, [
        'https://a.example.com/auth/websso/',
        'https://b.example.com/auth/websso/',
        'https://c.example.com/auth/websso/',
      ]);
      const optedIn = load({ 'keystone.conf': '[DEFAULT]\nnotification_opt_out =\n' }).config;
      assert.deepEqual(optedIn.DEFAULT.notification_opt_out, [], 'an empty line clears the default list');
    });

    it('reads a list spread over continuation lines, and ignores comment lines', () => {
      const { config } = load({
        'keystone.conf': [
          '# Keystone configuration',
          '[auth]',
          '; methods in bitmask order',
          'methods = external,password,',
          '    token, oauth1,',
          '    mapped,application_credential,totp',
          '',
          '[resource]',
          'admin_project_name = "admin"',
          "admin_project_domain_name: 'Default'",
        ].join('\n'),
      });
      assert.deepEqual(config.auth.methods, [
        'external',
        'password',
        'token',
        'oauth1',
        'mapped',
        'application_credential',
        'totp',
      ]);
      assert.equal(config.resource.admin_project_name, 'admin');
      assert.equal(config.resource.admin_project_domain_name, 'Default');
    });

    it('matches section names case-insensitively, except DEFAULT', () => {
      assert.equal(load({ 'keystone.conf': '[Token]\nexpiration = 5\n' }).config.token.expiration, 5);
      const found = problems({ 'keystone.conf': '[default]\ndebug = true\n' });
      assert.deepEqual(found, ['keystone.conf:1: [default]: unknown section (did you mean [DEFAULT]? it must be upper-case)']);
    });

    it('does not let [DEFAULT] values leak into other sections', () => {
      const found = problems({ 'keystone.conf': '[DEFAULT]\nlist_limit = 10\nexpiration = 600\n' });
      assert.deepEqual(found, [
        'keystone.conf:3: [DEFAULT] expiration = "600": unknown option ' +
          '(it belongs to [receipt], [token]; [DEFAULT] values are not inherited by other sections)',
      ]);
      const { config } = load({ 'keystone.conf': '[DEFAULT]\nlist_limit = 10\n' });
      assert.equal(config.DEFAULT.list_limit, 10);
      assert.equal(config.identity.list_limit, null);
    });

    it('parses booleans in all of oslo’s spellings, in any case', () => {
      const spellings: [string, boolean][] = [
        ['true', true], ['True', true], ['YES', true], ['on', true], ['1', true],
        ['false', false], ['False', false], ['no', false], ['OFF', false], ['0', false],
      ];
      for (const [text, expected] of spellings) {
        const { config } = load({ 'keystone.conf': `[DEFAULT]\ndebug = ${text}\n` });
        assert.equal(config.DEFAULT.debug, expected, text);
      }
    });

    it('treats an empty value as unset for options without a default', () => {
      const { config } = load({
        'keystone.conf': '[security_compliance]\nlockout_failure_attempts =\npassword_regex =\n[DEFAULT]\npublic_endpoint =\n',
      });
      assert.equal(config.security_compliance.lockout_failure_attempts, null);
      assert.equal(config.security_compliance.password_regex, null);
      assert.equal(config.DEFAULT.public_endpoint, null);
    });

    it('reads old option names, and prefers the current name within one file', () => {
      const { config, warnings } = load({ 'keystone.conf': '[DEFAULT]\nmax_request_body_size = 2048\n[assignment]\nlist_limit = 50\n' });
      assert.equal(config.oslo_middleware.max_request_body_size, 2048);
      assert.equal(config.resource.list_limit, 50);
      assert.ok(warnings.includes('keystone.conf:2: [DEFAULT] max_request_body_size is deprecated, use [oslo_middleware] max_request_body_size'));

      const both = '[oslo_middleware]\nmax_request_body_size = 1\n[DEFAULT]\nmax_request_body_size = 2\n';
      assert.equal(load({ 'keystone.conf': both }).config.oslo_middleware.max_request_body_size, 1);
      const laterOldName = load({
        'a.conf': '[oslo_middleware]\nmax_request_body_size = 1\n',
        'b.conf': '[DEFAULT]\nmax_request_body_size = 2\n',
      });
      assert.equal(laterOldName.config.oslo_middleware.max_request_body_size, 2, 'a later file wins, whatever the name');

      const legacy = load({ 'keystone.conf': '[sql]\nconnection = postgresql://k:pw@db/keystone\n' }).config;
      assert.equal(legacy.database.connection, 'postgresql://k:pw@db/keystone');
    });

    it('accepts options that have no effect, and says so', () => {
      const { config, warnings } = load({ 'keystone.conf': '[ldap]\nurl = ldap://ldap.example.com\n[token]\ncaching = false\n' });
      assert.equal(config.ldap.url, 'ldap://ldap.example.com');
      assert.equal(config.token.caching, false);
      assert.deepEqual(warnings, [
        'keystone.conf:2: [ldap] url is accepted but has no effect in keystone-ts',
        'keystone.conf:4: [token] caching is accepted but has no effect in keystone-ts',
      ]);
    });

    it('accepts whole library sections that keystone-ts ignores', () => {
      const { warnings } = load({
        'keystone.conf': '[oslo_messaging_rabbit]\nrabbit_ha_queues = true\nanything_at_all = 1\n[oslo_concurrency]\nlock_path = /var/lock/keystone\n',
      });
      assert.deepEqual(warnings, [
        'keystone.conf:1: [oslo_messaging_rabbit] is accepted and ignored by keystone-ts',
        'keystone.conf:4: [oslo_concurrency] is accepted and ignored by keystone-ts',
      ]);
    });

    it('accepts an [auth] plugin option exactly when the method is enabled', () => {
      const enabled = load({ 'keystone.conf': '[auth]\nmethods = password,token,totp\ntotp = keystone.auth.plugins.totp.TOTP\n' });
      assert.ok(enabled.warnings.some((w) => w.includes('[auth] totp (a Python plugin entry point) is accepted but has no effect')));
      assert.deepEqual(problems({ 'keystone.conf': '[auth]\ntotp = keystone.auth.plugins.totp.TOTP\n' }), [
        'keystone.conf:2: [auth] totp = "keystone.auth.plugins.totp.TOTP": unknown option; ' +
          '[auth] only accepts extra options named after a method in [auth] methods',
      ]);
    });

    it('refuses a file that cannot be read', () => {
      assert.deepEqual(problems({}, { configFiles: ['/etc/keystone/missing.conf'] }), [
        '/etc/keystone/missing.conf: cannot read the configuration file (ENOENT)',
      ]);
    });

    it('reads real files from disk', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'keystone-ts-config-'));
      try {
        const file = path.join(dir, 'keystone.conf');
        writeFileSync(file, '[token]\nexpiration = 120\n');
        assert.equal(loadConfig({ configFiles: [file], env: {} }).token.expiration, 120);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('invalid values', () => {
    const cases: [string, string, string][] = [
      ['[token]\nexpiration = abc', '[token] expiration = "abc"', 'not an integer'],
      ['[token]\nexpiration = 1.5', '[token] expiration = "1.5"', 'not an integer'],
      ['[token]\nexpiration = 600 # ten minutes', '[token] expiration = "600 # ten minutes"', 'not an integer'],
      ['[token]\nexpiration =', '[token] expiration = ""', 'not an integer'],
      ['[token]\nexpiration = -1', '[token] expiration = "-1"', 'out of range (must be at least 0)'],
      ['[token]\nexpiration = 99999999999999999999', '[token] expiration = "99999999999999999999"', 'out of range'],
      ['[receipt]\nexpiration = 86401', '[receipt] expiration = "86401"', 'out of range (must be between 0 and 86400)'],
      ['[identity]\nsalt_bytesize = 97', '[identity] salt_bytesize = "97"', 'out of range (must be between 0 and 96)'],
      ['[identity]\nmax_password_length = 4097', '[identity] max_password_length = "4097"', 'out of range (must be between 1 and 4096)'],
      ['[totp]\nincluded_previous_windows = 11', '[totp] included_previous_windows = "11"', 'out of range (must be between 0 and 10)'],
      ['[fernet_tokens]\nmax_active_keys = 0', '[fernet_tokens] max_active_keys = "0"', 'out of range (must be at least 1)'],
      ['[ldap]\npool_retry_delay = fast', '[ldap] pool_retry_delay = "fast"', 'not a number'],
      ['[DEFAULT]\ndebug = maybe', '[DEFAULT] debug = "maybe"', 'not a boolean (true/false, yes/no, on/off, 1/0)'],
      ['[DEFAULT]\ndebug =', '[DEFAULT] debug = ""', 'not a boolean (true/false, yes/no, on/off, 1/0)'],
      ['[token]\nprovider = uuid', '[token] provider = "uuid"', 'not one of: fernet, jws'],
      ['[identity]\npassword_hash_algorithm = md5', '[identity] password_hash_algorithm = "md5"', 'not one of: bcrypt, bcrypt_sha256, scrypt, pbkdf2_sha512'],
      ['[identity]\ndriver = ldap', '[identity] driver = "ldap"', 'not one of: sql'],
      ['[resource]\nproject_name_url_safe = Strict', '[resource] project_name_url_safe = "Strict"', 'not one of: off, new, strict'],
      ['[unified_limit]\nenforcement_model = hierarchical', '[unified_limit] enforcement_model = "hierarchical"', 'not one of: flat, strict_two_level'],
      ['[auth]\nmethods = password,,token', '[auth] methods = "password,,token"', 'empty list item'],
      ['[jwt_tokens]\njws_accepted_algorithms = ES256,RS256', '[jwt_tokens] jws_accepted_algorithms = "ES256,RS256"', 'item "RS256" is not one of: ES256, ES384, ES512, EdDSA'],
      ['[DEFAULT]\npublic_endpoint = keystone.example.com:5000', '[DEFAULT] public_endpoint = "keystone.example.com:5000"', 'not an absolute URL (scheme://host...)'],
      ['[keystone_ts]\nbind = 0.0.0.0', '[keystone_ts] bind = "0.0.0.0"', 'not host:port (IPv6 as [address]:port)'],
      ['[keystone_ts]\nbind = [::1]:70000', '[keystone_ts] bind = "[::1]:70000"', 'port out of range (0-65535)'],
      ['[keystone_ts]\ndata_dir =', '[keystone_ts] data_dir = ""', 'empty path'],
      ['[domain_config]\nadditional_sensitive_options = ldap', '[domain_config] additional_sensitive_options = "ldap"', 'not key:value pairs separated by commas'],
    ];
    for (const [text, subject, problem] of cases) {
      it(`${subject}: ${problem}`, () => {
        assert.deepEqual(problems({ 'keystone.conf': `${text}\n` }), [`keystone.conf:2: ${subject}: ${problem}`]);
      });
    }

    it('names the option by the old name it was set with', () => {
      assert.deepEqual(problems({ 'keystone.conf': '[DEFAULT]\nmax_request_body_size = big\n' }), [
        'keystone.conf:2: [DEFAULT] max_request_body_size = "big": not an integer',
      ]);
    });

    it('never shows the value of a secret option, or of an unknown one that looks secret', () => {
      const wrongType = { database: { connection: 5 } } as unknown as ConfigOverrides;
      assert.deepEqual(problems({}, { overrides: wrongType }), ['overrides: [database] connection = <hidden>: not a string']);
      const unknownSecret = problems({ 'keystone.conf': '[database]\nconection = postgresql://k:hunter2@db/k\n' });
      assert.deepEqual(unknownSecret, ['keystone.conf:2: [database] conection = <hidden>: unknown option (did you mean connection?)']);
      const envSecret = problems({}, { env: { KEYSTONE_TS_CACHE__PASSWORD: 'hunter2', KEYSTONE_TS_CACHE__REDIS_DB: 'x' } });
      assert.deepEqual(envSecret, ['KEYSTONE_TS_CACHE__REDIS_DB: [cache] redis_db = "x": not an integer']);
    });

    it('reports every problem at once, in file and line order', () => {
      let error: unknown;
      try {
        load({
          'keystone.conf': '[token]\nexpiration = abc\nprovider = pki\n[keystone_authtoken]\nauth_url = http://x\n',
          'override.conf': '[identity]\nsalt_bytesize = 200\n[tokn]\n',
        }, { env: { KEYSTONE_TS_TOTP__INCLUDED_PREVIOUS_WINDOWS: 'many' } });
      } catch (caught) {
        error = caught;
      }
      assert.ok(error instanceof ConfigLoadError);
      assert.deepEqual(error.problems, [
        'keystone.conf:2: [token] expiration = "abc": not an integer',
        'keystone.conf:3: [token] provider = "pki": not one of: fernet, jws',
        "keystone.conf:4: [keystone_authtoken]: unknown section (keystonemiddleware's section, read by services " +
          'that validate Keystone tokens; Keystone itself does not read it)',
        'override.conf:2: [identity] salt_bytesize = "200": out of range (must be between 0 and 96)',
        'override.conf:3: [tokn]: unknown section (did you mean [token]?)',
        'KEYSTONE_TS_TOTP__INCLUDED_PREVIOUS_WINDOWS: [totp] included_previous_windows = "many": not an integer',
      ]);
      assert.equal(error.message.split('\n')[0], '6 configuration problems:');
    });

    it('uses the single problem as the whole message when there is one', () => {
      assert.throws(() => load({ 'keystone.conf': '[token]\nexpiration = "abc"\n' }), {
        name: 'ConfigLoadError',
        message: 'keystone.conf:2: [token] expiration = "abc": not an integer',
      });
    });
  });

  describe('unknown sections and options', () => {
    it('refuses an unknown section, once, at its header', () => {
      assert.deepEqual(problems({ 'keystone.conf': '[paste_deploy]\nflavor = keystone\nconfig_file = x\n' }), [
        'keystone.conf:1: [paste_deploy]: unknown section',
      ]);
    });

    it('refuses an unknown option, suggesting a near name', () => {
      assert.deepEqual(problems({ 'keystone.conf': '[token]\nexpiraton = 600\nexpiry = 600\n' }), [
        'keystone.conf:2: [token] expiraton = "600": unknown option (did you mean expiration?)',
        'keystone.conf:3: [token] expiry = "600": unknown option',
      ]);
    });

    it('points out that option names are case-sensitive', () => {
      assert.deepEqual(problems({ 'keystone.conf': '[token]\nExpiration = 600\n' }), [
        'keystone.conf:2: [token] Expiration = "600": unknown option (did you mean expiration? option names are case-sensitive)',
      ]);
    });

    it('refuses a section that only hosts old names when the name is not one of them', () => {
      assert.deepEqual(problems({ 'keystone.conf': '[sql]\nidle_timeout = 200\n' }), [
        'keystone.conf:2: [sql] idle_timeout = "200": unknown option',
      ]);
    });
  });

  describe('environment', () => {
    it('overrides files with KEYSTONE_TS_<SECTION>__<OPTION>', () => {
      const { config } = load(
        { 'keystone.conf': '[token]\nexpiration = 600\n[database]\nconnection = postgresql://file/keystone\n' },
        {
          env: {
            KEYSTONE_TS_TOKEN__EXPIRATION: '900',
            KEYSTONE_TS_DEFAULT__PUBLIC_ENDPOINT: 'https://id.example.com',
            KEYSTONE_TS_DATABASE__CONNECTION: 'postgresql://env/keystone',
            KEYSTONE_TS_FERNET_TOKENS__KEY_REPOSITORY: '/srv/fernet-keys',
            KEYSTONE_TS_SECURITY_COMPLIANCE__LOCKOUT_FAILURE_ATTEMPTS: '5',
            KEYSTONE_TS_IDENTITY__PASSWORD_HASH_ALGORITHM: 'scrypt',
            PATH: '/usr/bin',
          },
        },
      );
      assert.equal(config.token.expiration, 900);
      assert.equal(config.DEFAULT.public_endpoint, 'https://id.example.com');
      assert.equal(config.database.connection, 'postgresql://env/keystone');
      assert.equal(config.fernet_tokens.key_repository, '/srv/fernet-keys');
      assert.equal(config.security_compliance.lockout_failure_attempts, 5);
      assert.equal(config.identity.password_hash_algorithm, 'scrypt');
    });

    it('takes list and multi items comma-separated from one variable, replacing file values', () => {
      const { config } = load(
        { 'keystone.conf': '[federation]\ntrusted_dashboard = https://old.example.com/\n' },
        {
          env: {
            KEYSTONE_TS_AUTH__METHODS: 'password,token,totp',
            KEYSTONE_TS_FEDERATION__TRUSTED_DASHBOARD: 'https://a.example.com/, https://b.example.com/',
          },
        },
      );
      assert.deepEqual(config.auth.methods, ['password', 'token', 'totp']);
      assert.deepEqual(config.federation.trusted_dashboard, ['https://a.example.com/', 'https://b.example.com/']);
    });

    it('reads KEYSTONE_TS_DATA as [keystone_ts] data_dir', () => {
      assert.equal(load({}, { env: { KEYSTONE_TS_DATA: '/var/lib/keystone-ts' } }).config.keystone_ts.data_dir, '/var/lib/keystone-ts');
      const same = { KEYSTONE_TS_DATA: '/a', KEYSTONE_TS_KEYSTONE_TS__DATA_DIR: '/a' };
      assert.equal(load({}, { env: same }).config.keystone_ts.data_dir, '/a');
      assert.deepEqual(problems({}, { env: { KEYSTONE_TS_DATA: '/a', KEYSTONE_TS_KEYSTONE_TS__DATA_DIR: '/b' } }), [
        'KEYSTONE_TS_DATA="/a" and KEYSTONE_TS_KEYSTONE_TS__DATA_DIR="/b" disagree',
      ]);
    });

    it('refuses a variable that names no option, and a malformed one', () => {
      assert.deepEqual(
        problems({}, {
          env: {
            KEYSTONE_TS_TOKEN__EXPIRY: '5',
            KEYSTONE_TS_TOKENS__EXPIRATION: '5',
            KEYSTONE_TS___EXPIRATION: '5',
          },
        }),
        [
          'KEYSTONE_TS_TOKENS__EXPIRATION: [tokens] expiration = "5": unknown section (did you mean [token]?)',
          'KEYSTONE_TS_TOKEN__EXPIRY: [token] expiry = "5": unknown option',
          'KEYSTONE_TS___EXPIRATION: not of the form KEYSTONE_TS_<SECTION>__<OPTION>',
        ],
      );
    });

    it('leaves KEYSTONE_TS_* variables without "__" alone: they are not option overrides', () => {
      assert.equal(load({}, { env: { KEYSTONE_TS_TEST_PG_URL: 'postgresql://x' } }).config.token.expiration, 3600);
    });
  });

  describe('overrides', () => {
    it('applies typed values and keystone.conf strings over files and environment', () => {
      const overrides: ConfigOverrides = {
        token: { expiration: 60, provider: 'jws' },
        identity: { password_hash_rounds: '4' },
        auth: { methods: ['password', 'token'] },
        security_compliance: { password_regex: null },
      };
      const { config } = load(
        { 'keystone.conf': '[token]\nexpiration = 600\n[security_compliance]\npassword_regex = ^.{8,}$\n' },
        { env: { KEYSTONE_TS_TOKEN__EXPIRATION: '900' }, overrides },
      );
      assert.equal(config.token.expiration, 60);
      assert.equal(config.token.provider, 'jws');
      assert.equal(config.identity.password_hash_rounds, 4);
      assert.deepEqual(config.auth.methods, ['password', 'token']);
      assert.equal(config.security_compliance.password_regex, null);
    });

    it('validates overrides like any other source', () => {
      const overrides = {
        token: { expiration: -5, provider: 'pki' },
        totp: { included_previous_windows: 1.5 },
        DEFAULT: { debug: 'sometimes' },
        nope: { x: 1 },
      } as unknown as ConfigOverrides;
      assert.deepEqual(problems({}, { overrides }), [
        'overrides: [token] expiration = -5: out of range (must be at least 0)',
        'overrides: [token] provider = "pki": not one of: fernet, jws',
        'overrides: [totp] included_previous_windows = 1.5: not an integer',
        'overrides: [DEFAULT] debug = "sometimes": not a boolean (true/false, yes/no, on/off, 1/0)',
        'overrides: [nope] x = 1: unknown section',
      ]);
    });

    it('gives defaultConfig(overrides) for tests of other modules', () => {
      assert.equal(defaultConfig({ token: { expiration: 5 } }).token.expiration, 5);
    });
  });

  describe('the Config object', () => {
    it('is frozen all the way down', () => {
      const config = defaultConfig();
      assert.ok(Object.isFrozen(config));
      assert.ok(Object.isFrozen(config.token));
      assert.ok(Object.isFrozen(config.auth.methods));
      assert.throws(() => {
        (config.token as { expiration: number }).expiration = 1;
      }, TypeError);
    });

    it('has every registry section, and nothing for ignored library sections', () => {
      const config = defaultConfig();
      assert.ok('keystone_ts' in config && 'oslo_policy' in config && 'ldap' in config);
      assert.ok(!('oslo_messaging_rabbit' in config));
    });
  });
});

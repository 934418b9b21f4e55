import type { RegistrySpec } from '../schema.js';

/**
 * Keystone's own sections, with the names, types, defaults and bounds of keystone/conf/*.py: the
 * 2026 upstream snapshot, plus the options that only Debian's Zed has, so that a keystone.conf
 * written for either loads. Defaults follow 2026 where the two differ (docs/configuration.md
 * marks release-specific options).
 */
export const KEYSTONE_SECTIONS = {
  api: {
    origin: 'keystone',
    only: '2026',
    help: 'API behaviour (2026).',
    options: {
      response_validation: {
        type: 'enum', default: 'warn', choices: ['error', 'warn', 'ignore'],
        help:
          'What to do when a response body fails its schema: `error` (500; for tests only: side ' +
          'effects have already happened), `warn` (log) or `ignore`.',
      },
    },
  },
  application_credential: {
    origin: 'keystone',
    help: 'Application credentials (`/v3/users/{id}/application_credentials`).',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      user_limit: {
        type: 'int', default: -1,
        help:
          'Maximum number of application credentials a user may create (403 beyond it); -1 means ' +
          'unlimited.',
      },
    },
  },
  assignment: {
    origin: 'keystone',
    help: 'Role assignments and implied roles.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      prohibited_implied_role: {
        type: 'list', default: ['admin'],
        help:
          'Names of roles that may never be implied by another role; creating such an inference is ' +
          'refused (403).',
      },
    },
  },
  auth: {
    origin: 'keystone',
    help:
      'Authentication methods. Besides the options below, Keystone accepts one option per name ' +
      "listed in `methods` (the Python entry point of that method's plugin, e.g. `totp = ...`); " +
      'keystone-ts accepts those too and ignores their values, because it has its own built-in ' +
      'plugins.',
    options: {
      methods: {
        type: 'list', default: ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential'],
        help:
          'Enabled authentication methods, in order. The order matters beyond enabling: the Fernet ' +
          'token payload stores methods as a bitmask assigned in this order (1, 2, 4, ...), so ' +
          'keystone-ts and any Python Keystone sharing the key repository must list the same ' +
          'methods in the same order. `totp` is not in the default list. Do not enable `external` ' +
          'together with federation (both use `REMOTE_USER`).',
      },
      password: {
        type: 'string', default: null, inert: true,
        help:
          'Python entry point of the password plugin. Accepted, no effect: keystone-ts has its own ' +
          'plugin.',
      },
      token: {
        type: 'string', default: null, inert: true,
        help:
          'Python entry point of the token plugin. Accepted, no effect: keystone-ts has its own ' +
          'plugin.',
      },
      external: {
        type: 'string', default: null, inert: true,
        help:
          'Python entry point of the external (`REMOTE_USER`) plugin, `DefaultDomain` or `Domain`. ' +
          'Accepted, no effect.',
      },
      oauth1: {
        type: 'string', default: null, inert: true,
        help: 'Python entry point of the OAuth 1.0a plugin. Accepted, no effect.',
      },
      mapped: {
        type: 'string', default: null, inert: true,
        help: 'Python entry point of the mapped (federation) plugin. Accepted, no effect.',
      },
      application_credential: {
        type: 'string', default: null, inert: true,
        help: 'Python entry point of the application credential plugin. Accepted, no effect.',
      },
      additional_primary_auth_methods: {
        type: 'list', default: [], only: 'zed',
        help:
          "Names of custom methods, beyond Keystone's primary ones (password, totp, mapped, saml2, " +
          'openid, external, kerberos, x509, token), that authenticate a user directly. Tokens ' +
          'issued through a method not in either list count as delegated and may not manage trusts, ' +
          'application credentials, OAuth1 tokens or credentials, nor be exchanged for another ' +
          'token (Debian Zed backport).',
      },
    },
  },
  catalog: {
    origin: 'keystone',
    help: 'Service catalog: regions, services, endpoints.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql', 'endpoint_filter.sql'],
        help:
          'Catalog backend. `sql` and `endpoint_filter.sql` behave the same in keystone-ts ' +
          "(endpoint filtering is always on, see `[endpoint_filter]`); Keystone's `templated` " +
          'catalog is not supported.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      list_limit: {
        type: 'int', default: null,
        help:
          'Maximum number of regions, services or endpoints returned in one collection. Unset or 0: ' +
          '`[DEFAULT] list_limit`.',
      },
      template_file: {
        type: 'path', default: 'default_catalog.templates', inert: true, only: 'zed',
        help:
          "Template file of Keystone's `templated` catalog driver (removed after Zed). Accepted, no " +
          'effect.',
      },
    },
  },
  credential: {
    origin: 'keystone',
    help: 'Credentials API (`/v3/credentials`) and the key repository that encrypts their blobs.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      provider: {
        type: 'enum', default: 'fernet', choices: ['fernet'],
        help:
          'How credential blobs are encrypted: `fernet`, with the keys in `key_repository`, as in ' +
          'Keystone.',
      },
      key_repository: {
        type: 'path', default: '/etc/keystone/credential-keys/',
        help:
          'Directory of the Fernet keys that encrypt credential blobs in the database. Unrelated to ' +
          'the token keys and rotated separately; do not share the directory with `[fernet_tokens] ' +
          'key_repository`.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      auth_ttl: {
        type: 'int', default: 15,
        help:
          'How long, in minutes, a signed EC2 or S3 request stays valid after the timestamp it ' +
          'carries.',
      },
      user_limit: {
        type: 'int', default: -1,
        help: 'Maximum number of credentials a user may create (403 beyond it); -1 means unlimited.',
      },
    },
  },
  domain_config: {
    origin: 'keystone',
    inert: true,
    help:
      'Domain-specific configuration stored in the database. keystone-ts has no per-domain identity ' +
      'drivers, so this section is accepted for compatibility and has no effect.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help: 'Backend driver; only `sql`.',
      },
      caching: {
        type: 'bool', default: true,
        help:
          'Toggle for caching of the domain-specific configuration backend. This has no effect ' +
          'unless global caching is enabled. There is normally no reason to disable this.',
      },
      cache_time: {
        type: 'int', default: 300,
        help:
          'Time-to-live (TTL, in seconds) to cache domain-specific configuration data. This has no ' +
          'effect unless `[domain_config] caching` is enabled.',
      },
      additional_whitelisted_options: {
        type: 'dict', default: null, only: '2026',
        help:
          'Additional whitelisted domain-specific options for out-of-tree drivers. This is a ' +
          'dictonary of lists with the key being the group name and value a list of group options.',
      },
      additional_sensitive_options: {
        type: 'dict', default: null, only: '2026',
        help:
          'Additional sensitive domain-specific options for out-of-tree drivers. This is a ' +
          'dictonary of lists with the key being the group name and value a list of group options.',
      },
    },
  },
  endpoint_filter: {
    origin: 'keystone',
    help: 'OS-EP-FILTER: project-endpoint associations and endpoint groups.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      return_all_endpoints_if_no_filter: {
        type: 'bool', default: true,
        help:
          'When a project has no endpoint associations: true returns the whole catalog, false an ' +
          'empty one.',
      },
    },
  },
  endpoint_policy: {
    origin: 'keystone',
    help: 'OS-ENDPOINT-POLICY: associations between policies and endpoints.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
    },
  },
  eventlet_server: {
    origin: 'keystone',
    inert: true,
    only: 'zed',
    help:
      "The eventlet server's listen addresses (removed upstream after Zed). Accepted so an old " +
      'keystone.conf loads; keystone-ts listens on `[keystone_ts] bind`.',
    options: {
      public_bind_host: {
        type: 'string', default: '0.0.0.0', deprecatedNames: [{ section: 'DEFAULT', name: 'bind_host' }, { section: 'DEFAULT', name: 'public_bind_host' }], deprecated: true,
        help: 'The IP address of the network interface for the public service to listen on.',
      },
      public_port: {
        type: 'int', default: 5000, min: 0, max: 65535, deprecatedNames: [{ section: 'DEFAULT', name: 'public_port' }], deprecated: true,
        help: 'The port number for the public service to listen on.',
      },
      admin_bind_host: {
        type: 'string', default: '0.0.0.0', deprecatedNames: [{ section: 'DEFAULT', name: 'bind_host' }, { section: 'DEFAULT', name: 'admin_bind_host' }], deprecated: true,
        help: 'The IP address of the network interface for the admin service to listen on.',
      },
      admin_port: {
        type: 'int', default: 35357, min: 0, max: 65535, deprecatedNames: [{ section: 'DEFAULT', name: 'admin_port' }], deprecated: true,
        help: 'The port number for the admin service to listen on.',
      },
    },
  },
  federation: {
    origin: 'keystone',
    help: 'OS-FEDERATION: identity providers, protocols, mappings, web single sign-on.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      assertion_prefix: {
        type: 'string', default: '',
        help:
          'Only request environment variables whose names start with this prefix are passed to the ' +
          'mapping engine as assertion attributes.',
      },
      remote_id_attribute: {
        type: 'string', default: null,
        help:
          "Default name of the request attribute that carries the identity provider's entity ID " +
          "(e.g. `HTTP_OIDC_ISS`, `Shib-Identity-Provider`, `MELLON_IDP`); a protocol's own " +
          '`remote_id_attribute` overrides it.',
      },
      federated_domain_name: {
        type: 'string', default: 'Federated', deprecated: true,
        help:
          'Reserved domain name of federated ephemeral users; no domain may be created or renamed ' +
          'to it.',
      },
      trusted_dashboard: {
        type: 'multi', default: [],
        help:
          'Dashboards allowed to receive tokens from web single sign-on: the `origin` of an SSO ' +
          'request must be one of these URLs. Repeat the option once per URL. Empty: web SSO is ' +
          'refused.',
      },
      sso_callback_template: {
        type: 'path', default: '/etc/keystone/sso_callback_template.html',
        help:
          'HTML page that posts the token back to the trusted dashboard at the end of web single ' +
          'sign-on.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      default_authorization_ttl: {
        type: 'int', default: 0, min: 0,
        help:
          'Minutes for which group memberships granted by a mapping stay valid after the user last ' +
          'authenticated, unless the identity provider sets its own `authorization_ttl`. 0 disables ' +
          'the expiry.',
      },
      attribute_mapping_default_schema_version: {
        type: 'string', default: '1.0', only: '2026',
        help:
          'Schema version given to a mapping registered without one (2026). Changing it does not ' +
          'affect mappings already registered.',
      },
    },
  },
  fernet_receipts: {
    origin: 'keystone',
    help:
      'Key repository of the Fernet auth receipts returned when multi-factor authentication is ' +
      'incomplete.',
    options: {
      key_repository: {
        type: 'path', default: '/etc/keystone/fernet-keys/',
        help:
          'Directory of the Fernet keys of auth receipts. The default is the token key directory, ' +
          'so by default receipts and tokens share keys.',
      },
      max_active_keys: {
        type: 'int', default: 3, min: 1,
        help:
          'Number of keys kept by rotation: one staged (0), one primary (highest index) and the ' +
          'rest secondary.',
      },
    },
  },
  fernet_tokens: {
    origin: 'keystone',
    help:
      'Key repository of Fernet tokens. Shared with Python Keystone, tokens are interchangeable ' +
      'both ways.',
    options: {
      key_repository: {
        type: 'path', default: '/etc/keystone/fernet-keys/',
        help:
          'Directory of the Fernet token keys: `0` is the staged key, the highest index the primary ' +
          '(used to encrypt), the others secondary (decrypt only). Every node, Python or ' +
          'keystone-ts, must see the same keys; rotate on one node and copy the directory ' +
          'atomically to the others.',
      },
      max_active_keys: {
        type: 'int', default: 3, min: 1,
        help:
          'Number of keys kept by rotation: one staged (0), one primary (highest index) and the ' +
          'rest secondary. Tokens encrypted with a key that rotation discards can no longer be ' +
          'validated.',
      },
    },
  },
  identity: {
    origin: 'keystone',
    help: 'Users, groups and passwords.',
    options: {
      default_domain_id: {
        type: 'string', default: 'default',
        help:
          'ID of the default domain, created by bootstrap (`id` = this value, name `Default`). It ' +
          'also decides the Fernet encoding of domain-scoped tokens for a non-UUID domain id, so it ' +
          'must match any Python Keystone that shares the key repository.',
      },
      domain_specific_drivers_enabled: {
        type: 'bool', default: false, inert: true,
        help:
          'Let domains have their own identity backend configuration. Accepted, no effect: ' +
          'keystone-ts has no per-domain identity backends; every domain is served from SQL.',
      },
      domain_configurations_from_database: {
        type: 'bool', default: false, inert: true,
        help:
          'Keep domain-specific configuration in the database (managed through the API) instead of ' +
          'files in `domain_config_dir`. Accepted, no effect.',
      },
      domain_config_dir: {
        type: 'path', default: '/etc/keystone/domains', inert: true,
        help: 'Directory of domain-specific `keystone.<domain>.conf` files. Accepted, no effect.',
      },
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored. ' +
          "Keystone's `ldap` driver is not supported.",
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: 600, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      max_password_length: {
        type: 'int', default: 4096, min: 1, max: 4096,
        help:
          'Maximum password length in bytes (UTF-8). Longer passwords are truncated, or refused ' +
          'when `[DEFAULT] strict_password_check` is true. With `bcrypt`, passwords (and ' +
          'application credential secrets) are further cut to 72 bytes before hashing and ' +
          'verifying, as Keystone does.',
      },
      list_limit: {
        type: 'int', default: null,
        help:
          'Maximum number of users or groups returned in one collection. Unset or 0: `[DEFAULT] ' +
          'list_limit`.',
      },
      password_hash_algorithm: {
        type: 'enum', default: 'bcrypt', choices: ['bcrypt', 'bcrypt_sha256', 'scrypt', 'pbkdf2_sha512'],
        help:
          'Algorithm of new password hashes. Every algorithm is always accepted when verifying, ' +
          'whatever this says, so changing it is safe; `bcrypt_sha256` is 2026 only, so do not ' +
          'choose it while a Zed Keystone shares the database.',
      },
      password_hash_rounds: {
        type: 'int', default: null, min: 1,
        help:
          "Work factor of new hashes; unset uses the algorithm's default. bcrypt: log2 rounds, 4-31 " +
          '(default 12). scrypt: log2 of N, 1-31 (default 16). pbkdf2_sha512: iterations (default ' +
          '60000). Existing hashes keep their own factor.',
      },
      scrypt_block_size: {
        type: 'int', default: null, min: 1,
        help: 'scrypt block size `r` (default 8); only used with `password_hash_algorithm = scrypt`.',
      },
      scrypt_parallelism: {
        type: 'int', default: null, min: 1,
        help: 'scrypt parallelism `p` (default 1); only used with `password_hash_algorithm = scrypt`.',
      },
      salt_bytesize: {
        type: 'int', default: null, min: 0, max: 96,
        help:
          'Salt size in bytes of scrypt and pbkdf2_sha512 hashes (default 16). At most 96, because ' +
          'of the width of the column that stores the hash.',
      },
    },
  },
  identity_mapping: {
    origin: 'keystone',
    inert: true,
    help:
      'Public-id mapping of users and groups from LDAP and other non-SQL backends. keystone-ts has ' +
      'no such backends; accepted, no effect.',
    options: {
      driver: {
        type: 'string', default: 'sql',
        help:
          'Entry point for the identity mapping backend driver in the ' +
          '`keystone.identity.id_mapping` namespace. Keystone only provides a `sql` driver, so ' +
          'there is no reason to change this unless you are providing a custom entry point.',
      },
      generator: {
        type: 'string', default: 'sha256',
        help:
          'Entry point for the public ID generator for user and group entities in the ' +
          '`keystone.identity.id_generator` namespace. The Keystone identity mapper only supports ' +
          'generators that produce 64 bytes or less. Keystone only provides a `sha256` entry point, ' +
          "so there is no reason to change this value unless you're providing a custom entry point.",
      },
      backward_compatible_ids: {
        type: 'bool', default: true,
        help:
          'The format of user and group IDs changed in Juno for backends that do not generate UUIDs ' +
          '(for example, LDAP), with keystone providing a hash mapping to the underlying attribute ' +
          'in LDAP. By default this mapping is disabled, which ensures that existing IDs will not ' +
          'change. Even when the mapping is enabled by using domain-specific drivers (`[identity] ' +
          'domain_specific_drivers_enabled`), any users and groups from the default domain being ' +
          'handled by LDAP will still not be mapped to ensure their IDs remain backward compatible.',
      },
    },
  },
  jwt_tokens: {
    origin: 'keystone',
    help: 'Keys and algorithms of JWS tokens (`[token] provider = jws`).',
    options: {
      jws_algorithm: {
        type: 'enum', default: 'ES256', choices: ['ES256', 'ES384', 'ES512', 'EdDSA'], only: '2026',
        help:
          'Signature algorithm of new JWS tokens (2026; Zed always uses ES256). Changing it needs a ' +
          'new key pair of the matching type.',
      },
      jws_accepted_algorithms: {
        type: 'list', default: ['ES256'], itemChoices: ['ES256', 'ES384', 'ES512', 'EdDSA'], only: '2026',
        help:
          'Algorithms accepted when validating JWS tokens (2026). During an algorithm change list ' +
          'both the old and the new one until the old tokens expire.',
      },
      jws_public_key_repository: {
        type: 'path', default: '/etc/keystone/jws-keys/public',
        help:
          'Directory of the public keys that validate JWS tokens: every file in it is read as a PEM ' +
          'public key and tried in turn.',
      },
      jws_private_key_repository: {
        type: 'path', default: '/etc/keystone/jws-keys/private',
        help: 'Directory holding `private.pem`, the PKCS#8 key that signs JWS tokens.',
      },
    },
  },
  ldap: {
    origin: 'keystone',
    inert: true,
    help:
      'LDAP identity backend. keystone-ts has no LDAP backend (`[identity] driver` must be `sql`), ' +
      'so this whole section is accepted and ignored.',
    options: {
      url: {
        type: 'string', default: 'ldap://localhost',
        help:
          'URL(s) for connecting to the LDAP server. Multiple LDAP URLs may be specified as a comma ' +
          'separated string. The first URL to successfully bind is used for the connection.',
      },
      randomize_urls: {
        type: 'bool', default: false,
        help:
          'Randomize the order of URLs in each keystone process. This makes the failure behavior ' +
          'more gradual, since if the first server is down, a process/thread will wait for the ' +
          'specified timeout before attempting a connection to a server further down the list. This ' +
          'defaults to False, for backward compatibility.',
      },
      user: {
        type: 'string', default: null,
        help:
          'The user name of the administrator bind DN to use when querying the LDAP server, if your ' +
          'LDAP server requires it.',
      },
      password: {
        type: 'string', default: null, secret: true,
        help:
          'The password of the administrator bind DN to use when querying the LDAP server, if your ' +
          'LDAP server requires it.',
      },
      suffix: {
        type: 'string', default: 'cn=example,cn=com',
        help:
          'The default LDAP server suffix to use, if a DN is not defined via either `[ldap] ' +
          'user_tree_dn` or `[ldap] group_tree_dn`.',
      },
      query_scope: {
        type: 'enum', default: 'one', choices: ['one', 'sub'],
        help:
          'The search scope which defines how deep to search within the search base. A value of ' +
          '`one` (representing `oneLevel` or `singleLevel`) indicates a search of objects ' +
          'immediately below to the base object, but does not include the base object itself. A ' +
          'value of `sub` (representing `subtree` or `wholeSubtree`) indicates a search of both the ' +
          'base object itself and the entire subtree below it.',
      },
      page_size: {
        type: 'int', default: 0, min: 0,
        help:
          'Defines the maximum number of results per page that keystone should request from the ' +
          'LDAP server when listing objects. A value of zero (`0`) disables paging.',
      },
      alias_dereferencing: {
        type: 'enum', default: 'default', choices: ['never', 'searching', 'always', 'finding', 'default'],
        help:
          'The LDAP dereferencing option to use for queries involving aliases. A value of `default` ' +
          'falls back to using default dereferencing behavior configured by your `ldap.conf`. A ' +
          'value of `never` prevents aliases from being dereferenced at all.',
      },
      debug_level: {
        type: 'int', default: null, min: -1,
        help:
          'Sets the LDAP debugging level for LDAP calls. A value of 0 means that debugging is not ' +
          'enabled. This value is a bitmask, consult your LDAP documentation for possible values.',
      },
      chase_referrals: {
        type: 'bool', default: null,
        help:
          "Sets keystone's referral chasing behavior across directory partitions. If left unset, " +
          "the system's default behavior will be used.",
      },
      user_tree_dn: {
        type: 'string', default: null,
        help:
          'The search base to use for users. Defaults to `ou=Users` with the `[ldap] suffix` ' +
          'appended to it.',
      },
      user_filter: {
        type: 'string', default: null,
        help: 'The LDAP search filter to use for users.',
      },
      user_objectclass: {
        type: 'string', default: 'inetOrgPerson',
        help: 'The LDAP object class to use for users.',
      },
      user_id_attribute: {
        type: 'string', default: 'cn',
        help:
          'The LDAP attribute mapped to user IDs in keystone. This must NOT be a multivalued ' +
          'attribute. User IDs are expected to be globally unique across keystone domains and ' +
          'URL-safe.',
      },
      user_name_attribute: {
        type: 'string', default: 'sn',
        help:
          'The LDAP attribute mapped to user names in keystone. User names are expected to be ' +
          'unique only within a keystone domain and are not expected to be URL-safe.',
      },
      user_description_attribute: {
        type: 'string', default: 'description',
        help: 'The LDAP attribute mapped to user descriptions in keystone.',
      },
      user_mail_attribute: {
        type: 'string', default: 'mail',
        help: 'The LDAP attribute mapped to user emails in keystone.',
      },
      user_pass_attribute: {
        type: 'string', default: 'userPassword',
        help: 'The LDAP attribute mapped to user passwords in keystone.',
      },
      user_enabled_attribute: {
        type: 'string', default: 'enabled',
        help:
          'The LDAP attribute mapped to the user enabled attribute in keystone. If setting this ' +
          'option to `userAccountControl`, then you may be interested in setting `[ldap] ' +
          'user_enabled_mask` and `[ldap] user_enabled_default` as well.',
      },
      user_enabled_invert: {
        type: 'bool', default: false,
        help:
          'Logically negate the boolean value of the enabled attribute obtained from the LDAP ' +
          'server. Some LDAP servers use a boolean lock attribute where "true" means an account is ' +
          'disabled. Setting `[ldap] user_enabled_invert = true` will allow these lock attributes ' +
          'to be used.',
      },
      user_enabled_mask: {
        type: 'int', default: 0, min: 0,
        help:
          'Bitmask integer to select which bit indicates the enabled value if the LDAP server ' +
          'represents "enabled" as a bit on an integer rather than as a discrete boolean. A value ' +
          'of `0` indicates that the mask is not used. If this is not set to `0` the typical value ' +
          'is `2`.',
      },
      user_enabled_default: {
        type: 'string', default: 'True',
        help:
          'The default value to enable users. This should match an appropriate integer value if the ' +
          'LDAP server uses non-boolean (bitmask) values to indicate if a user is enabled or ' +
          'disabled. If this is not set to `True`, then the typical value is `512`.',
      },
      user_attribute_ignore: {
        type: 'list', default: ['default_project_id'],
        help:
          'List of user attributes to ignore on create and update, or whether a specific user ' +
          'attribute should be filtered for list or show user.',
      },
      user_default_project_id_attribute: {
        type: 'string', default: null,
        help:
          "The LDAP attribute mapped to a user's default_project_id in keystone. This is most " +
          'commonly used when keystone has write access to LDAP.',
      },
      user_enabled_emulation: {
        type: 'bool', default: false,
        help:
          'If enabled, keystone uses an alternative method to determine if a user is enabled or not ' +
          'by checking if they are a member of the group defined by the `[ldap] ' +
          'user_enabled_emulation_dn` option. Enabling this option causes keystone to ignore the ' +
          'value of `[ldap] user_enabled_invert`.',
      },
      user_enabled_emulation_dn: {
        type: 'string', default: null,
        help:
          'DN of the group entry to hold enabled users when using enabled emulation. Setting this ' +
          'option has no effect unless `[ldap] user_enabled_emulation` is also enabled.',
      },
      user_enabled_emulation_use_group_config: {
        type: 'bool', default: false,
        help:
          'Use the `[ldap] group_member_attribute` and `[ldap] group_objectclass` settings to ' +
          'determine membership in the emulated enabled group. Enabling this option has no effect ' +
          'unless `[ldap] user_enabled_emulation` is also enabled.',
      },
      user_additional_attribute_mapping: {
        type: 'list', default: [],
        help:
          'A list of LDAP attribute to keystone user attribute pairs used for mapping additional ' +
          'attributes to users in keystone. The expected format is `<ldap_attr>:<user_attr>`, where ' +
          '`ldap_attr` is the attribute in the LDAP object and `user_attr` is the attribute which ' +
          'should appear in the identity API.',
      },
      group_tree_dn: {
        type: 'string', default: null,
        help:
          'The search base to use for groups. Defaults to `ou=UserGroups` with the `[ldap] suffix` ' +
          'appended to it.',
      },
      group_filter: {
        type: 'string', default: null,
        help: 'The LDAP search filter to use for groups.',
      },
      group_objectclass: {
        type: 'string', default: 'groupOfNames',
        help:
          'The LDAP object class to use for groups. If setting this option to `posixGroup`, you may ' +
          'also be interested in enabling the `[ldap] group_members_are_ids` option.',
      },
      group_id_attribute: {
        type: 'string', default: 'cn',
        help:
          'The LDAP attribute mapped to group IDs in keystone. This must NOT be a multivalued ' +
          'attribute. Group IDs are expected to be globally unique across keystone domains and ' +
          'URL-safe.',
      },
      group_name_attribute: {
        type: 'string', default: 'ou',
        help:
          'The LDAP attribute mapped to group names in keystone. Group names are expected to be ' +
          'unique only within a keystone domain and are not expected to be URL-safe.',
      },
      group_member_attribute: {
        type: 'string', default: 'member',
        help: 'The LDAP attribute used to indicate that a user is a member of the group.',
      },
      group_members_are_ids: {
        type: 'bool', default: false,
        help:
          'Enable this option if the members of the group object class are keystone user IDs rather ' +
          'than LDAP DNs. This is the case when using `posixGroup` as the group object class in ' +
          'Open Directory.',
      },
      group_desc_attribute: {
        type: 'string', default: 'description',
        help: 'The LDAP attribute mapped to group descriptions in keystone.',
      },
      group_attribute_ignore: {
        type: 'list', default: [],
        help:
          'List of group attributes to ignore on create and update. or whether a specific group ' +
          'attribute should be filtered for list or show group.',
      },
      group_additional_attribute_mapping: {
        type: 'list', default: [],
        help:
          'A list of LDAP attribute to keystone group attribute pairs used for mapping additional ' +
          'attributes to groups in keystone. The expected format is `<ldap_attr>:<group_attr>`, ' +
          'where `ldap_attr` is the attribute in the LDAP object and `group_attr` is the attribute ' +
          'which should appear in the identity API.',
      },
      group_ad_nesting: {
        type: 'bool', default: false,
        help: 'If enabled, group queries will use Active Directory specific filters for nested groups.',
      },
      tls_cacertfile: {
        type: 'path', default: null,
        help:
          'An absolute path to a CA certificate file to use when communicating with LDAP servers. ' +
          'This option will take precedence over `[ldap] tls_cacertdir`, so there is no reason to ' +
          'set both.',
      },
      tls_cacertdir: {
        type: 'path', default: null,
        help:
          'An absolute path to a CA certificate directory to use when communicating with LDAP ' +
          "servers. There is no reason to set this option if you've also set `[ldap] " +
          'tls_cacertfile`.',
      },
      use_tls: {
        type: 'bool', default: false,
        help:
          'Enable TLS when communicating with LDAP servers. You should also set the `[ldap] ' +
          'tls_cacertfile` and `[ldap] tls_cacertdir` options when using this option. Do not set ' +
          'this option if you are using LDAP over SSL (LDAPS) instead of TLS.',
      },
      tls_req_cert: {
        type: 'enum', default: 'demand', choices: ['demand', 'never', 'allow'],
        help:
          'Specifies which checks to perform against client certificates on incoming TLS sessions. ' +
          'If set to `demand`, then a certificate will always be requested and required from the ' +
          'LDAP server. If set to `allow`, then a certificate will always be requested but not ' +
          'required from the LDAP server.',
      },
      connection_timeout: {
        type: 'int', default: -1, min: -1,
        help:
          'The connection timeout to use with the LDAP server. A value of `-1` means that ' +
          'connections will never timeout.',
      },
      use_pool: {
        type: 'bool', default: true,
        help:
          'Enable LDAP connection pooling for queries to the LDAP server. There is typically no ' +
          'reason to disable this.',
      },
      pool_size: {
        type: 'int', default: 10, min: 1,
        help:
          'The size of the LDAP connection pool. This option has no effect unless `[ldap] use_pool` ' +
          'is also enabled.',
      },
      pool_retry_max: {
        type: 'int', default: 3, min: 1,
        help:
          'The maximum number of times to attempt connecting to the LDAP server before aborting. A ' +
          'value of one makes only one connection attempt. This option has no effect unless `[ldap] ' +
          'use_pool` is also enabled.',
      },
      pool_retry_delay: {
        type: 'float', default: 0.1,
        help:
          'The number of seconds to wait before attempting to reconnect to the LDAP server. This ' +
          'option has no effect unless `[ldap] use_pool` is also enabled.',
      },
      pool_connection_timeout: {
        type: 'int', default: -1, min: -1,
        help:
          'The connection timeout to use when pooling LDAP connections. A value of `-1` means that ' +
          'connections will never timeout. This option has no effect unless `[ldap] use_pool` is ' +
          'also enabled.',
      },
      pool_connection_lifetime: {
        type: 'int', default: 600, min: 1,
        help:
          'The maximum connection lifetime to the LDAP server in seconds. When this lifetime is ' +
          'exceeded, the connection will be unbound and removed from the connection pool. This ' +
          'option has no effect unless `[ldap] use_pool` is also enabled.',
      },
      use_auth_pool: {
        type: 'bool', default: true,
        help:
          'Enable LDAP connection pooling for end user authentication. There is typically no reason ' +
          'to disable this.',
      },
      auth_pool_size: {
        type: 'int', default: 100, min: 1,
        help:
          'The size of the connection pool to use for end user authentication. This option has no ' +
          'effect unless `[ldap] use_auth_pool` is also enabled.',
      },
      auth_pool_connection_lifetime: {
        type: 'int', default: 60, min: 1,
        help:
          'The maximum end user authentication connection lifetime to the LDAP server in seconds. ' +
          'When this lifetime is exceeded, the connection will be unbound and removed from the ' +
          'connection pool. This option has no effect unless `[ldap] use_auth_pool` is also ' +
          'enabled.',
      },
    },
  },
  memcache: {
    origin: 'keystone',
    inert: true,
    only: 'zed',
    help:
      "Keystone's own memcache pool options, deprecated in favour of `[cache]` and removed after " +
      'Zed. Accepted, no effect.',
    options: {
      dead_retry: {
        type: 'int', default: 300, deprecated: true,
        help:
          'Number of seconds memcached server is considered dead before it is tried again. This is ' +
          'used by the key value store system.',
      },
      socket_timeout: {
        type: 'int', default: 3, deprecated: true,
        help:
          'Timeout in seconds for every call to a server. This is used by the key value store ' +
          'system.',
      },
      pool_maxsize: {
        type: 'int', default: 10, deprecated: true,
        help:
          'Max total number of open connections to every memcached server. This is used by the key ' +
          'value store system.',
      },
      pool_unused_timeout: {
        type: 'int', default: 60, deprecated: true,
        help:
          'Number of seconds a connection to memcached is held unused in the pool before it is ' +
          'closed. This is used by the key value store system.',
      },
      pool_connection_get_timeout: {
        type: 'int', default: 10, deprecated: true,
        help:
          'Number of seconds that an operation will wait to get a memcache client connection. This ' +
          'is used by the key value store system.',
      },
    },
  },
  oauth1: {
    origin: 'keystone',
    help: 'OS-OAUTH1: consumers, request tokens and access tokens.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      request_token_duration: {
        type: 'int', default: 28800, min: 0,
        help:
          'Seconds an OAuth 1.0a request token stays valid for the user to authorize it; 0 means ' +
          'forever.',
      },
      access_token_duration: {
        type: 'int', default: 86400, min: 0,
        help: 'Seconds an OAuth 1.0a access token stays valid; 0 means forever.',
      },
    },
  },
  oauth2: {
    origin: 'keystone',
    only: '2026',
    help: 'OS-OAUTH2: the OAuth 2.0 client credentials token endpoint (2026).',
    options: {
      oauth2_authn_methods: {
        type: 'list', default: ['tls_client_auth', 'client_secret_basic'], itemChoices: ['tls_client_auth', 'client_secret_basic'],
        help:
          'Client authentication methods accepted by `POST /v3/OS-OAUTH2/token`: ' +
          '`client_secret_basic` (application credential id and secret) and `tls_client_auth` ' +
          '(mutual TLS client certificate).',
      },
      oauth2_cert_dn_mapping_id: {
        type: 'string', default: 'oauth2_mapping',
        help:
          "ID of the mapping that maps a client certificate's subject DN to a user for " +
          '`tls_client_auth`.',
      },
    },
  },
  policy: {
    origin: 'keystone',
    help: 'The `/v3/policies` blob store (not the policy engine; that is `[oslo_policy]`).',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      list_limit: {
        type: 'int', default: null,
        help:
          'Maximum number of policies returned in one collection. Unset or 0: `[DEFAULT] ' +
          'list_limit`.',
      },
    },
  },
  receipt: {
    origin: 'keystone',
    help: 'Auth receipts (multi-factor authentication in several steps).',
    options: {
      expiration: {
        type: 'int', default: 300, min: 0, max: 86400,
        help:
          'Seconds an auth receipt stays valid, i.e. how long the user has to supply the missing ' +
          'authentication methods.',
      },
      provider: {
        type: 'enum', default: 'fernet', choices: ['fernet'],
        help: 'Receipt format; receipts are always Fernet, even with `[token] provider = jws`.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: 300, min: 0, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_on_issue: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
    },
  },
  resource: {
    origin: 'keystone',
    help: 'Projects and domains.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      caching: {
        type: 'bool', default: true, deprecatedNames: [{ section: 'assignment', name: 'caching' }], inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, deprecatedNames: [{ section: 'assignment', name: 'cache_time' }], inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      list_limit: {
        type: 'int', default: null, deprecatedNames: [{ section: 'assignment', name: 'list_limit' }],
        help:
          'Maximum number of projects or domains returned in one collection. Unset or 0: `[DEFAULT] ' +
          'list_limit`.',
      },
      admin_project_domain_name: {
        type: 'string', default: null,
        help: 'Domain of `admin_project_name`. Both must be set for the admin project to exist.',
      },
      admin_project_name: {
        type: 'string', default: null,
        help:
          'A project whose role assignments apply cloud-wide: tokens scoped to it carry ' +
          '`is_admin_project: true` (and every other project-scoped token `false`). Needs ' +
          '`admin_project_domain_name` too; unset, no token carries the attribute.',
      },
      project_name_url_safe: {
        type: 'enum', default: 'off', choices: ['off', 'new', 'strict'],
        help:
          'Forbid URL-reserved characters in project names: `off`; `new` refuses them on create and ' +
          'update; `strict` also refuses to scope a token to such a project by name.',
      },
      domain_name_url_safe: {
        type: 'enum', default: 'off', choices: ['off', 'new', 'strict'],
        help:
          'Forbid URL-reserved characters in domain names: `off`; `new` refuses them on create and ' +
          'update; `strict` also refuses to scope a token to such a domain by name.',
      },
    },
  },
  revoke: {
    origin: 'keystone',
    help: 'Token revocation events.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      expiration_buffer: {
        type: 'int', default: 1800, min: 0,
        help:
          'Seconds after the expiry of the tokens it covers before a revocation event may be ' +
          'pruned; events older than `[token] expiration` plus this buffer are deleted.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: 3600, deprecatedNames: [{ section: 'token', name: 'revocation_cache_time' }], inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
    },
  },
  role: {
    origin: 'keystone',
    help: 'Global and domain-specific roles.',
    options: {
      driver: {
        type: 'enum', default: null, choices: ['sql'],
        help:
          'Backend driver; unset means the same as `sql`. keystone-ts stores everything in SQL ' +
          '(PostgreSQL), so `sql` is the only accepted value; any other driver is refused at ' +
          'start-up rather than silently ignored.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      list_limit: {
        type: 'int', default: null,
        help: 'Maximum number of roles returned in one collection. Unset or 0: `[DEFAULT] list_limit`.',
      },
    },
  },
  saml: {
    origin: 'keystone',
    inert: true,
    help:
      'Keystone as a SAML2 identity provider (Keystone-to-Keystone federation). keystone-ts does ' +
      'not issue SAML assertions; accepted, no effect.',
    options: {
      assertion_expiration_time: {
        type: 'int', default: 3600,
        help:
          'Determines the lifetime for any SAML assertions generated by keystone, using ' +
          '`NotOnOrAfter` attributes.',
      },
      xmlsec1_binary: {
        type: 'string', default: 'xmlsec1',
        help:
          'Name of, or absolute path to, the binary to be used for XML signing. Although only the ' +
          'XML Security Library (`xmlsec1`) is supported, it may have a non-standard name or path ' +
          'on your system. If keystone cannot find the binary itself, you may need to install the ' +
          "appropriate package, use this option to specify an absolute path, or adjust keystone's " +
          'PATH environment variable.',
      },
      certfile: {
        type: 'path', default: '/etc/keystone/ssl/certs/signing_cert.pem',
        help:
          'Absolute path to the public certificate file to use for SAML signing. The value cannot ' +
          'contain a comma (`,`).',
      },
      keyfile: {
        type: 'path', default: '/etc/keystone/ssl/private/signing_key.pem',
        help:
          'Absolute path to the private key file to use for SAML signing. The value cannot contain ' +
          'a comma (`,`).',
      },
      idp_entity_id: {
        type: 'uri', default: null,
        help:
          'This is the unique entity identifier of the identity provider (keystone) to use when ' +
          'generating SAML assertions. This value is required to generate identity provider ' +
          'metadata and must be a URI (a URL is recommended). For example: ' +
          '`https://keystone.example.com/v3/OS-FEDERATION/saml2/idp`.',
      },
      idp_sso_endpoint: {
        type: 'uri', default: null,
        help:
          'This is the single sign-on (SSO) service location of the identity provider which accepts ' +
          'HTTP POST requests. A value is required to generate identity provider metadata. For ' +
          'example: `https://keystone.example.com/v3/OS-FEDERATION/saml2/sso`.',
      },
      idp_lang: {
        type: 'string', default: 'en',
        help: "This is the language used by the identity provider's organization.",
      },
      idp_organization_name: {
        type: 'string', default: 'SAML Identity Provider',
        help: "This is the name of the identity provider's organization.",
      },
      idp_organization_display_name: {
        type: 'string', default: 'OpenStack SAML Identity Provider',
        help: "This is the name of the identity provider's organization to be displayed.",
      },
      idp_organization_url: {
        type: 'uri', default: 'https://example.com/',
        help:
          "This is the URL of the identity provider's organization. The URL referenced here should " +
          'be useful to humans.',
      },
      idp_contact_company: {
        type: 'string', default: 'Example, Inc.',
        help: "This is the company name of the identity provider's contact person.",
      },
      idp_contact_name: {
        type: 'string', default: 'SAML Identity Provider Support',
        help: "This is the given name of the identity provider's contact person.",
      },
      idp_contact_surname: {
        type: 'string', default: 'Support',
        help: "This is the surname of the identity provider's contact person.",
      },
      idp_contact_email: {
        type: 'string', default: 'support@example.com',
        help: "This is the email address of the identity provider's contact person.",
      },
      idp_contact_telephone: {
        type: 'string', default: '+1 800 555 0100',
        help: "This is the telephone number of the identity provider's contact person.",
      },
      idp_contact_type: {
        type: 'enum', default: 'other', choices: ['technical', 'support', 'administrative', 'billing', 'other'],
        help: "This is the type of contact that best describes the identity provider's contact person.",
      },
      idp_metadata_path: {
        type: 'path', default: '/etc/keystone/saml2_idp_metadata.xml',
        help:
          'Absolute path to the identity provider metadata file. This file should be generated with ' +
          'the `keystone-manage saml_idp_metadata` command. There is typically no reason to change ' +
          'this value.',
      },
      relay_state_prefix: {
        type: 'string', default: 'ss:mem:',
        help:
          'The prefix of the RelayState SAML attribute to use when generating enhanced client and ' +
          'proxy (ECP) assertions. In a typical deployment, there is no reason to change this ' +
          'value.',
      },
    },
  },
  security_compliance: {
    origin: 'keystone',
    help:
      'PCI-DSS style password and account rules: lockout, expiry, history, minimum age, complexity, ' +
      'inactivity. They apply to users of the SQL identity backend, that is all users of ' +
      'keystone-ts.',
    options: {
      disable_user_account_days_inactive: {
        type: 'int', default: null, min: 1,
        help:
          'A user who has not authenticated for this many days reads as disabled (`enabled: false`) ' +
          'until an administrator re-enables it. Exempt: user option `ignore_user_inactivity`. ' +
          'Unset: off.',
      },
      lockout_failure_attempts: {
        type: 'int', default: null, min: 1,
        help:
          'After this many consecutive failed password authentications the account is locked (401 ' +
          'with the generic message). Exempt: user option `ignore_lockout_failure_attempts`. Unset: ' +
          'off.',
      },
      lockout_duration: {
        type: 'int', default: 1800, min: 1,
        help:
          'Seconds a locked account stays locked, counted from the last failure; afterwards the ' +
          'counter resets on the next attempt. Unset: locked until an administrator re-enables the ' +
          'user. Only matters when `lockout_failure_attempts` is set.',
      },
      password_expires_days: {
        type: 'int', default: null, min: 1,
        help:
          'Days a newly set password stays valid; an expired password gets 401 with a message ' +
          'naming the user, who must change it. Exempt: user option `ignore_password_expiry`. ' +
          'Existing passwords are not affected. Unset: passwords never expire.',
      },
      unique_last_password_count: {
        type: 'int', default: 0, min: 0,
        help:
          'A self-service password change must differ from the last N passwords, the current one ' +
          'included (400 otherwise). 0 or 1: only the current password is kept.',
      },
      minimum_password_age: {
        type: 'int', default: 0, min: 0,
        help:
          'Days a self-service-set password must be kept before the user may change it again (400), ' +
          'so that history cannot be flushed by quick changes. Administrators can always reset. ' +
          'Keep it below `password_expires_days`.',
      },
      password_regex: {
        type: 'string', default: null,
        help:
          'Regular expression every new password must match (anchored at the start only, like ' +
          "Python's `re.match`), e.g. `^(?=.*\\d)(?=.*[a-zA-Z]).{7,}$`. Unset: any password.",
      },
      password_regex_description: {
        type: 'string', default: null,
        help:
          'Human description of `password_regex`, returned in the 400 error when a password does ' +
          'not match.',
      },
      change_password_upon_first_use: {
        type: 'bool', default: false,
        help:
          "Passwords set at user creation or by an administrator's reset are stored already " +
          'expired, so the user must change them before getting a token. Exempt: user option ' +
          '`ignore_change_password_upon_first_use`.',
      },
      report_invalid_password_hash: {
        type: 'list', default: [], itemChoices: ['event'], only: '2026',
        help:
          'Where to report a partial keyed hash of a wrong password, to tell brute force (varying ' +
          'hashes) from a client with a stale password (one repeated hash): `event` adds it to the ' +
          '`identity.authenticate.failure` notification (2026). Empty: off.',
      },
      invalid_password_hash_secret_key: {
        type: 'string', default: null, secret: true, only: '2026',
        help:
          'HMAC key of the invalid-password hashes (16 bytes or more recommended). Use the same ' +
          'value on every node that shares the database, so equal passwords give equal hashes.',
      },
      invalid_password_hash_function: {
        type: 'string', default: 'sha256', only: '2026',
        help: 'Hash function of the HMAC, a name such as `sha256` or `sha512`.',
      },
      invalid_password_hash_max_chars: {
        type: 'int', default: null, min: 1, only: '2026',
        help:
          'Report only this many leading characters of the hash; the fewer, the less the report ' +
          'reveals. Unset: the full hash.',
      },
      allow_insecure_admin_trust_cross_project_credentials_access: {
        type: 'bool', default: false, deprecated: true,
        help:
          'INSECURE, deprecated: let admin-role delegated tokens (trusts, application credentials, ' +
          'OAuth1 and EC2) reach EC2 credentials across projects. Default false: delegated tokens ' +
          'are kept away from `/v3/credentials` and OS-EC2 (LP#2150089, LP#2159643).',
      },
      allow_insecure_application_credential_trust_escalation: {
        type: 'bool', default: false, deprecated: true,
        help:
          'INSECURE, deprecated: let application credential tokens create, list and delete trusts. ' +
          'Default false, because a trust bootstrapped from an application credential escapes the ' +
          'delegation chain and its audit trail.',
      },
    },
  },
  shadow_users: {
    origin: 'keystone',
    help: 'Shadow users: local records of federated users.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
    },
  },
  token: {
    origin: 'keystone',
    help: 'Token lifetime, provider and rescoping rules.',
    options: {
      expiration: {
        type: 'int', default: 3600, min: 0,
        help:
          'Lifetime of a new token in seconds. Shorter limits the harm of a stolen (bearer) token; ' +
          'much shorter breaks long operations that pass a token between services.',
      },
      provider: {
        type: 'enum', default: 'fernet', choices: ['fernet', 'jws'],
        help:
          'Token format: `fernet` (encrypted, keys in `[fernet_tokens]`) or `jws` (signed, keys in ' +
          '`[jwt_tokens]`). Neither is stored in the database.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, min: 0, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      revoke_by_id: {
        type: 'bool', default: true,
        help:
          'Support revoking individual tokens by id. In 2026 turning it off only makes ' +
          '`/v3/auth/tokens/OS-PKI/revoked` answer 410 instead of 403.',
      },
      allow_rescope_scoped_token: {
        type: 'bool', default: true,
        help:
          'If false, only unscoped tokens may be exchanged for a scoped token; a scoped token ' +
          'cannot be rescoped.',
      },
      cache_on_issue: {
        type: 'bool', default: true, deprecated: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      allow_expired_window: {
        type: 'int', default: 172800, min: 0,
        help:
          'Seconds after expiry during which a token still validates when the caller asks for ' +
          '`allow_expired=true` (service tokens finishing long operations).',
      },
    },
  },
  tokenless_auth: {
    origin: 'keystone',
    inert: true,
    help: 'X.509 tokenless authorization. Not implemented by keystone-ts; accepted, no effect.',
    options: {
      trusted_issuer: {
        type: 'multi', default: [],
        help:
          'The list of distinguished names which identify trusted issuers of client certificates ' +
          'allowed to use X.509 tokenless authorization. If the option is absent then no ' +
          'certificates will be allowed. The format for the values of a distinguished name (DN) ' +
          'must be separated by a comma and contain no spaces.',
      },
      protocol: {
        type: 'string', default: 'x509',
        help:
          'The federated protocol ID used to represent X.509 tokenless authorization. This is used ' +
          'in combination with the value of `[tokenless_auth] issuer_attribute` to find a ' +
          'corresponding federated mapping. In a typical deployment, there is no reason to change ' +
          'this value.',
      },
      issuer_attribute: {
        type: 'string', default: 'SSL_CLIENT_I_DN',
        help:
          'The name of the WSGI environment variable used to pass the issuer of the client ' +
          'certificate to keystone. This attribute is used as an identity provider ID for the X.509 ' +
          'tokenless authorization along with the protocol to look up its corresponding mapping. In ' +
          'a typical deployment, there is no reason to change this value.',
      },
    },
  },
  totp: {
    origin: 'keystone',
    help: 'TOTP authentication method (add `totp` to `[auth] methods` to enable it).',
    options: {
      included_previous_windows: {
        type: 'int', default: 1, min: 0, max: 10,
        help:
          'Number of previous 30-second windows whose passcodes are still accepted, to tolerate ' +
          'clock drift.',
      },
    },
  },
  trust: {
    origin: 'keystone',
    help: 'OS-TRUST: delegation of roles from a trustor to a trustee.',
    options: {
      allow_redelegation: {
        type: 'bool', default: false,
        help: 'Accepted for compatibility and not read, as in Keystone: a trust may be redelegated when it was created with allow_redelegation and its redelegation_count is above 0.',
      },
      max_redelegation_count: {
        type: 'int', default: 3, min: 0,
        help: 'Maximum length of a chain of redelegated trusts; a trust may set a lower limit.',
      },
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
    },
  },
  unified_limit: {
    origin: 'keystone',
    help: 'Registered limits and project limits.',
    options: {
      driver: {
        type: 'enum', default: 'sql', choices: ['sql'],
        help:
          'Backend driver. keystone-ts stores everything in SQL (PostgreSQL), so `sql` is the only ' +
          'accepted value; any other driver is refused at start-up rather than silently ignored.',
      },
      caching: {
        type: 'bool', default: true, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      cache_time: {
        type: 'int', default: null, inert: true,
        help: 'Accepted, no effect: keystone-ts does not cache this data.',
      },
      list_limit: {
        type: 'int', default: null,
        help: 'Maximum number of limits returned in one collection. Unset or 0: `[DEFAULT] list_limit`.',
      },
      enforcement_model: {
        type: 'enum', default: 'flat', choices: ['flat', 'strict_two_level'],
        help:
          'Limit enforcement model reported by `GET /v3/limits/model` and applied when limits are ' +
          'created: `flat` or `strict_two_level`. Switching it in a running deployment can ' +
          'invalidate existing limits.',
      },
    },
  },
  wsgi: {
    origin: 'keystone',
    inert: true,
    help: "Keystone's WSGI pipeline. Accepted, no effect.",
    options: {
      debug_middleware: {
        type: 'bool', default: false,
        help:
          'If set to true, this enables the oslo debug middleware in Keystone. This Middleware ' +
          'prints a lot of information about the request and the response. It is useful for getting ' +
          'information about the data on the wire (decoded) and passed to the WSGI application ' +
          'pipeline.',
      },
    },
  },
} as const satisfies RegistrySpec;

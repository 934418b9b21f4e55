import type { PassthroughSectionSpec, RegistrySpec } from '../schema.js';

/**
 * Sections owned by the oslo libraries that Keystone loads. The ones that matter to keystone-ts
 * are declared option by option; defaults are those Keystone ends up with after its own
 * `set_defaults` calls (keystone/conf/__init__.py), not the bare library defaults.
 */
export const OSLO_SECTIONS = {
  cache: {
    origin: 'oslo.cache',
    help:
      'Caching (oslo.cache). keystone-ts reads only `enabled`; the backend options are accepted so ' +
      'an existing keystone.conf loads, and have no effect.',
    options: {
      config_prefix: {
        type: 'string', default: 'cache.oslo', inert: true,
        help: 'Prefix for building the configuration dictionary for the cache region.',
      },
      expiration_time: {
        type: 'int', default: 600, min: 1, inert: true,
        help: 'Default TTL, in seconds, for any cached item in the dogpile.cache region.',
      },
      backend_expiration_time: {
        type: 'int', default: null, min: 1, inert: true, only: '2026',
        help: 'Expiration time in cache backend to purge expired records automatically.',
      },
      backend: {
        type: 'enum', default: 'dogpile.cache.null', choices: ['oslo_cache.memcache_pool', 'oslo_cache.dict', 'oslo_cache.etcd3gw', 'dogpile.cache.pymemcache', 'dogpile.cache.memcached', 'dogpile.cache.pylibmc', 'dogpile.cache.bmemcached', 'dogpile.cache.dbm', 'dogpile.cache.redis', 'dogpile.cache.redis_sentinel', 'dogpile.cache.memory', 'dogpile.cache.memory_pickle', 'dogpile.cache.null'], inert: true,
        help: 'Cache backend module.',
      },
      backend_argument: {
        type: 'multi', default: [], secret: true, inert: true,
        help: 'Arguments supplied to the backend module.',
      },
      proxies: {
        type: 'list', default: [], inert: true,
        help: 'Proxy classes to import that will affect the way the dogpile.cache backend functions.',
      },
      enabled: {
        type: 'bool', default: false,
        help:
          'Global caching switch. keystone-ts may memoize token validation and role resolution when ' +
          'this is on, and must never serve stale roles or revocations. Default false, following ' +
          'the interop spec; Python Keystone turns oslo.cache on by default for request-local ' +
          'caching.',
      },
      debug_cache_backend: {
        type: 'bool', default: false, inert: true,
        help: 'Extra debugging from the cache backend (cache keys, get/set/delete/etc calls).',
      },
      memcache_servers: {
        type: 'list', default: ['localhost:11211'], inert: true,
        help: 'Memcache servers in the format of "host:port".',
      },
      memcache_dead_retry: {
        type: 'int', default: 300, inert: true,
        help: 'Number of seconds memcached server is considered dead before it is tried again.',
      },
      memcache_pool_maxsize: {
        type: 'int', default: 10, inert: true,
        help: 'Max total number of open connections to every memcached server.',
      },
      memcache_pool_unused_timeout: {
        type: 'int', default: 60, inert: true,
        help:
          'Number of seconds a connection to memcached is held unused in the pool before it is ' +
          'closed.',
      },
      memcache_pool_connection_get_timeout: {
        type: 'int', default: 10, inert: true,
        help: 'Number of seconds that an operation will wait to get a memcache client connection.',
      },
      memcache_pool_flush_on_reconnect: {
        type: 'bool', default: false, inert: true,
        help: 'Global toggle if memcache will be flushed on reconnect.',
      },
      memcache_sasl_enabled: {
        type: 'bool', default: false, inert: true,
        help:
          'Enable the SASL(Simple Authentication and SecurityLayer) if the SASL_enable is true, ' +
          'else disable.',
      },
      redis_server: {
        type: 'string', default: 'localhost:6379', inert: true, only: '2026',
        help: 'Redis server in the format of "host:port"',
      },
      redis_db: {
        type: 'int', default: 0, min: 0, inert: true, only: '2026',
        help: 'Database id in Redis server',
      },
      redis_sentinels: {
        type: 'list', default: ['localhost:26379'], inert: true, only: '2026',
        help: 'Redis sentinel servers in the format of "host:port"',
      },
      redis_sentinel_service_name: {
        type: 'string', default: 'mymaster', inert: true, only: '2026',
        help: 'Service name of the redis sentinel cluster.',
      },
      username: {
        type: 'string', default: null, deprecatedNames: [{ name: 'memcache_username' }, { name: 'redis_username' }], inert: true, only: '2026',
        help: 'the user name for authentication to backend.',
      },
      password: {
        type: 'string', default: null, deprecatedNames: [{ name: 'memcache_password' }, { name: 'redis_password' }], secret: true, inert: true, only: '2026',
        help: 'the password for authentication to backend.',
      },
      tls_enabled: {
        type: 'bool', default: false, inert: true,
        help:
          'Global toggle for TLS usage when communicating with the caching servers.Currently ' +
          'supported by `dogpile.cache.bmemcache`, `dogpile.cache.pymemcache`, ' +
          '`oslo_cache.memcache_pool`, `dogpile.cache.redis` and ' +
          '`dogpile.cache.redis_sentinel`',
      },
      tls_cafile: {
        type: 'path', default: null, inert: true,
        help:
          'Path to a file of concatenated CA certificates in PEM format necessary to establish the ' +
          "caching servers' authenticity.",
      },
      tls_certfile: {
        type: 'path', default: null, inert: true,
        help:
          "Path to a single file in PEM format containing the client's certificate as well as any " +
          "number of CA certificates needed to establish the certificate's authenticity.",
      },
      tls_keyfile: {
        type: 'path', default: null, inert: true,
        help: "Path to a single file containing the client's private key in.",
      },
      tls_allowed_ciphers: {
        type: 'string', default: null, inert: true,
        help: 'Set the available ciphers for sockets created with the TLS context.',
      },
      socket_timeout: {
        type: 'float', default: 1.0, deprecatedNames: [{ name: 'memcache_socket_timeout' }, { name: 'redis_socket_timeout' }], inert: true, only: '2026',
        help: 'Timeout in seconds for every call to a server.',
      },
      enable_socket_keepalive: {
        type: 'bool', default: false, inert: true,
        help: "Global toggle for the socket keepalive of dogpile's pymemcache backend",
      },
      socket_keepalive_idle: {
        type: 'int', default: 1, min: 0, inert: true,
        help:
          'The time (in seconds) the connection needs to remain idle before TCP starts sending ' +
          'keepalive probes.',
      },
      socket_keepalive_interval: {
        type: 'int', default: 1, min: 0, inert: true,
        help: 'The time (in seconds) between individual keepalive probes.',
      },
      socket_keepalive_count: {
        type: 'int', default: 1, min: 0, inert: true,
        help: 'The maximum number of keepalive probes TCP should send before dropping the connection.',
      },
      enable_retry_client: {
        type: 'bool', default: false, inert: true,
        help: 'Enable retry client mechanisms to handle failure.',
      },
      retry_attempts: {
        type: 'int', default: 2, min: 1, inert: true,
        help: 'Number of times to attempt an action before failing.',
      },
      retry_delay: {
        type: 'float', default: 0, inert: true,
        help: 'Number of seconds to sleep between each attempt.',
      },
      hashclient_retry_attempts: {
        type: 'int', default: 2, min: 1, inert: true,
        help:
          'Amount of times a client should be tried before it is marked dead and removed from the ' +
          "pool in the HashClient's internal mechanisms.",
      },
      hashclient_retry_timeout: {
        type: 'float', default: 1, deprecatedNames: [{ name: 'hashclient_retry_delay' }], inert: true, only: '2026',
        help:
          "Time in seconds that should pass between retry attempts in the HashClient's internal " +
          'mechanisms.',
      },
      hashclient_dead_timeout: {
        type: 'float', default: 60, deprecatedNames: [{ name: 'dead_timeout' }], inert: true, only: '2026',
        help:
          "Time in seconds before attempting to add a node back in the pool in the HashClient's " +
          'internal mechanisms.',
      },
    },
  },
  cors: {
    origin: 'oslo.middleware',
    help:
      "Cross-origin resource sharing (oslo.middleware's CORS filter). Defaults are the ones " +
      "Keystone sets, which allow Keystone's own headers (`X-Auth-Token`, `X-Subject-Token`, " +
      '`Openstack-Auth-Receipt`, ...).',
    options: {
      allowed_origin: {
        type: 'list', default: null,
        help:
          'Origins allowed to make cross-origin requests, as `<scheme>://<host>[:<port>]` without a ' +
          'trailing slash. Unset: CORS is off.',
      },
      allow_credentials: {
        type: 'bool', default: true,
        help: 'Indicate that the actual request can include user credentials',
      },
      expose_headers: {
        type: 'list', default: ['X-Auth-Token', 'X-Openstack-Request-Id', 'X-Subject-Token', 'Openstack-Auth-Receipt'],
        help: 'Indicate which headers are safe to expose to the API. Defaults to HTTP Simple Headers.',
      },
      max_age: {
        type: 'int', default: 3600, min: 0,
        help: 'Maximum cache age of CORS preflight requests.',
      },
      allow_methods: {
        type: 'list', default: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
        help: 'Indicate which methods can be used during the actual request.',
      },
      allow_headers: {
        type: 'list', default: ['X-Auth-Token', 'X-Openstack-Request-Id', 'X-Subject-Token', 'X-Project-Id', 'X-Project-Name', 'X-Project-Domain-Id', 'X-Project-Domain-Name', 'X-Domain-Id', 'X-Domain-Name', 'Openstack-Auth-Receipt'],
        help: 'Indicate which header field names may be used during the actual request.',
      },
    },
  },
  database: {
    origin: 'oslo.db',
    help:
      "The SQL database (oslo.db's option names). keystone-ts speaks PostgreSQL only and reads " +
      '`connection` and `max_pool_size`; the other options are accepted, no effect.',
    options: {
      sqlite_synchronous: {
        type: 'bool', default: true, deprecatedNames: [{ section: 'DEFAULT', name: 'sqlite_synchronous' }], inert: true,
        help: 'If True, SQLite uses synchronous mode.',
      },
      backend: {
        type: 'string', default: 'sqlalchemy', deprecatedNames: [{ section: 'DEFAULT', name: 'db_backend' }], inert: true,
        help: 'The back end to use for the database.',
      },
      connection: {
        type: 'string', default: null, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_connection' }, { name: 'sql_connection' }, { section: 'sql', name: 'connection' }], secret: true,
        help:
          'Database URL. keystone-ts speaks PostgreSQL only: ' +
          '`postgresql://user:password@host:5432/keystone` (or `postgres://`); SQLAlchemy reads ' +
          '`postgresql://` as well, so one keystone.conf can serve a Python Keystone and ' +
          'keystone-ts. `pglite://memory` and `pglite:///absolute/dir` select the embedded PGlite ' +
          'database. Unset: embedded PGlite under `[keystone_ts] data_dir`.',
      },
      slave_connection: {
        type: 'string', default: null, secret: true, inert: true,
        help: 'The SQLAlchemy connection string to use to connect to the slave database.',
      },
      asyncio_connection: {
        type: 'string', default: null, secret: true, inert: true, only: '2026',
        help: 'The SQLAlchemy asyncio connection string to use to connect to the database.',
      },
      asyncio_slave_connection: {
        type: 'string', default: null, secret: true, inert: true, only: '2026',
        help: 'The SQLAlchemy asyncio connection string to use to connect to the slave database.',
      },
      synchronous_reader: {
        type: 'bool', default: true, inert: true, only: '2026',
        help:
          'Whether or not to assume a reader context needs to guarantee it can read data committed ' +
          'by a writer assuming replication lag is present; defaults to True. When False, a reader ' +
          'context works the same as async_reader and will select the slave database if present. ' +
          'When using a galera cluster, this can be set to False only if you set ' +
          'mysql_wsrep_sync_wait to 1 (this will guarantee that the reader will wait until ' +
          'writesets are committed).Note that this may incur a performance degradation within the ' +
          'galera cluster.',
      },
      mysql_sql_mode: {
        type: 'string', default: 'TRADITIONAL', inert: true,
        help:
          'The SQL mode to be used for MySQL sessions. This option, including the default, ' +
          'overrides any server-set SQL mode. To use whatever SQL mode is set by the server ' +
          'configuration, set this to no value.',
      },
      mysql_wsrep_sync_wait: {
        type: 'int', default: null, inert: true, only: '2026',
        help:
          'For Galera only, configure wsrep_sync_wait causality checks on new connections. Default ' +
          "is None, meaning don't configure any setting.",
      },
      connection_recycle_time: {
        type: 'int', default: 3600, inert: true,
        help:
          'Connections which have been present in the connection pool longer than this number of ' +
          'seconds will be replaced with a new one the next time they are checked out from the ' +
          'pool.',
      },
      max_pool_size: {
        type: 'int', default: 5, min: 1,
        help:
          "Maximum number of open connections per process. oslo.db's name for it; unlike oslo.db, 0 " +
          '(no limit) is not accepted.',
      },
      max_retries: {
        type: 'int', default: 10, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_max_retries' }, { name: 'sql_max_retries' }], inert: true,
        help:
          'Maximum number of database connection retries during startup. Set to -1 to specify an ' +
          'infinite retry count.',
      },
      retry_interval: {
        type: 'int', default: 10, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_retry_interval' }, { name: 'reconnect_interval' }], inert: true,
        help: 'Interval between retries of opening a SQL connection.',
      },
      max_overflow: {
        type: 'int', default: 50, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_max_overflow' }, { name: 'sqlalchemy_max_overflow' }], inert: true,
        help: 'If set, use this value for max_overflow with SQLAlchemy.',
      },
      connection_debug: {
        type: 'int', default: 0, min: 0, max: 100, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_connection_debug' }], inert: true,
        help: 'Verbosity of SQL debugging information: 0=None, 100=Everything.',
      },
      connection_trace: {
        type: 'bool', default: false, deprecatedNames: [{ section: 'DEFAULT', name: 'sql_connection_trace' }], inert: true,
        help: 'Add Python stack traces to SQL as comment strings.',
      },
      pool_timeout: {
        type: 'int', default: null, deprecatedNames: [{ name: 'sqlalchemy_pool_timeout' }], inert: true,
        help: 'If set, use this value for pool_timeout with SQLAlchemy.',
      },
      use_db_reconnect: {
        type: 'bool', default: false, inert: true,
        help: 'Enable the experimental use of database reconnect on connection lost.',
      },
      db_retry_interval: {
        type: 'int', default: 1, inert: true,
        help: 'Seconds between retries of a database transaction.',
      },
      db_inc_retry_interval: {
        type: 'bool', default: true, inert: true,
        help:
          'If True, increases the interval between retries of a database operation up to ' +
          'db_max_retry_interval.',
      },
      db_max_retry_interval: {
        type: 'int', default: 10, inert: true,
        help:
          'If db_inc_retry_interval is set, the maximum seconds between retries of a database ' +
          'operation.',
      },
      db_max_retries: {
        type: 'int', default: 20, inert: true,
        help:
          'Maximum retries in case of connection error or deadlock error before error is raised. ' +
          'Set to -1 to specify an infinite retry count.',
      },
      connection_parameters: {
        type: 'string', default: '', inert: true,
        help:
          'Optional URL parameters to append onto the connection URL at connect time; specify as ' +
          'param1=value1&param2=value2&...',
      },
      mysql_enable_ndb: {
        type: 'bool', default: false, inert: true, only: 'zed',
        help: 'If True, transparently enables support for handling MySQL Cluster (NDB).',
      },
    },
  },
  oslo_middleware: {
    origin: 'oslo.middleware',
    help: 'HTTP request handling options that Keystone takes from oslo.middleware.',
    options: {
      max_request_body_size: {
        type: 'int', default: 114688, min: 1, deprecatedNames: [{ section: 'DEFAULT', name: 'osapi_max_request_body_size' }, { section: 'DEFAULT', name: 'max_request_body_size' }],
        help: 'Maximum size of a request body in bytes; larger requests get 413.',
      },
      enable_proxy_headers_parsing: {
        type: 'bool', default: false,
        help:
          'Trust `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded` from a reverse proxy when ' +
          'building URLs. Enable only behind a proxy that sets (and strips) them.',
      },
      http_basic_auth_user_file: {
        type: 'path', default: '/etc/htpasswd', inert: true,
        help: 'HTTP basic auth password file.',
      },
      secure_proxy_ssl_header: {
        type: 'string', default: 'X-Forwarded-Proto', deprecated: true, inert: true, only: 'zed',
        help:
          'The HTTP Header that will be used to determine what the original request protocol scheme ' +
          'was, even if it was hidden by a SSL termination proxy.',
      },
    },
  },
  oslo_policy: {
    origin: 'oslo.policy',
    help: "Policy enforcement switches (oslo.policy's option names).",
    options: {
      enforce_scope: {
        type: 'bool', default: true,
        help:
          "Refuse (403) a request whose token scope is not among the rule's `scope_types`. True " +
          "since oslo.policy 4.4 (false in Debian Zed's 4.0.0, where scope mismatches are only " +
          'logged); the 2026 oslo.policy removed the option and always enforces scope.',
      },
      enforce_new_defaults: {
        type: 'bool', default: true,
        help:
          "Evaluate only the new (secure RBAC) default rules. If false, each rule's deprecated " +
          "check string is OR-ed in, as in Keystone during an upgrade (Debian Zed's oslo.policy " +
          'defaults to false; 2026 to true).',
      },
      policy_file: {
        type: 'path', default: 'policy.yaml', deprecatedNames: [{ section: 'DEFAULT', name: 'policy_file' }],
        help:
          "Policy override file in oslo.policy's YAML format. A relative path is looked up next to " +
          'the configuration files, as oslo.policy does.',
      },
      policy_default_rule: {
        type: 'string', default: 'default', deprecatedNames: [{ section: 'DEFAULT', name: 'policy_default_rule' }], inert: true,
        help: 'Default rule. Enforced when a requested rule is not found.',
      },
      policy_dirs: {
        type: 'multi', default: ['policy.d'], deprecatedNames: [{ section: 'DEFAULT', name: 'policy_dirs' }], inert: true,
        help:
          'Directories where policy configuration files are stored. They can be relative to any ' +
          'directory in the search path defined by the config_dir option, or absolute paths. The ' +
          'file defined by policy_file must exist for these directories to be searched.',
      },
      remote_content_type: {
        type: 'enum', default: 'application/x-www-form-urlencoded', choices: ['application/x-www-form-urlencoded', 'application/json'], inert: true,
        help: 'Content Type to send and receive data for REST based policy check',
      },
      remote_ssl_verify_server_crt: {
        type: 'bool', default: false, inert: true,
        help: 'server identity verification for REST based policy check',
      },
      remote_ssl_ca_crt_file: {
        type: 'string', default: null, inert: true,
        help: 'Absolute path to ca cert file for REST based policy check',
      },
      remote_ssl_client_crt_file: {
        type: 'string', default: null, inert: true,
        help: 'Absolute path to client cert for REST based policy check',
      },
      remote_ssl_client_key_file: {
        type: 'string', default: null, inert: true,
        help: 'Absolute path client key file REST based policy check',
      },
      remote_timeout: {
        type: 'float', default: 60, min: 0, inert: true, only: '2026',
        help: 'Timeout in seconds for REST based policy check',
      },
    },
  },
} as const satisfies RegistrySpec;

/**
 * Accepted whole and ignored. keystone-ts has no oslo.messaging bus, profiler, file locks or
 * oslo.middleware healthcheck, and these libraries add and drop options from release to release,
 * so validating their option names would only reject working keystone.conf files.
 */
export const PASSTHROUGH_SECTIONS = {
  oslo_messaging_notifications: {
    origin: 'oslo.messaging',
    help: 'Notification driver, topics and transport. keystone-ts does not publish to oslo.messaging.',
  },
  oslo_messaging_rabbit: { origin: 'oslo.messaging', help: 'RabbitMQ transport settings.' },
  oslo_messaging_amqp: { origin: 'oslo.messaging', help: 'AMQP 1.0 transport settings.' },
  oslo_messaging_kafka: { origin: 'oslo.messaging', help: 'Kafka transport settings.' },
  oslo_concurrency: { origin: 'oslo.concurrency', help: 'External lock files (`lock_path`).' },
  profiler: { origin: 'osprofiler', help: 'OSProfiler tracing.' },
  healthcheck: { origin: 'oslo.middleware', help: "oslo.middleware's healthcheck endpoint." },
} as const satisfies Readonly<Record<string, PassthroughSectionSpec>>;

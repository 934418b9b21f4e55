import type { RegistrySpec } from '../schema.js';

/**
 * [DEFAULT]. oslo.config keeps the options of every library that registers into DEFAULT in one
 * section, so a real keystone.conf mixes Keystone's own options with oslo.log's and
 * oslo.messaging's here; all are declared, so a typo in this section is still caught.
 */
export const DEFAULT_SECTIONS = {
  DEFAULT: {
    origin: 'keystone, oslo.log, oslo.messaging',
    help:
      "Keystone's global options, plus the logging (oslo.log) and messaging (oslo.messaging) " +
      "options that real keystone.conf files carry in this section. Unlike Python's ConfigParser, " +
      'values set here are not inherited by other sections.',
    options: {
      admin_token: {
        type: 'string', default: null, deprecated: true, secret: true,
        help:
          'A shared secret that, sent as `X-Auth-Token`, bypasses authentication and most ' +
          'authorization checks. Not recommended: use `keystone-manage bootstrap` (or `keystone-ts ' +
          'bootstrap`) instead. Unset (the default) disables it.',
      },
      public_endpoint: {
        type: 'uri', default: null,
        help:
          'Base URL advertised to clients in links and the version document, e.g. ' +
          '`https://keystone.example.com:5000` or `https://example.com/identity` when behind a path ' +
          "prefix. Unset: derived from each request's host (and, with `[oslo_middleware] " +
          'enable_proxy_headers_parsing`, from the `X-Forwarded-*` headers). It does not change ' +
          'where the server listens (see `[keystone_ts] bind`).',
      },
      max_project_tree_depth: {
        type: 'int', default: 5,
        help:
          'Maximum depth of the project hierarchy, not counting the project acting as a domain at ' +
          'the top. Creating a project deeper than this is refused (403).',
      },
      max_param_size: {
        type: 'int', default: 64, deprecated: true, inert: true,
        help:
          'Limit on the size of user and project IDs and names (deprecated upstream). Accepted, no ' +
          "effect: keystone-ts enforces Keystone's JSON Schema limits (255 characters for names).",
      },
      max_token_size: {
        type: 'int', default: 255,
        help:
          'Tokens longer than this are logged as suspicious. Keystone only logs and does not reject ' +
          'them; with Fernet tokens 255 is enough.',
      },
      list_limit: {
        type: 'int', default: null,
        help:
          'Maximum number of entities returned in a collection; a longer result is cut and marked ' +
          '`"truncated": true`. The per-area `list_limit` options (`[identity]`, `[resource]`, ' +
          '`[role]`, `[catalog]`, `[policy]`, `[unified_limit]`) override it. Unset or 0: no limit.',
      },
      max_db_limit: {
        type: 'int', default: 1000, min: 0, only: '2026',
        help:
          'Upper bound of the `limit` query parameter of paginated lists (users, groups, projects, ' +
          'domains): never more than this many items come back in one page (2026).',
      },
      strict_password_check: {
        type: 'bool', default: false,
        help:
          'If true, a password longer than `[identity] max_password_length` is rejected with 403; ' +
          'if false it is silently truncated.',
      },
      insecure_debug: {
        type: 'bool', default: false,
        help:
          'If true, error responses carry details (such as why authentication failed) that normally ' +
          'go to the log only. Useful when debugging; insecure in production.',
      },
      default_publisher_id: {
        type: 'string', default: null,
        help: '`publisher_id` of emitted notifications. Unset: `identity.<host name>`.',
      },
      notification_format: {
        type: 'enum', default: 'cadf', choices: ['basic', 'cadf'],
        help:
          'Format of identity notifications: `basic` carries the resource only; `cadf` (recommended ' +
          'for audit) adds the initiator and is a superset of `basic`.',
      },
      notification_opt_out: {
        type: 'multi', default: ['identity.authenticate.success', 'identity.authenticate.pending'],
        help:
          'Notifications not to emit, as `identity.<resource_type>.<operation>` patterns; repeat ' +
          'the option once per pattern. Setting it replaces the default list (which suppresses ' +
          'successful and pending authentication events); an empty assignment ' +
          '(`notification_opt_out =`) opts back in to everything.',
      },
      executor_thread_pool_size: {
        type: 'int', default: 64, deprecatedNames: [{ name: 'rpc_thread_pool_size' }], inert: true,
        help: 'Size of executor thread pool when executor is threading or eventlet.',
      },
      rpc_response_timeout: {
        type: 'int', default: 60, inert: true,
        help: 'Seconds to wait for a response from a call.',
      },
      transport_url: {
        type: 'string', default: 'rabbit://', secret: true, inert: true,
        help:
          'The network address and optional user credentials for connecting to the messaging ' +
          'backend, in URL format. The expected format is: ' +
          'driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query Example: ' +
          'rabbit://rabbitmq:password@127.0.0.1:5672// For full details on the fields in the URL ' +
          'see the documentation of oslo_messaging.TransportURL at ' +
          'https://docs.openstack.org/oslo.messaging/latest/reference/transport.html',
      },
      control_exchange: {
        type: 'string', default: 'keystone', inert: true,
        help:
          'The default exchange under which topics are scoped. May be overridden by an exchange ' +
          'name specified in the transport_url option.',
      },
      rpc_ping_enabled: {
        type: 'bool', default: false, inert: true,
        help: 'Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping',
      },
      debug: {
        type: 'bool', default: false,
        help: 'Log at debug level instead of the default info level.',
      },
      log_config_append: {
        type: 'path', default: null, deprecatedNames: [{ name: 'log_config' }], inert: true,
        help:
          'The name of a logging configuration file. This file is appended to any existing logging ' +
          'configuration files. For details about logging configuration files, see the Python ' +
          'logging module documentation.',
      },
      log_date_format: {
        type: 'string', default: '%Y-%m-%d %H:%M:%S', inert: true,
        help:
          'Defines the format string for %(asctime)s in log records. This option is ignored if ' +
          'log_config_append is set.',
      },
      log_file: {
        type: 'path', default: null, deprecatedNames: [{ name: 'logfile' }], inert: true,
        help:
          '(Optional) Name of log file to send logging output to. If no default is set, logging ' +
          'will go to stderr as defined by use_stderr. This option is ignored if log_config_append ' +
          'is set.',
      },
      log_dir: {
        type: 'path', default: null, deprecatedNames: [{ name: 'logdir' }], inert: true,
        help:
          '(Optional) The base directory used for relative log_file paths. This option is ignored ' +
          'if log_config_append is set.',
      },
      use_syslog: {
        type: 'bool', default: false, inert: true,
        help:
          'Use syslog for logging. Existing syslog format is DEPRECATED and will be changed later ' +
          'to honor RFC5424. This option is ignored if log_config_append is set.',
      },
      use_journal: {
        type: 'bool', default: false, inert: true,
        help:
          'Enable journald for logging. If running in a systemd environment you may wish to enable ' +
          'journal support. Doing so will use the journal native protocol which includes structured ' +
          'metadata in addition to log messages.This option is ignored if log_config_append is set.',
      },
      syslog_log_facility: {
        type: 'string', default: 'LOG_USER', inert: true,
        help:
          'Syslog facility to receive log lines. This option is ignored if log_config_append is ' +
          'set.',
      },
      use_json: {
        type: 'bool', default: false, inert: true,
        help:
          'Use JSON formatting for logging (oslo.log). Accepted, no effect: see `[keystone_ts] ' +
          'log_format`.',
      },
      use_stderr: {
        type: 'bool', default: false, inert: true,
        help: 'Log output to standard error. This option is ignored if log_config_append is set.',
      },
      log_color: {
        type: 'bool', default: false, inert: true, only: '2026',
        help:
          "(Optional) Set the 'color' key according to log levels. This option takes effect only " +
          'when logging to stderr or stdout is used. This option is ignored if log_config_append is ' +
          'set.',
      },
      log_rotate_interval: {
        type: 'int', default: 1, inert: true,
        help:
          'The amount of time before the log files are rotated. This option is ignored unless ' +
          'log_rotation_type is set to "interval".',
      },
      log_rotate_interval_type: {
        type: 'string', default: 'days', inert: true,
        help:
          'Rotation interval type. The time of the last file change (or the time when the service ' +
          'was started) is used when scheduling the next rotation.',
      },
      max_logfile_count: {
        type: 'int', default: 30, inert: true,
        help: 'Maximum number of rotated log files.',
      },
      max_logfile_size_mb: {
        type: 'int', default: 200, inert: true,
        help:
          'Log file maximum size in MB. This option is ignored if "log_rotation_type" is not set to ' +
          '"size".',
      },
      log_rotation_type: {
        type: 'enum', default: 'none', choices: ['interval', 'size', 'none'], inert: true,
        help: 'Log rotation type.',
      },
      logging_context_format_string: {
        type: 'string', default: '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s', inert: true,
        help:
          'Format string to use for log messages with context. Used by ' +
          'oslo_log.formatters.ContextFormatter',
      },
      logging_default_format_string: {
        type: 'string', default: '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s', inert: true,
        help:
          'Format string to use for log messages when context is undefined. Used by ' +
          'oslo_log.formatters.ContextFormatter',
      },
      logging_debug_format_suffix: {
        type: 'string', default: '%(funcName)s %(pathname)s:%(lineno)d', inert: true,
        help:
          'Additional data to append to log message when logging level for the message is DEBUG. ' +
          'Used by oslo_log.formatters.ContextFormatter',
      },
      logging_exception_prefix: {
        type: 'string', default: '%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s', inert: true,
        help:
          'Prefix each line of exception output with this format. Used by ' +
          'oslo_log.formatters.ContextFormatter',
      },
      logging_user_identity_format: {
        type: 'string', default: '%(user)s %(project)s %(domain)s %(system_scope)s %(user_domain)s %(project_domain)s', inert: true,
        help:
          'Defines the format string for %(user_identity)s that is used in ' +
          'logging_context_format_string. Used by oslo_log.formatters.ContextFormatter',
      },
      default_log_levels: {
        type: 'list', default: ['amqp=WARN', 'boto=WARN', 'sqlalchemy=WARN', 'suds=INFO', 'oslo.messaging=INFO', 'oslo_messaging=INFO', 'iso8601=WARN', 'requests.packages.urllib3.connectionpool=WARN', 'urllib3.connectionpool=WARN', 'websocket=WARN', 'requests.packages.urllib3.util.retry=WARN', 'urllib3.util.retry=WARN', 'keystonemiddleware=WARN', 'routes.middleware=WARN', 'stevedore=WARN', 'taskflow=WARN', 'keystoneauth=WARN', 'oslo.cache=INFO', 'oslo_policy=INFO', 'dogpile.core.dogpile=INFO', 'dogpile=INFO', 'routes=INFO'], inert: true,
        help: 'List of package logging levels in logger=LEVEL pairs.',
      },
      publish_errors: {
        type: 'bool', default: false, inert: true,
        help: 'Enables or disables publication of error events.',
      },
      instance_format: {
        type: 'string', default: '[instance: %(uuid)s] ', inert: true,
        help: 'The format for an instance that is passed with the log message.',
      },
      instance_uuid_format: {
        type: 'string', default: '[instance: %(uuid)s] ', inert: true,
        help: 'The format for an instance UUID that is passed with the log message.',
      },
      rate_limit_interval: {
        type: 'int', default: 0, inert: true,
        help: 'Interval, number of seconds, of log rate limiting.',
      },
      rate_limit_burst: {
        type: 'int', default: 0, inert: true,
        help: 'Maximum number of logged messages per rate_limit_interval.',
      },
      rate_limit_except_level: {
        type: 'enum', default: 'CRITICAL', choices: ['CRITICAL', 'ERROR', 'INFO', 'WARNING', 'DEBUG', ''], inert: true,
        help:
          'Log level name used by rate limiting. Logs with level greater or equal to ' +
          'rate_limit_except_level are not filtered. An empty string means that all levels are ' +
          'filtered.',
      },
      fatal_deprecations: {
        type: 'bool', default: false, inert: true,
        help: 'Enables or disables fatal status of deprecations.',
      },
      rpc_conn_pool_size: {
        type: 'int', default: 30, min: 1, inert: true, only: 'zed',
        help: 'Size of RPC connection pool.',
      },
      conn_pool_min_size: {
        type: 'int', default: 2, inert: true, only: 'zed',
        help: 'The pool size limit for connections expiration policy',
      },
      conn_pool_ttl: {
        type: 'int', default: 1200, inert: true, only: 'zed',
        help: 'The time-to-live in sec of idle connections in the pool',
      },
      watch_log_file: {
        type: 'bool', default: false, inert: true, only: 'zed',
        help:
          'Uses logging handler designed to watch file system. When log file is moved or removed ' +
          'this handler will open a new log file with specified path instantaneously. It makes ' +
          'sense only if log_file option is specified and Linux platform is used.',
      },
      use_eventlog: {
        type: 'bool', default: false, inert: true, only: 'zed',
        help: 'Log output to Windows Event Log.',
      },
    },
  },
} as const satisfies RegistrySpec;

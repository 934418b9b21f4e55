import type { RegistrySpec } from '../schema.js';

/**
 * [keystone_ts]: the few settings upstream Keystone does not have because its WSGI server owns
 * them. Keep it small: an option that Keystone has belongs in Keystone's section, under
 * Keystone's name.
 */
export const KEYSTONE_TS_SECTIONS = {
  keystone_ts: {
    origin: 'keystone-ts',
    help:
      'Options of keystone-ts itself, for things upstream Keystone leaves to its WSGI server ' +
      '(Apache, uWSGI). Python Keystone ignores this section, so one keystone.conf can serve both ' +
      'side by side.',
    options: {
      data_dir: {
        type: 'path', default: './data',
        help:
          "Directory of keystone-ts's local state, such as the embedded PGlite database used when " +
          '`[database] connection` is unset. A relative path is relative to the working directory ' +
          'of the process. The environment variable `KEYSTONE_TS_DATA` sets it too.',
      },
      bind: {
        type: 'address', default: '127.0.0.1:5000',
        help:
          'Address the HTTP server listens on, `host:port` (IPv6 in brackets: `[::1]:5000`). ' +
          'Loopback by default, so a fresh install is not reachable from the network until an ' +
          'operator says so.',
      },
      workers: {
        type: 'int', default: 0, min: 0,
        help: 'Number of HTTP worker processes; 0 starts one per CPU core.',
      },
      log_format: {
        type: 'enum', default: 'text', choices: ['text', 'json'],
        help: 'Log line format: `text` for people, `json` (one object per line) for log collectors.',
      },
      policy_engine: {
        type: 'enum', default: 'rego', choices: ['rego', 'cedar', 'oslo'],
        help:
          'Policy engine that decides every request: `rego` (policies/rego compiled to Wasm, run by ' +
          'opa-wasm), `cedar` (policies/cedar through cedar-wasm) or `oslo` (the check strings ' +
          "evaluated directly, as Keystone does). All three decide Keystone's default rules and an " +
          'operator policy file identically; docs/decisions/0006-default-policy-engine.md says why ' +
          'rego is the default.',
      },
      decision_log: {
        type: 'string', default: '',
        help:
          'Where the policy decision log goes, one JSON line per decision (decision id, action, ' +
          'result, bundle revision, latency, input with secrets masked): empty for nowhere, ' +
          '`stdout`, or a file path (appended to).',
      },
      decision_log_sample_rate: {
        type: 'float', default: 1, min: 0, max: 1,
        help: 'Share of allowed decisions written to the decision log; denials are always written.',
      },
    },
  },
  workload_identity: {
    origin: 'keystone-ts',
    help:
      'Workload identity federation: CI jobs, Kubernetes pods and SPIFFE workloads exchanging ' +
      'their platform-issued JWT for a Keystone token (`/v4/federation/identity_providers`, ' +
      'docs/decisions/0011-workload-identity.md). Issuers and their bindings are API data, not ' +
      'options; these bound how their tokens are checked.',
    options: {
      max_jwt_size: {
        type: 'int', default: 8192, min: 512, max: 16384,
        help:
          'Longest JWT accepted, in characters; longer ones are refused before they are parsed. ' +
          'Workload tokens are 1-2 KB; the JWT login carries it in a header, which Node.js caps ' +
          'at 16 KB for all headers together.',
      },
      clock_leeway: {
        type: 'int', default: 30, min: 0, max: 300,
        help: 'Seconds of clock skew tolerated on a JWT\'s `exp`, `nbf` and `iat`.',
      },
      jwks_refresh_interval: {
        type: 'int', default: 30, min: 0, max: 3600,
        help:
          'Least number of seconds between two fetches of one issuer\'s keys. A token with an ' +
          'unknown `kid` triggers a fetch (key rotation), at most this often, so forged tokens ' +
          'cannot turn keystone-ts into a load generator against the issuer.',
      },
      jwks_max_age: {
        type: 'int', default: 600, min: 1, max: 86400,
        help: 'Seconds a fetched discovery document or key set is used before it is fetched again.',
      },
    },
  },
} as const satisfies RegistrySpec;

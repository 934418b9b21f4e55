import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { ConfigError, KeystoneError } from '../common/errors.js';
import { createChangeFeed } from '../common/change-feed.js';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type Db } from '../db/database.js';
import { migrateToLatest, schemaVersion } from '../db/migrate.js';
import { createProviders, createService, resolveLocations, runBootstrap, type Log } from '../main.js';
import { KeyRepository, rotateKeyRepository, setupKeyRepository } from '../token/key-repository.js';
import { TokenFormatter, inspectJson } from '../token/formatter.js';
import { createBundleStore, DEFAULT_BUNDLE } from '../policy/bundles.js';
import { type BundleEngine, BundleUsageError, testBundle } from '../policy/bundle-test.js';
import { loadPolicyRules } from '../policy/defaults.js';
import { buildPolicyEngine } from '../policy/engines.js';
import { parsePolicyFile } from '../policy/policy-file.js';

/** A usage error: printed with the command's help, exit status 2. */
class UsageError extends Error {}

interface Parsed {
  readonly positional: string[];
  readonly flags: Map<string, string[]>;
  readonly switches: Set<string>;
}

/** Options that take a value; everything else starting with `--` is a switch. */
const VALUED = new Set([
  'config-file',
  'bind',
  'workers',
  'key-repository',
  'bootstrap-password',
  'bootstrap-username',
  'bootstrap-project-name',
  'bootstrap-role-name',
  'bootstrap-service-name',
  'bootstrap-admin-url',
  'bootstrap-public-url',
  'bootstrap-internal-url',
  'bootstrap-region-id',
  'name',
  'engine',
]);

function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '-h') {
      switches.add('help');
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      if (VALUED.has(name)) {
        const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, [...(flags.get(name) ?? []), value]);
      } else {
        if (eq > 0) throw new UsageError(`--${name} takes no value`);
        switches.add(name);
      }
    } else {
      positional.push(arg);
    }
  }
  return { positional, flags, switches };
}

const HELP: Record<string, string> = {
  '': `Usage: keystone-ts [--config-file FILE]... COMMAND [OPTIONS]

A Keystone-compatible identity service.

Commands:
  serve                 run the HTTP service
  db sync               create or upgrade the database schema
  db version            print the schema version
  bootstrap             create the default domain, admin user, project, roles and endpoints
  fernet setup|rotate   create or rotate the Fernet token key repository
  credential setup      create the credential key repository
  token inspect TOKEN   decode a Fernet token and print its fields as JSON
  policy load FILE      publish an oslo.policy override file to every running server
  policy test DIR       test a policy bundle: opa test, Cedar validation, decision cases

Global options:
  --config-file FILE    keystone.conf to read; repeatable, later files override earlier ones
  -h, --help            show help (also after any command)
`,
  serve: `Usage: keystone-ts serve [--bind HOST:PORT] [--workers N]

Serves the Identity API. With nothing configured it keeps everything in the data directory
(./data or KEYSTONE_TS_DATA): an embedded PGlite database, Fernet and credential keys, and an
admin user bootstrapped on first start (password from OS_BOOTSTRAP_PASSWORD, or generated and
printed once).

  --bind HOST:PORT   address to listen on ([keystone_ts] bind, default 127.0.0.1:5000)
  --workers N        worker processes ([keystone_ts] workers; 0 = one per core). An embedded
                     PGlite database is owned by one process, so it always runs one.
`,
  db: `Usage: keystone-ts db sync | db version

  sync      create Keystone's schema (or recognise one made by keystone-manage db_sync) and
            this project's own tables
  version   print the schema version: this project's latest migration and the alembic heads
`,
  bootstrap: `Usage: keystone-ts bootstrap [OPTIONS]

keystone-manage bootstrap: creates (idempotently) the default domain, the admin project, user
and role, the reader/member/manager/service roles, the admin's project and system grants, and
optionally a region and the identity endpoints. Environment variables OS_BOOTSTRAP_* are read
first, as upstream does.

  --bootstrap-password P       admin password (or OS_BOOTSTRAP_PASSWORD; required)
  --bootstrap-username U       default admin
  --bootstrap-project-name P   default admin
  --bootstrap-role-name R      default admin
  --bootstrap-service-name S   default keystone
  --bootstrap-admin-url URL    --bootstrap-public-url URL    --bootstrap-internal-url URL
  --bootstrap-region-id R
  --immutable-roles | --no-immutable-roles   default: immutable
`,
  fernet: `Usage: keystone-ts fernet setup|rotate [--key-repository DIR]

  setup    create the repository with a staged and a primary key (only if key 0 is missing)
  rotate   promote the staged key to primary, add a new staged key, and drop the oldest keys
           beyond [fernet_tokens] max_active_keys. A running server picks the change up.
`,
  credential: `Usage: keystone-ts credential setup [--key-repository DIR]

Creates the credential key repository ([credential] key_repository).
`,
  policy: `Usage: keystone-ts policy load [--name NAME] FILE
       keystone-ts policy test [--engine rego|cedar|both] [--require-opa] DIR

load  Stores FILE (an oslo.policy override file, YAML or JSON: rule name → check string) as the
      next revision of the policy bundle NAME (default: default). Every running server of the
      deployment applies it within moments, without restart. A file with an unknown action or a
      check string that does not parse is refused and nothing is stored.

test  Tests the policy bundle in DIR: rego/ (Rego sources and *_test.rego), cedar/ (*.cedar and
      keystone.cedarschema), cases/ (*.json decision cases), optionally rego.wasm. Runs
      \`opa test DIR/rego\` and builds it to Wasm when the OPA CLI is found ($OPA, the pinned
      .cache/bin/opa, or opa on PATH; otherwise the cases run on DIR/rego.wasm), validates the Cedar
      policies against the schema, and decides every case with each engine under each
      [oslo_policy] setting it names. Prints each failure (case, rule, settings, expected, got,
      violations) and a summary. Exit status: 0 all passed, 1 failures, 2 usage error.

  --engine rego|cedar|both   which engines to test (default both)
  --require-opa              fail, rather than skip \`opa test\`, when the OPA CLI is missing
`,
  token: `Usage: keystone-ts token inspect [--key-repository DIR] TOKEN

Decrypts a Fernet token with the key repository and prints one JSON object with its fields.
An invalid or expired token exits with status 1 and a one-line reason.
`,
};

function printLog(format: string): Log {
  return (record) => {
    if (format === 'json') {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
    } else {
      const { level = 'info', msg = '', ...rest } = record;
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
      process.stderr.write(`${String(level).toUpperCase()} ${String(msg)}${extra}\n`);
    }
  };
}

function bootstrapOptionsFrom(parsed: Parsed, config: Config, env: NodeJS.ProcessEnv) {
  const pick = (envName: string, flag: string, fallback: string | null): string | null =>
    env[envName] || parsed.flags.get(flag)?.at(-1) || fallback;
  const password = parsed.flags.get('bootstrap-password')?.at(-1) ?? env['OS_BOOTSTRAP_PASSWORD'];
  return {
    password: password ?? '',
    username: pick('OS_BOOTSTRAP_USERNAME', 'bootstrap-username', 'admin')!,
    projectName: pick('OS_BOOTSTRAP_PROJECT_NAME', 'bootstrap-project-name', 'admin')!,
    roleName: pick('OS_BOOTSTRAP_ROLE_NAME', 'bootstrap-role-name', 'admin')!,
    serviceName: pick('OS_BOOTSTRAP_SERVICE_NAME', 'bootstrap-service-name', 'keystone')!,
    adminUrl: pick('OS_BOOTSTRAP_ADMIN_URL', 'bootstrap-admin-url', null),
    publicUrl: pick('OS_BOOTSTRAP_PUBLIC_URL', 'bootstrap-public-url', null),
    internalUrl: pick('OS_BOOTSTRAP_INTERNAL_URL', 'bootstrap-internal-url', null),
    regionId: pick('OS_BOOTSTRAP_REGION_ID', 'bootstrap-region-id', null),
    immutableRoles: !parsed.switches.has('no-immutable-roles'),
    defaultDomainId: config.identity.default_domain_id,
  };
}

function isEmptyRepository(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).filter((f) => /^\d+$/.test(f)).length === 0;
}

/**
 * First start with nothing configured: create what is missing in the data directory. Returns
 * the opened, migrated database so a single-process server need not open it twice.
 */
async function prepareDataDirectory(config: Config, bind: string, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<Db> {
  const dataDir = path.resolve(config.keystone_ts.data_dir);
  const locations = resolveLocations(config);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const [dir, maxActiveKeys] of [
    [locations.fernetKeys, config.fernet_tokens.max_active_keys],
    [locations.credentialKeys, 3],
  ] as const) {
    // Only repositories inside the data directory are created implicitly; an operator's
    // configured repository that is missing is an error, as in Keystone.
    if (dir.startsWith(dataDir + path.sep) && isEmptyRepository(dir)) {
      setupKeyRepository(dir, { maxActiveKeys });
      out(`Created key repository ${dir}`);
    }
  }
  const db = await openDatabase(locations.databaseUrl, { poolSize: config.database.max_pool_size });
  try {
    await migrateToLatest(db);
    const changes = await createChangeFeed(null);
    const providers = createProviders(db, config, changes);
    if (!(await providers.resource.getDomain(config.identity.default_domain_id))) {
      const generated = !env['OS_BOOTSTRAP_PASSWORD'];
      const password = env['OS_BOOTSTRAP_PASSWORD'] || randomBytes(18).toString('base64url');
      const publicUrl = `${config.DEFAULT.public_endpoint?.replace(/\/+$/, '') ?? `http://${bind}`}/v3`;
      await runBootstrap(
        providers,
        { ...bootstrapOptionsFrom(parseArgs([]), config, { ...env, OS_BOOTSTRAP_PASSWORD: password }), publicUrl, regionId: env['OS_BOOTSTRAP_REGION_ID'] || 'RegionOne' },
        () => undefined,
      );
      out(`Bootstrapped admin user "admin" in project "admin", domain "Default"`);
      if (generated) out(`Generated admin password (shown once): ${password}`);
    }
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

async function serve(config: Config, parsed: Parsed, env: NodeJS.ProcessEnv): Promise<void> {
  const bind = parsed.flags.get('bind')?.at(-1) ?? config.keystone_ts.bind;
  const match = /^(.*):(\d+)$/.exec(bind);
  if (!match) throw new UsageError(`--bind must be HOST:PORT, got ${JSON.stringify(bind)}`);
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(match[2]);
  const log = printLog(config.keystone_ts.log_format);
  const embedded = resolveLocations(config).databaseUrl.startsWith('pglite:');
  const requested = Number(parsed.flags.get('workers')?.at(-1) ?? config.keystone_ts.workers);
  if (!Number.isInteger(requested) || requested < 0) throw new UsageError('--workers must be a whole number ≥ 0');
  const workers = embedded ? 1 : requested === 0 ? availableParallelism() : requested;

  let db: Db | undefined;
  if (cluster.isPrimary) {
    db = await prepareDataDirectory(config, bind, env, (line) => process.stdout.write(`${line}\n`));
    if (embedded && requested > 1) log({ level: 'warning', msg: 'embedded PGlite database: serving from one process' });
    if (workers > 1) {
      await db.close();
      // "listening" is printed once every worker listens, so whoever waits for it (an init
      // system, a test, an operator) never reaches a port with nobody behind it.
      const allListening = new Promise<void>((resolve) => {
        const listening = new Set<number>();
        cluster.on('listening', (worker) => {
          listening.add(worker.id);
          if (listening.size === workers) resolve();
        });
      });
      for (let i = 0; i < workers; i += 1) cluster.fork();
      cluster.on('exit', (worker, code, signal) => {
        log({ level: 'error', msg: 'worker exited', pid: worker.process.pid, code, signal });
        if (!shuttingDown) cluster.fork();
      });
      let shuttingDown = false;
      const stop = () => {
        shuttingDown = true;
        for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await allListening;
      process.stdout.write(`keystone-ts listening on http://${bind}/v3 (${workers} workers)\n`);
      return;
    }
  }
  const service = await createService(config, { log, db, configFiles: parsed.flags.get('config-file') ?? [] });
  const server = service.app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  if (cluster.isPrimary) process.stdout.write(`keystone-ts listening on http://${bind}/v3\n`);
  const shutdown = () => {
    server.close(() => {
      service
        .close()
        .then(() => db?.close())
        .finally(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

async function withDatabase<T>(config: Config, fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const db = await openDatabase(resolveLocations(config).databaseUrl, { poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function policyTest(parsed: Parsed, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const dir = parsed.positional[2];
  if (!dir || parsed.positional.length > 3) throw new UsageError('usage: policy test [--engine rego|cedar|both] [--require-opa] DIR');
  const engine = parsed.flags.get('engine')?.at(-1) ?? 'both';
  const engines: Record<string, BundleEngine[]> = { rego: ['rego'], cedar: ['cedar'], both: ['rego', 'cedar'] };
  if (!engines[engine]) throw new UsageError(`--engine must be rego, cedar or both, got ${JSON.stringify(engine)}`);
  try {
    const passed = await testBundle({ dir, engines: engines[engine]!, requireOpa: parsed.switches.has('require-opa'), env, out });
    return passed ? 0 : 1;
  } catch (error) {
    if (error instanceof BundleUsageError) throw new UsageError(error.message);
    throw error;
  }
}

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let parsed: Parsed;
  let command = '';
  try {
    parsed = parseArgs(argv);
    command = parsed.positional[0] ?? '';
    if (parsed.switches.has('help') || command === '' || command === 'help') {
      const topic = command === 'help' ? (parsed.positional[1] ?? '') : command;
      // No command at all is a usage error: the usage goes to stderr, like the others.
      if (command === '' && !parsed.switches.has('help')) {
        process.stderr.write(HELP['']!);
        return 2;
      }
      out(HELP[topic] ?? HELP['']!);
      return 0;
    }
    const sub = parsed.positional[1];
    // Testing a bundle needs no configuration: it runs in an operator's CI, beside no keystone.conf.
    if (command === 'policy' && sub === 'test') return await policyTest(parsed, env, out);
    const config = loadConfig({ configFiles: parsed.flags.get('config-file') ?? [], env });
    switch (command) {
      case 'serve':
        await serve(config, parsed, env);
        return -1; // keeps running
      case 'db':
        if (sub === 'sync') {
          const result = await withDatabase(config, (db) => migrateToLatest(db));
          out(`Keystone schema: ${result.keystoneSchema}; applied: ${result.applied.length > 0 ? result.applied.join(', ') : 'nothing (up to date)'}`);
          return 0;
        }
        if (sub === 'version') {
          out(JSON.stringify(await withDatabase(config, (db) => schemaVersion(db))));
          return 0;
        }
        throw new UsageError('db needs "sync" or "version"');
      case 'bootstrap': {
        const options = bootstrapOptionsFrom(parsed, config, env);
        if (!options.password) throw new UsageError('bootstrap needs --bootstrap-password or OS_BOOTSTRAP_PASSWORD');
        await withDatabase(config, async (db) => {
          await migrateToLatest(db);
          const providers = createProviders(db, config, await createChangeFeed(null));
          const result = await runBootstrap(providers, options, out);
          if (result.created.length === 0) out('Nothing to create: already bootstrapped');
        });
        return 0;
      }
      case 'fernet':
      case 'credential': {
        const locations = resolveLocations(config);
        const dir = parsed.flags.get('key-repository')?.at(-1) ?? (command === 'fernet' ? locations.fernetKeys : locations.credentialKeys);
        const maxActiveKeys = command === 'fernet' ? config.fernet_tokens.max_active_keys : 3;
        if (sub === 'setup') {
          const result = setupKeyRepository(dir, { maxActiveKeys });
          out(result.initialized ? `Created key repository ${dir}` : `Key repository ${dir} already set up`);
          return 0;
        }
        if (sub === 'rotate' && command === 'fernet') {
          const result = rotateKeyRepository(dir, { maxActiveKeys });
          out(`Rotated ${dir}: key ${result.promoted} is primary; purged ${result.purged.length > 0 ? result.purged.join(', ') : 'none'}`);
          return 0;
        }
        throw new UsageError(command === 'fernet' ? 'fernet needs "setup" or "rotate"' : 'credential needs "setup"');
      }
      case 'policy': {
        const file = parsed.positional[2];
        if (sub !== 'load' || !file) throw new UsageError('usage: policy load [--name NAME] FILE | policy test [--engine rego|cedar|both] DIR');
        const overrides = parsePolicyFile(readFileSync(file, 'utf8'), file);
        // Built once here so a broken file is refused before any server sees it.
        await buildPolicyEngine({
          kind: config.keystone_ts.policy_engine,
          rules: loadPolicyRules(),
          overrides,
          enforceScope: config.oslo_policy.enforce_scope,
          enforceNewDefaults: config.oslo_policy.enforce_new_defaults,
        });
        const name = parsed.flags.get('name')?.at(-1) ?? DEFAULT_BUNDLE;
        const revision = await withDatabase(config, async (db) => {
          await migrateToLatest(db);
          return createBundleStore(db).publish(name, 'oslo', JSON.stringify(overrides));
        });
        out(`Published ${file} as policy bundle ${name} revision ${revision}`);
        return 0;
      }
      case 'token': {
        const tokenText = parsed.positional[2];
        if (sub !== 'inspect' || !tokenText) throw new UsageError('usage: token inspect [--key-repository DIR] TOKEN');
        const dir = parsed.flags.get('key-repository')?.at(-1) ?? resolveLocations(config).fernetKeys;
        const keys = new KeyRepository(dir, { watch: false, optionName: '[fernet_tokens] key_repository' });
        try {
          const formatter = new TokenFormatter({ keys, methods: config.auth.methods, defaultDomainId: config.identity.default_domain_id });
          const data = formatter.parse(tokenText);
          if (data.expiresAt.getTime() <= Date.now()) {
            process.stderr.write(`token expired at ${data.expiresAt.toISOString()}\n`);
            return 1;
          }
          out(JSON.stringify(inspectJson(data)));
          return 0;
        } catch (error) {
          if (error instanceof ConfigError) throw error;
          process.stderr.write(`invalid token: ${error instanceof Error ? error.message : String(error)}\n`);
          return 1;
        } finally {
          keys.close();
        }
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`keystone-ts: ${error.message}\n\n${HELP[command] ?? HELP['']}`);
      return 2;
    }
    // Operators get one line; KEYSTONE_TS_DEBUG=1 adds the stack for a bug report.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`keystone-ts: ${message}\n`);
    if (env['KEYSTONE_TS_DEBUG'] && error instanceof Error && !(error instanceof ConfigError || error instanceof KeystoneError)) {
      process.stderr.write(`${error.stack}\n`);
    }
    return 1;
  }
}

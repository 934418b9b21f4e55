/**
 * `npm run bench`: keystone-ts's performance on this machine, against the ceiling a Node.js HTTP
 * service reaches here. Progress goes to stderr; the last line on stdout is one JSON object with
 * every figure (null where a stage could not run, its reason in `errors`).
 *
 * 1. Fernet in process: TokenFormatter.parse / create, µs per op (median of runs).
 * 2. GET /v3/auth/tokens (validation, with and without ?nocatalog) at 50 connections: on PGlite
 *    (always one process) and on PostgreSQL with 2 workers, server started by its CLI.
 * 3. Project-scoped password login at 50 connections on PostgreSQL, 2 workers, default bcrypt cost.
 * 4. Ceilings with the same worker setup: express 5 hello world (1 and 2 workers), bare node:http.
 * 5. Policy: decision latency per engine in process (p50/p99 µs: a project member reading their
 *    project, a list call with a 20-role token), and POST /v4/authz/decision end to end on one
 *    PGlite worker per engine: its extra cost per request over the oslo engine is the policy's.
 * 6. Restricted tokens (bench/restricted.ts): validation of a payload-11 token against an ordinary
 *    project token, with the validation cache off and on, and the down-scoping exchange.
 * 7. Identity on PostgreSQL (bench/identity.ts): GET /v3/users over a 10,000-user domain (whole,
 *    and with list_limit 100), effective role assignments of a user in 50 groups over a
 *    five-level tree, and `openstack user list` over the 10,000 users.
 * 8. Workload JWT login (bench/workload.ts) at 50 connections on PostgreSQL, 2 workers: a
 *    GitHub-shaped RS256 token per request (each jti is single-use), JWKS cache warm.
 *
 * Knobs for quick or diagnostic runs (defaults are the reported settings):
 *   BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONNECTIONS=50 BENCH_FERNET_OPS=200000
 *   BENCH_STAGES=fernet,ceiling,pglite,pg,policy,restricted,identity,workload   BENCH_CPU_PROF_DIR=dir (--cpu-prof on every server)
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { defaultConfig } from '../src/config/index.js';
import { verifyPassword } from '../src/identity/password-hash.js';
import { passwordHashOptions } from '../src/main.js';
import { acquirePostgres } from '../test/support/postgres.js';
import { installCleanupHooks, makeTempDir, removeTempDir } from './children.js';
import { measureFernet, median, round } from './fernet.js';
import { policyBenchCases, RESTRICTED_BASE_CASE, RESTRICTED_CASE, type PolicyFigures } from './policy.js';
import { measureEffectiveAssignments, measureOpenstackUserList, measureRequestFloor, measureUserList, seedAssignments, seedUsers, USERS } from './identity.js';
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import { configureWorkload, startBenchIssuer } from './workload.js';
import {
  adminToken,
  checkValidation,
  passwordLoginBody,
  startCeilingServer,
  startKeystone,
  type RunningServer,
} from './servers.js';

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number in [${min}, ${max}], got ${text}`);
  return value;
}

const DURATION_S = envNumber('BENCH_DURATION', 10, 1, 120);
const WARMUP_S = envNumber('BENCH_WARMUP', 2, 0, 60);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, 1, 1000);
const FERNET_OPS = envNumber('BENCH_FERNET_OPS', 200_000, 1_000, 10_000_000);
const STAGES = new Set((process.env['BENCH_STAGES'] ?? 'fernet,ceiling,pglite,pg,policy,restricted,identity,workload').split(',').map((s) => s.trim()));
/** Only for this run's throwaway admin; never a real credential. */
const ADMIN_PASSWORD = 'bench-admin-Passw0rd';
/** Login waits on bcrypt (~0.25 s per hash per core at cost 12): 50 queued logins take seconds. */
const LOGIN_TIMEOUT_S = 60;
const TARGETS = {
  fernet_validate_us: 10,
  validate_vs_ceiling_2w: 0.6,
  validate_p99_ms: 30,
  rego_p99_us: 50,
  cedar_p99_us: 150,
  users_10k_list_p50_ms: 100,
  effective_assignments_p50_ms: 5,
  workload_login_rps_2w: 1000,
};

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

const figures: Record<string, unknown> = {};
const runs: Record<string, LoadResult & { load_avg_1m: number }> = {};
const errors: string[] = [];

function describe(result: LoadResult): string {
  const anomalies = result.unexpected_status + result.errors + result.timeouts;
  return (
    `${result.rps} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${result.requests} answers in ${result.duration_s} s` +
    (anomalies > 0 ? ` — ${result.unexpected_status} unexpected statuses ${JSON.stringify(result.status_codes)}, ${result.errors} errors, ${result.timeouts} timeouts` : '')
  );
}

/** What to send; the load settings default to the run's. */
type Target = Pick<LoadSpec, 'url' | 'method' | 'headers' | 'body' | 'expectStatus' | 'bearerTokensFile'> & Partial<LoadSpec>;

async function measure(name: string, spec: Target): Promise<LoadResult> {
  progress(`${name}: ${spec.warmupSeconds ?? WARMUP_S} s warm-up, ${spec.durationSeconds ?? DURATION_S} s at ${CONNECTIONS} connections`);
  const loadAverage = round(os.loadavg()[0]!, 2);
  const measured = await runLoad(name, {
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    warmupSeconds: WARMUP_S,
    timeoutSeconds: 10,
    ...spec,
  });
  const result = { ...measured, load_avg_1m: loadAverage };
  runs[name] = result;
  progress(`${name}: ${describe(result)}`);
  if (result.requests === 0) errors.push(`${name}: no request answered ${spec.expectStatus} within the run`);
  else if (result.unexpected_status + result.errors + result.timeouts > 0) errors.push(`${name}: not every request answered ${spec.expectStatus}`);
  return result;
}

/** Runs one stage; a failure is reported and the next stage still runs. */
async function stage(name: string, body: () => Promise<void>): Promise<void> {
  if (!STAGES.has(name)) {
    progress(`${name}: skipped (BENCH_STAGES)`);
    return;
  }
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    errors.push(`${name}: ${message.split('\n')[0]}`);
    progress(`${name} FAILED: ${message}`);
  } finally {
    progress(`${name}: stage took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function withServer(start: () => Promise<RunningServer>, use: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await start();
  try {
    await use(server);
  } finally {
    await server.stop();
  }
}

async function measureCeiling(kind: 'express' | 'node-http', workers: number, key: string): Promise<void> {
  await withServer(
    () => startCeilingServer(kind, workers),
    async (server) => {
      const result = await measure(`${key}_${workers}w`, { url: `${server.url}/hello`, expectStatus: 200 });
      figures[`${key}_rps_${workers}w`] = result.rps;
      figures[`${key}_p99_ms_${workers}w`] = result.p99_ms;
    },
  );
}

function validationSpec(url: string, token: string, nocatalog: boolean): Target {
  return {
    url: `${url}/v3/auth/tokens${nocatalog ? '?nocatalog' : ''}`,
    headers: { 'X-Auth-Token': token, 'X-Subject-Token': token },
    expectStatus: 200,
  };
}

/** Validation with and without ?nocatalog on one server; keys end in `suffix`. */
async function measureValidation(server: RunningServer, suffix: string): Promise<void> {
  const token = await adminToken(server.url, ADMIN_PASSWORD);
  figures['validate_body_bytes'] = await checkValidation(server.url, token, false);
  figures['validate_nocatalog_body_bytes'] = await checkValidation(server.url, token, true);
  const withCatalog = await measure(`validate_${suffix}`, validationSpec(server.url, token, false));
  figures[`validate_rps_${suffix}`] = withCatalog.rps;
  figures[`validate_p99_ms_${suffix}`] = withCatalog.p99_ms;
  const noCatalog = await measure(`validate_nocatalog_${suffix}`, validationSpec(server.url, token, true));
  figures[`validate_nocatalog_rps_${suffix}`] = noCatalog.rps;
  figures[`validate_nocatalog_p99_ms_${suffix}`] = noCatalog.p99_ms;
}

/** The admin's stored hash: its work factor is what every login pays. */
async function storedAdminHash(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ password_hash: string | null }>(
      `SELECT p.password_hash FROM password p JOIN local_user u ON u.id = p.local_user_id WHERE u.name = 'admin' ORDER BY p.created_at_int DESC LIMIT 1`,
    );
    const hash = rows[0]?.password_hash;
    if (!hash) throw new Error('no stored password hash for admin');
    return hash;
  } finally {
    await client.end();
  }
}

/**
 * One password check as the server runs it (verifyPassword, default options), timed here, alone:
 * the service time that bounds login throughput at cpus / time.
 */
async function bcryptVerifyMs(hash: string): Promise<number> {
  const options = passwordHashOptions(defaultConfig());
  const times: number[] = [];
  for (let i = 0; i < 4; i += 1) {
    const start = performance.now();
    if (!(await verifyPassword(ADMIN_PASSWORD, hash, options))) throw new Error('the stored admin hash does not verify');
    times.push(performance.now() - start);
  }
  return round(median(times), 1);
}

async function main(): Promise<void> {
  installCleanupHooks();
  const started = Date.now();
  figures['machine'] = {
    cpus: os.availableParallelism(),
    cpu_model: os.cpus()[0]?.model ?? null,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
    // Other work on the machine competes with the servers and the load generator: read the
    // figures in the light of the load average around the run.
    load_avg_1m_start: round(os.loadavg()[0]!, 2),
  };
  if (os.loadavg()[0]! > os.availableParallelism() / 2) {
    progress(`warning: load average ${os.loadavg()[0]!.toFixed(2)} on ${os.availableParallelism()} CPUs; other work will skew the figures`);
  }
  figures['load'] = { generator: 'autocannon 9, own process', connections: CONNECTIONS, duration_s: DURATION_S, warmup_s: WARMUP_S };

  await stage('fernet', async () => {
    const result = measureFernet(
      // Creation is measured on fewer ops: it is not on the per-request path, and costs twice as much.
      { runs: 5, parseOpsPerRun: FERNET_OPS, createOpsPerRun: Math.ceil(FERNET_OPS / 4), warmupOps: Math.ceil(FERNET_OPS / 4), maxRunMs: 10_000 },
      progress,
    );
    figures['fernet_validate_us'] = result.validateUs;
    figures['fernet_create_us'] = result.createUs;
    // The fastest run is the cost with the least interference from other processes.
    figures['fernet_validate_us_min'] = Math.min(...result.validateRunsUs);
    figures['fernet_create_us_min'] = Math.min(...result.createRunsUs);
    figures['fernet_validate_runs_us'] = result.validateRunsUs;
    figures['fernet_create_runs_us'] = result.createRunsUs;
    figures['fernet_token_chars'] = result.tokenChars;
  });

  // Each ceiling runs just before the keystone-ts figures it is compared with, so that both see
  // about the same background load on a shared machine.
  await stage('ceiling', () => measureCeiling('express', 1, 'express_ceiling'));

  await stage('pglite', async () => {
    const dataDir = makeTempDir('kts-bench-pglite-');
    try {
      progress('pglite: starting keystone-ts serve --workers 1 (first start: migrations and bootstrap)');
      await withServer(
        () => startKeystone({ label: 'keystone-pglite-1w', workers: 1, dataDir, adminPassword: ADMIN_PASSWORD }),
        (server) => measureValidation(server, 'pglite_1w'),
      );
    } finally {
      removeTempDir(dataDir);
    }
  });

  await stage('ceiling', async () => {
    await measureCeiling('express', 2, 'express_ceiling');
    await measureCeiling('node-http', 2, 'node_http');
  });

  await stage('pg', async () => {
    const database = await acquirePostgres();
    if ('skip' in database) throw new Error(`no PostgreSQL: ${database.skip}`);
    const dataDir = makeTempDir('kts-bench-pg-');
    try {
      progress('pg: starting keystone-ts serve --workers 2 on a fresh PostgreSQL database');
      await withServer(
        () => startKeystone({ label: 'keystone-pg-2w', workers: 2, dataDir, adminPassword: ADMIN_PASSWORD, databaseUrl: database.url }),
        async (server) => {
          await measureValidation(server, 'pg_2w');
          const hash = await storedAdminHash(database.url);
          const cost = /^\$2[abxy]?\$(\d\d)\$/.exec(hash);
          figures['bcrypt_cost'] = cost ? Number(cost[1]) : null;
          const verifyMs = await bcryptVerifyMs(hash);
          figures['bcrypt_verify_ms'] = verifyMs;
          figures['login_bcrypt_bound_rps'] = round((os.availableParallelism() * 1000) / verifyMs, 1);
          // Last on this server: requests still queued behind bcrypt when the run ends would
          // slow whatever came next.
          const login = await measure('login_pg_2w', {
            url: `${server.url}/v3/auth/tokens`,
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: passwordLoginBody(ADMIN_PASSWORD),
            expectStatus: 201,
            warmupSeconds: 0,
            timeoutSeconds: LOGIN_TIMEOUT_S,
          });
          figures['login_rps_pg_2w'] = login.rps;
          figures['login_p50_ms_pg_2w'] = login.p50_ms;
          figures['login_p99_ms_pg_2w'] = login.p99_ms;
        },
      );
    } finally {
      removeTempDir(dataDir);
      await database.drop().catch((error: unknown) => progress(`pg: could not drop the bench database: ${String(error)}`));
    }
  });

  await stage('policy', async () => {
    // In a fresh process: this one's heap, grown by the load generator, would put its garbage
    // collections into the p99 of microsecond-scale decisions.
    const decisions = JSON.parse(
      execFileSync(process.execPath, [fileURLToPath(new URL('./policy.js', import.meta.url))], {
        encoding: 'utf8',
        env: { ...process.env, BENCH_POLICY_DECISIONS: String(envNumber('BENCH_POLICY_DECISIONS', 50_000, 1_000, 10_000_000)) },
      }).trim().split('\n').at(-1)!,
    ) as PolicyFigures;
    figures['policy_decision_us'] = decisions;
    const restrictionAdded: Record<string, { p50_us: number; p99_us: number }> = {};
    for (const [engine, cases] of Object.entries(decisions)) {
      // The targets are for Keystone's decisions; the restricted case is reported as what it adds.
      figures[`policy_${engine}_p99_us`] = Math.max(...Object.entries(cases).filter(([name]) => name !== RESTRICTED_CASE).map(([, c]) => c.p99_us));
      const plain = cases[RESTRICTED_BASE_CASE];
      const restricted = cases[RESTRICTED_CASE];
      if (plain && restricted) {
        restrictionAdded[engine] = {
          p50_us: Math.round((restricted.p50_us - plain.p50_us) * 10) / 10,
          p99_us: Math.round((restricted.p99_us - plain.p99_us) * 10) / 10,
        };
      }
    }
    figures['policy_restriction_added_us'] = restrictionAdded;
    const [project] = policyBenchCases();
    const dataDir = makeTempDir('kts-bench-policy-');
    try {
      for (const engine of ['oslo', 'rego', 'cedar']) {
        await withServer(
          () => startKeystone({ label: `keystone-${engine}-1w`, workers: 1, dataDir, adminPassword: ADMIN_PASSWORD, settings: { KEYSTONE_TS_KEYSTONE_TS__POLICY_ENGINE: engine } }),
          async (server) => {
            const token = await adminToken(server.url, ADMIN_PASSWORD);
            const result = await measure(`authz_decision_${engine}_1w`, {
              url: `${server.url}/v4/authz/decision`,
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
              body: JSON.stringify({ action: project!.action, target: project!.input.target, path: project!.input.path }),
              expectStatus: 200,
            });
            figures[`authz_decision_rps_${engine}_1w`] = result.rps;
            figures[`authz_decision_p99_ms_${engine}_1w`] = result.p99_ms;
          },
        );
      }
    } finally {
      removeTempDir(dataDir);
    }
    // One worker: the time per request is the inverse of the rate; the difference is the engine's.
    const base = figures['authz_decision_rps_oslo_1w'];
    for (const engine of ['rego', 'cedar']) {
      const rps = figures[`authz_decision_rps_${engine}_1w`];
      if (typeof base === 'number' && typeof rps === 'number' && base > 0 && rps > 0) {
        figures[`authz_decision_added_us_${engine}_vs_oslo`] = round(1e6 / rps - 1e6 / base, 1);
      }
    }
  });

  await stage('restricted', async () => {
    // In a fresh process, like the policy stage: sequential requests, microsecond differences.
    const result = JSON.parse(
      execFileSync(process.execPath, [fileURLToPath(new URL('./restricted.js', import.meta.url))], { encoding: 'utf8', env: process.env }).trim().split('\n').at(-1)!,
    ) as Record<string, unknown>;
    figures['restricted_tokens'] = result;
  });

  await stage('identity', async () => {
    const database = await acquirePostgres();
    if ('skip' in database) throw new Error(`no PostgreSQL: ${database.skip}`);
    const dataDir = makeTempDir('kts-bench-identity-');
    const start = (label: string, settings: Record<string, string> = {}) =>
      startKeystone({ label, workers: 2, dataDir, adminPassword: ADMIN_PASSWORD, databaseUrl: database.url, settings });
    try {
      let domainId = '';
      await withServer(
        () => start('keystone-identity-2w'),
        async (server) => {
          const api = { url: server.url, token: await adminToken(server.url, ADMIN_PASSWORD) };
          progress(`identity: seeding ${USERS} users`);
          domainId = await seedUsers(api, database.url);
          const list = await measureUserList(api, domainId, USERS, false);
          progress(`identity: GET /v3/users?domain_id over ${USERS} users: p50 ${list.p50_ms} ms, p99 ${list.p99_ms} ms, ${list.body_bytes} bytes`);
          figures['users_10k_list'] = list;
          // Before the assignment seed adds a user to the domain.
          const cli = await measureOpenstackUserList(server.url, ADMIN_PASSWORD, domainId);
          progress(`identity: openstack user list: ${JSON.stringify(cli)}`);
          figures['openstack_user_list_10k'] = cli;
          progress('identity: seeding 50 groups, a 5-level tree and inherited grants');
          const { userId } = await seedAssignments(api, domainId);
          const effective = await measureEffectiveAssignments(api, userId);
          progress(`identity: effective role assignments (${effective.assignments}): p50 ${effective.p50_ms} ms, p99 ${effective.p99_ms} ms`);
          figures['effective_assignments'] = effective;
          const floor = await measureRequestFloor(api);
          progress(`identity: floor (GET /v3, no token, no database): p50 ${floor.p50_ms} ms, p99 ${floor.p99_ms} ms`);
          figures['request_floor_pg_2w'] = floor;
        },
      );
      await withServer(
        () => start('keystone-identity-limit-2w', { KEYSTONE_TS_IDENTITY__LIST_LIMIT: '100' }),
        async (server) => {
          const api = { url: server.url, token: await adminToken(server.url, ADMIN_PASSWORD) };
          const limited = await measureUserList(api, domainId, 100, true);
          progress(`identity: the same with [identity] list_limit 100: p50 ${limited.p50_ms} ms, p99 ${limited.p99_ms} ms`);
          figures['users_10k_list_limit_100'] = limited;
        },
      );
    } finally {
      removeTempDir(dataDir);
      await database.drop().catch((error: unknown) => progress(`identity: could not drop the bench database: ${String(error)}`));
    }
  });

  await stage('workload', async () => {
    const database = await acquirePostgres();
    if ('skip' in database) throw new Error(`no PostgreSQL: ${database.skip}`);
    const dataDir = makeTempDir('kts-bench-workload-');
    const issuer = await startBenchIssuer();
    try {
      await withServer(
        () => startKeystone({ label: 'keystone-workload-2w', workers: 2, dataDir, adminPassword: ADMIN_PASSWORD, databaseUrl: database.url }),
        async (server) => {
          const loginPath = await configureWorkload(server.url, await adminToken(server.url, ADMIN_PASSWORD), issuer.url);
          // Enough single-use tokens for 2,500 logins/s over warm-up and run (beyond what 2 cores
          // reach); running out fails the stage rather than replaying.
          const count = Math.ceil(2500 * (WARMUP_S + DURATION_S + 2)) + 1;
          const tokensFile = `${dataDir}/workload-jwts.txt`;
          progress(`workload: signing ${count} RS256 tokens`);
          const signMs = await issuer.writeTokens(tokensFile, count);
          progress(`workload: signed in ${(signMs / 1000).toFixed(1)} s`);
          const result = await measure('workload_login_pg_2w', {
            url: `${server.url}${loginPath}`,
            method: 'POST',
            headers: { 'openstack-mapping-name': 'bench' },
            bearerTokensFile: tokensFile,
            expectStatus: 200,
          });
          figures['workload_login_rps_pg_2w'] = result.rps;
          figures['workload_login_p50_ms_pg_2w'] = result.p50_ms;
          figures['workload_login_p99_ms_pg_2w'] = result.p99_ms;
          // The same server's token validation right after, as the reference under the same load.
          const token = await adminToken(server.url, ADMIN_PASSWORD);
          const validation = await measure('workload_reference_validate_pg_2w', validationSpec(server.url, token, false));
          figures['workload_login_vs_validate_pg_2w'] = validation.rps > 0 ? round(result.rps / validation.rps, 3) : null;
        },
      );
    } finally {
      await issuer.close();
      removeTempDir(dataDir);
      await database.drop().catch((error: unknown) => progress(`workload: could not drop the bench database: ${String(error)}`));
    }
  });

  const ratio = (numerator: unknown, denominator: unknown) =>
    typeof numerator === 'number' && typeof denominator === 'number' && denominator > 0 ? round(numerator / denominator, 3) : null;
  figures['validate_vs_ceiling_1w'] = ratio(figures['validate_rps_pglite_1w'], figures['express_ceiling_rps_1w']);
  figures['validate_vs_ceiling_2w'] = ratio(figures['validate_rps_pg_2w'], figures['express_ceiling_rps_2w']);
  figures['validate_nocatalog_vs_ceiling_2w'] = ratio(figures['validate_nocatalog_rps_pg_2w'], figures['express_ceiling_rps_2w']);
  const below = (value: unknown, bound: number) => (typeof value === 'number' ? value < bound : null);
  figures['targets_met'] = {
    fernet_validate_lt_10us: below(figures['fernet_validate_us'], TARGETS.fernet_validate_us),
    validate_vs_ceiling_2w_ge_0_6: typeof figures['validate_vs_ceiling_2w'] === 'number' ? figures['validate_vs_ceiling_2w'] >= TARGETS.validate_vs_ceiling_2w : null,
    validate_p99_pg_2w_lt_30ms: below(figures['validate_p99_ms_pg_2w'], TARGETS.validate_p99_ms),
    policy_rego_p99_lt_50us: below(figures['policy_rego_p99_us'], TARGETS.rego_p99_us),
    policy_cedar_p99_lt_150us: below(figures['policy_cedar_p99_us'], TARGETS.cedar_p99_us),
    users_10k_list_p50_lt_100ms: below((figures['users_10k_list'] as { p50_ms?: number } | undefined)?.p50_ms, TARGETS.users_10k_list_p50_ms),
    effective_assignments_p50_lt_5ms: below((figures['effective_assignments'] as { p50_ms?: number } | undefined)?.p50_ms, TARGETS.effective_assignments_p50_ms),
    workload_login_rps_pg_2w_gt_1000: typeof figures['workload_login_rps_pg_2w'] === 'number' ? figures['workload_login_rps_pg_2w'] > TARGETS.workload_login_rps_2w : null,
  };
  figures['runs'] = runs;
  figures['errors'] = errors;
  (figures['machine'] as Record<string, unknown>)['load_avg_1m_end'] = round(os.loadavg()[0]!, 2);
  figures['elapsed_s'] = round((Date.now() - started) / 1000, 1);
}

const KEYS_IN_ORDER = [
  'fernet_validate_us', 'fernet_create_us',
  'validate_rps_pglite_1w', 'validate_p99_ms_pglite_1w', 'validate_nocatalog_rps_pglite_1w', 'validate_nocatalog_p99_ms_pglite_1w',
  'validate_rps_pg_2w', 'validate_p99_ms_pg_2w', 'validate_nocatalog_rps_pg_2w', 'validate_nocatalog_p99_ms_pg_2w',
  'login_rps_pg_2w', 'login_p50_ms_pg_2w', 'login_p99_ms_pg_2w', 'bcrypt_cost', 'bcrypt_verify_ms', 'login_bcrypt_bound_rps',
  'express_ceiling_rps_1w', 'express_ceiling_p99_ms_1w', 'express_ceiling_rps_2w', 'express_ceiling_p99_ms_2w',
  'node_http_rps_2w', 'node_http_p99_ms_2w',
  'validate_vs_ceiling_1w', 'validate_vs_ceiling_2w', 'validate_nocatalog_vs_ceiling_2w',
  'policy_oslo_p99_us', 'policy_rego_p99_us', 'policy_cedar_p99_us',
  'authz_decision_rps_oslo_1w', 'authz_decision_rps_rego_1w', 'authz_decision_rps_cedar_1w',
  'authz_decision_added_us_rego_vs_oslo', 'authz_decision_added_us_cedar_vs_oslo',
  'workload_login_rps_pg_2w', 'workload_login_p50_ms_pg_2w', 'workload_login_p99_ms_pg_2w', 'workload_login_vs_validate_pg_2w',
];

function report(): void {
  // Headline figures first and always present (null when not measured), details after.
  const ordered: Record<string, unknown> = {};
  for (const key of KEYS_IN_ORDER) ordered[key] = figures[key] ?? null;
  process.stdout.write(`${JSON.stringify({ ...ordered, ...figures })}\n`);
}

main()
  .catch((error: unknown) => {
    errors.push(error instanceof Error ? error.message : String(error));
    figures['errors'] = errors;
  })
  .finally(() => {
    report();
    process.exitCode = errors.length > 0 ? 1 : 0;
  });

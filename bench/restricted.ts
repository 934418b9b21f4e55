/**
 * The cost of a restricted token (Fernet payload 11) over an ordinary project-scoped token, run
 * by `npm run bench` (stage `restricted`) in a fresh process, or alone:
 *   node dist/bench/restricted.js
 * One PGlite server per cache setting; requests one at a time over loopback, the two kinds of
 * token in turn, so each figure is the server's time per request plus one loopback round trip:
 * - GET /v3/auth/tokens of each token with the validation cache off: a restricted token reads
 *   its restriction and the roles it implies on every validation, the figure shows what that adds;
 * - the same with the cache on (the default): both come from the cache;
 * - POST /v4/tokens/restrictions/{id}/tokens: the down-scoping exchange.
 * Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { adminLogin, http, passwordAuth, startTestServer } from '../test/support/server.js';

const REQUESTS = Number(process.env['BENCH_RESTRICTED_REQUESTS'] ?? 2000);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Timing {
  p50_us: number;
  p99_us: number;
}

/**
 * The calls in turn, n rounds: on a machine shared with other work, interleaving gives each the
 * same background load, so their difference means something even when the absolute figures move.
 */
async function timedInTurn(n: number, calls: readonly { call: () => Promise<number>; expect: number }[]): Promise<Timing[]> {
  for (let i = 0; i < Math.min(200, n); i++) for (const { call } of calls) await call(); // warm-up
  const samples: number[][] = calls.map(() => []);
  for (let i = 0; i < n; i++) {
    for (const [index, { call, expect }] of calls.entries()) {
      const started = performance.now();
      const status = await call();
      samples[index]!.push((performance.now() - started) * 1000);
      if (status !== expect) throw new Error(`expected ${expect}, got ${status}`);
    }
  }
  return samples.map((list) => {
    list.sort((a, b) => a - b);
    return { p50_us: Math.round(percentile(list, 50)), p99_us: Math.round(percentile(list, 99)) };
  });
}

async function measure(caching: boolean) {
  const db = await openDatabase('pglite://memory');
  await migrateToLatest(db);
  const server = await startTestServer(db, { 'token.caching': String(caching) });
  try {
    const { token: admin, body } = await adminLogin(server.url);
    const projectId = body.token.project.id as string;
    const { identity, assignments } = server.service.providers;
    const user = await identity.createUser({ name: 'bench', domain_id: 'default', password: 'pw-bench' });
    await assignments.grant('UserProject', user.id, projectId, (await assignments.findGlobalRoleByName('member'))!.id);
    const login = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'pw-bench', { project: { id: projectId } }) });
    const plain = login.headers.get('x-subject-token')!;
    const reader = (await assignments.findGlobalRoleByName('reader'))!.id;
    const created = await http(server.url, 'POST', '/v4/tokens/restrictions', {
      token: admin,
      body: { restriction: { domain_id: 'default', user_id: user.id, allow_renew: true, allow_rescope: false, role_ids: [reader] } },
    });
    const restrictionId = created.json.restriction.id as string;
    const exchange = () => http(server.url, 'POST', `/v4/tokens/restrictions/${restrictionId}/tokens?nocatalog`, { token: plain });
    const restricted = (await exchange()).headers.get('x-subject-token')!;
    const validate = (subject: string) => async () => (await http(server.url, 'GET', '/v3/auth/tokens?nocatalog', { token: admin, subject })).status;
    const [validatePlain, validateRestricted] = await timedInTurn(REQUESTS, [
      { call: validate(plain), expect: 200 },
      { call: validate(restricted), expect: 200 },
    ]);
    return {
      validate_plain: validatePlain!,
      validate_restricted: validateRestricted!,
      ...(caching ? {} : { exchange: (await timedInTurn(Math.min(REQUESTS, 500), [{ call: async () => (await exchange()).status, expect: 201 }]))[0]! }),
    };
  } finally {
    await server.close();
    await db.close();
  }
}

const uncached = await measure(false);
const cached = await measure(true);
console.log(
  JSON.stringify({
    requests: REQUESTS,
    uncached,
    cached,
    restricted_added_us_uncached_p50: uncached.validate_restricted.p50_us - uncached.validate_plain.p50_us,
    restricted_added_us_cached_p50: cached.validate_restricted.p50_us - cached.validate_plain.p50_us,
  }),
);

/**
 * The identity stage's two requests measured inside one process, split into where the time goes:
 * the route handler (service call and building the body), the rest of the server's work
 * (authentication, policy, serialising and writing the body), and the client's own reading and
 * JSON parsing, which `npm run bench` counts in its latencies too.
 *
 *   node dist/bench/identity-inprocess.js [rounds] [users|assignments]   (PostgreSQL as test/support/postgres.ts finds it)
 *
 * Figures are medians over `rounds` requests after a warm-up. For judging a change on a busy
 * machine: the split tells which part moved, and the process's CPU time per request (server and
 * client, not PostgreSQL) moves less with other load than wall time does.
 */
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { acquirePostgres } from '../test/support/postgres.js';
import { adminLogin, startTestServer } from '../test/support/server.js';
import { seedAssignments, seedUsers, USERS } from './identity.js';

const ROUNDS = Number(process.argv[2] ?? 40);
const ONLY = process.argv[3];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 100) / 100;
};

async function main(): Promise<void> {
  const database = await acquirePostgres();
  if ('skip' in database) throw new Error(`no PostgreSQL: ${database.skip}`);
  const db = await openDatabase(database.url, { poolSize: 5 });
  await migrateToLatest(db);
  const server = await startTestServer(db);
  try {
    const api = { url: server.url, token: (await adminLogin(server.url)).token };
    const domainId = await seedUsers(api, database.url);
    const { userId } = await seedAssignments(api, domainId);

    // The handler's share, timed around each route's handle (the table's objects are the app's).
    let handlerMs = 0;
    for (const route of server.service.routes) {
      if (route.method !== 'GET' || (route.path !== '/v3/users' && route.path !== '/v3/role_assignments')) continue;
      const original = route.handle;
      (route as { handle: typeof route.handle }).handle = async (ctx) => {
        const start = performance.now();
        try {
          return await original(ctx);
        } finally {
          handlerMs = performance.now() - start;
        }
      };
    }

    const measure = async (label: string, urlPath: string, check: (json: Record<string, unknown>) => void) => {
      const totals: number[] = [];
      const handlers: number[] = [];
      const bodies: number[] = [];
      const parses: number[] = [];
      const cpus: number[] = [];
      let bytes = 0;
      for (let i = 0; i < ROUNDS + 5; i += 1) {
        const cpuStart = process.cpuUsage();
        const start = performance.now();
        const response = await fetch(`${server.url}${urlPath}`, { headers: { 'X-Auth-Token': api.token } });
        const headersAt = performance.now();
        const text = await response.text();
        const bodyAt = performance.now();
        const json = JSON.parse(text) as Record<string, unknown>;
        const parsedAt = performance.now();
        const cpu = process.cpuUsage(cpuStart);
        if (response.status !== 200) throw new Error(`${label}: ${response.status}`);
        check(json);
        bytes = text.length;
        if (i < 5) continue;
        totals.push(bodyAt - start);
        handlers.push(handlerMs);
        bodies.push(bodyAt - headersAt);
        parses.push(parsedAt - bodyAt);
        cpus.push((cpu.user + cpu.system) / 1000);
      }
      console.log(
        JSON.stringify({
          request: label,
          http_p50_ms: median(totals),
          handler_p50_ms: median(handlers),
          // Server and client share this process: its CPU time per request, PostgreSQL's excluded.
          process_cpu_p50_ms: median(cpus),
          rest_of_server_and_transfer_p50_ms: median(totals.map((t, i) => t - handlers[i]!)),
          body_read_after_headers_p50_ms: median(bodies),
          client_json_parse_p50_ms: median(parses),
          body_bytes: bytes,
        }),
      );
    };
    if (ONLY !== 'assignments') await measure(`GET /v3/users over ${USERS}`, `/v3/users?domain_id=${domainId}`, (json) => {
      if ((json['users'] as unknown[]).length < USERS) throw new Error('wrong user count');
    });
    // The floor of any authenticated request here: token validation (cached) answered by the
    // same stack, with a small body.
    if (ONLY !== 'users') {
      const validate = async (urlPath: string) => {
        const times: number[] = [];
        for (let i = 0; i < ROUNDS + 5; i += 1) {
          const start = performance.now();
          const response = await fetch(`${server.url}${urlPath}`, { headers: { 'X-Auth-Token': api.token, 'X-Subject-Token': api.token } });
          await response.text();
          if (response.status !== 200) throw new Error(`${urlPath}: ${response.status}`);
          if (i >= 5) times.push(performance.now() - start);
        }
        console.log(JSON.stringify({ request: `GET ${urlPath} (floor)`, http_p50_ms: median(times) }));
      };
      await validate('/v3/auth/tokens?nocatalog');
    }
    if (ONLY !== 'users') await measure('GET /v3/role_assignments?effective', `/v3/role_assignments?effective&user.id=${userId}`, (json) => {
      if ((json['role_assignments'] as unknown[]).length === 0) throw new Error('no assignments');
    });
  } finally {
    await server.close();
    await db.close();
    await database.drop();
  }
}

await main();

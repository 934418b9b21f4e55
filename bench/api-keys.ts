/**
 * `node dist/bench/api-keys.js`: what an API key costs per request, against a Keystone token.
 * One in-process server over PGlite with Keystone's default bcrypt cost (12). Sequential
 * requests from the same process (client cost included in every figure alike), so the figures
 * compare the three paths rather than give a throughput:
 *   token   GET /v3/users/{id} with X-Auth-Token (validation cache warm)
 *   key     the same with Authorization: Bearer <api key>, verification cached
 *   first   the first request of a key (bcrypt verification, then cached)
 * Not part of `npm run bench` yet.
 */
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { adminLogin, http, startTestServer } from '../test/support/server.js';

const N = Number(process.env['BENCH_REQUESTS'] ?? 2000);
const FIRSTS = Number(process.env['BENCH_FIRSTS'] ?? 20);

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000;
  return { n: samples.length, p50_ms: at(0.5), p99_ms: at(0.99) };
}

async function timed(run: () => Promise<{ status: number }>, expected: number): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== expected) throw new Error(`unexpected status ${res.status}`);
  return ms;
}

const db = await openDatabase('pglite://memory');
await migrateToLatest(db);
const server = await startTestServer(db, { 'identity.password_hash_rounds': '12' });
try {
  const { token, body } = await adminLogin(server.url);
  const userId: string = body.token.user.id;
  const projectId: string = body.token.project.id;
  const newKey = async () => {
    const res = await http(server.url, 'POST', '/v4/api-keys', { token, body: { api_key: { project_id: projectId, expires_at: new Date(Date.now() + 3600_000).toISOString() } } });
    if (res.status !== 201) throw new Error(res.text);
    return res.json.token as string;
  };
  const path = `/v3/users/${userId}`;
  const withToken = () => http(server.url, 'GET', path, { token });
  const key = await newKey();
  const withKey = (k: string) => () => http(server.url, 'GET', path, { headers: { Authorization: `Bearer ${k}` } });

  for (let i = 0; i < 200; i++) {
    await withToken();
    await withKey(key)();
  }
  const tokenSamples: number[] = [];
  const keySamples: number[] = [];
  for (let i = 0; i < N; i++) {
    tokenSamples.push(await timed(withToken, 200));
    keySamples.push(await timed(withKey(key), 200));
  }
  const firstSamples: number[] = [];
  for (let i = 0; i < FIRSTS; i++) firstSamples.push(await timed(withKey(await newKey()), 200));
  console.log(JSON.stringify({ bcrypt_cost: 12, token: summary(tokenSamples), key_cached: summary(keySamples), key_first_use: summary(firstSamples) }));
} finally {
  await server.close();
  await db.close();
}

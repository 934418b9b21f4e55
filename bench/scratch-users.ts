import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createIdentityStore } from '../src/identity/store.js';
import { acquirePostgres } from '../test/support/postgres.js';
import { adminLogin, startTestServer } from '../test/support/server.js';
import { seedUsers } from './identity.js';

const database = await acquirePostgres();
if ('skip' in database) throw new Error('no pg');
const db = await openDatabase(database.url, { poolSize: 5 });
await migrateToLatest(db);
const server = await startTestServer(db);
const api = { url: server.url, token: (await adminLogin(server.url)).token };
const domainId = await seedUsers(api, database.url);
const store = createIdentityStore(db.kysely);
const identity = server.service.providers.identity;
const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1);
const t = { store: [] as number[], storeCpu: [] as number[], svc: [] as number[], svcCpu: [] as number[] };
for (let i = 0; i < 25; i += 1) {
  let c = process.cpuUsage(); let s = performance.now();
  await store.listUsers({ domainId });
  t.store.push(performance.now() - s); let cu = process.cpuUsage(c); t.storeCpu.push((cu.user + cu.system) / 1000);
  c = process.cpuUsage(); s = performance.now();
  await identity.listUsers({ filters: [{ name: 'domain_id', value: domainId, comparator: 'equals', caseSensitive: true }], passwordExpires: [] } as never, null);
  t.svc.push(performance.now() - s); cu = process.cpuUsage(c); t.svcCpu.push((cu.user + cu.system) / 1000);
}
console.log(`store.listUsers wall ${med(t.store)} cpu ${med(t.storeCpu)}; service.listUsers wall ${med(t.svc)} cpu ${med(t.svcCpu)}`);
await server.close(); await db.close().catch(() => undefined); await database.drop();

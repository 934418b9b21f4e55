import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ADMIN_PASSWORD, adminLogin, http, startTestServer, type TestServer } from '../support/server.js';
import { seededRandom } from '../support/random.js';

const KEYS = ['auth', 'identity', 'methods', 'password', 'token', 'user', 'id', 'name', 'domain', 'scope', 'project', 'system', 'all', 'unscoped', 'OS-TRUST:trust', 'totp', 'passcode'];
const STRINGS = ['', 'password', 'token', 'admin', 'default', 'Default', 'unscoped', ADMIN_PASSWORD, '\u0000', 'é', 'x'.repeat(300), 'gAAAAAB'];

/** Random JSON shaped like (and often almost like) an auth request. */
function randomValue(rand: () => number, depth: number): unknown {
  const pick = rand();
  if (depth > 4 || pick < 0.15) return STRINGS[Math.floor(rand() * STRINGS.length)];
  if (pick < 0.22) return Math.floor(rand() * 1e6) - 5e5;
  if (pick < 0.27) return rand() < 0.5;
  if (pick < 0.3) return null;
  if (pick < 0.45) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i >= 0; i -= 1) obj[KEYS[Math.floor(rand() * KEYS.length)]!] = randomValue(rand, depth + 1);
  return obj;
}

/**
 * Every bad input gets a Keystone-style 4xx: random bodies and headers never produce a 500,
 * never issue a token, and never echo the admin password.
 */
describe('random bad input on the auth API', function () {
  let db: Db;
  let server: TestServer;

  before(async () => {
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
  });
  after(async () => {
    await server?.close();
    await db?.close();
  });

  it('answers 400 or 401 to 400 random auth bodies', async () => {
    const rand = seededRandom(20261123);
    for (let i = 0; i < 400; i += 1) {
      const inner = randomValue(rand, 0);
      const body = rand() < 0.7 ? { auth: inner } : inner;
      const res = await http(server.url, 'POST', '/v3/auth/tokens', { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
      assert.ok([400, 401, 403, 404].includes(res.status), `case ${i}: ${res.status} for ${JSON.stringify(body).slice(0, 300)}: ${res.text}`);
      assert.equal(res.headers.get('x-subject-token'), null, `case ${i} issued a token`);
      assert.ok(!res.text.includes(ADMIN_PASSWORD), `case ${i} echoed the password: ${res.text}`);
      assert.equal(res.json.error.code, res.status);
    }
  });

  it('answers 401/404 to random tokens in X-Auth-Token and X-Subject-Token', async () => {
    const { token } = await adminLogin(server.url);
    const rand = seededRandom(7);
    const mutations = [
      (t: string) => t.slice(0, Math.floor(rand() * t.length)),
      (t: string) => t + 'A',
      (t: string) => t.replace(/[A-Za-z]/, (c) => (c === 'A' ? 'B' : 'A')),
      (t: string) => Buffer.from(t).toString('hex'),
      () => '%%%',
      () => 'gAAAAAB' + 'x'.repeat(Math.floor(rand() * 400)),
    ];
    for (let i = 0; i < 100; i += 1) {
      const bad = mutations[Math.floor(rand() * mutations.length)]!(token);
      if (bad === token) continue;
      const asSubject = await http(server.url, 'GET', '/v3/auth/tokens', { token, subject: bad });
      assert.equal(asSubject.status, 404, `subject ${bad.slice(0, 40)}: ${asSubject.text}`);
      assert.ok(!asSubject.text.includes(bad) || bad.length < 4);
      const asCaller = await http(server.url, 'GET', '/v3/auth/tokens', { token: bad, subject: token });
      assert.equal(asCaller.status, 401, `caller ${bad.slice(0, 40)}: ${asCaller.text}`);
    }
  });
});

/**
 * Every route that takes a body, from the route table itself (so routes added later are covered):
 * a missing member, a member of the wrong type, a non-object body and broken JSON are each a 400
 * with Keystone's error body, never a 500, and store nothing.
 */
describe('bad bodies on every route that takes one', function () {
  let db: Db;
  let server: TestServer;

  before(async () => {
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
  });
  after(async () => {
    await server?.close();
    await db?.close();
  });

  it('answers 400 to each bad body', async () => {
    const { token } = await adminLogin(server.url);
    const routes = server.service.routes.filter((r) => r.requestSchema && (r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH'));
    assert.ok(routes.length >= 15, `${routes.length} routes take a body`);
    for (const route of routes) {
      const path = route.path.replace(/\{[^}]+\}/g, 'nonexistent');
      const member = route.bodyMember;
      const bodies: string[] = ['[]', '"text"', '{"unterminated": ', ...(member ? [JSON.stringify({}), JSON.stringify({ [member]: 'text' }), JSON.stringify({ [member]: [] })] : [])];
      for (const body of bodies) {
        const res = await http(server.url, route.method, path, { token, body, headers: { 'Content-Type': 'application/json' } });
        const label = `${route.method} ${route.path} with ${body}`;
        // Some members are valid empty (`{}` on a domain, `[]` for tags): those go on to 404 the missing entity.
        const objectBody = body === '{}' || (member !== undefined && body.startsWith(`{"${member}"`));
        // OS-OAUTH1 consumers need nothing at all: Keystone creates one from `{}` and from `{"consumer": {}}`.
        const emptyCreates = route.path === '/v3/OS-OAUTH1/consumers' && (body === '{}' || body === `{"${member}":{}}`);
        const allowed = emptyCreates ? [201] : objectBody ? [400, 404] : [400];
        assert.ok(allowed.includes(res.status), `${label}: ${res.status} ${res.text}`);
        if (!emptyCreates) assert.equal(res.json.error.code, res.status, label);
      }
    }
  });
  it('answers 400, never 500, to the NUL character the database cannot store: in path ids, queries, JSON and forms', async () => {
    const { token } = await adminLogin(server.url);
    const count = async () => (await http(server.url, 'GET', '/v3/users', { token })).json.users.length as number;
    const before = await count();
    const requests: [string, string, string | undefined, Record<string, string>][] = [
      ['GET', '/v3/users/%00', undefined, {}],
      ['GET', '/v3/projects/a%00b', undefined, {}],
      ['GET', '/v3/users?name=%00', undefined, {}],
      ['POST', '/v3/users', JSON.stringify({ user: { name: 'nul\u0000name' } }), { 'Content-Type': 'application/json' }],
      ['POST', '/v3/users', JSON.stringify({ user: { name: 'nul-key', extra: { 'a\u0000': 1 } } }), { 'Content-Type': 'application/json' }],
      ['POST', '/v4/oauth2/token', 'grant_type=x&subject_token=%00', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [method, path, body, headers] of requests) {
      const res = await http(server.url, method, path, { token, ...(body !== undefined ? { body } : {}), headers });
      assert.equal(res.status, 400, `${method} ${path} ${body ?? ''}: ${res.text}`);
      assert.match(res.json.error.message, /NUL character/);
    }
    assert.equal(await count(), before, 'nothing was created');
    // A backslash-u text that is not a NUL stays a valid name.
    const literal = await http(server.url, 'POST', '/v3/users', { token, body: JSON.stringify({ user: { name: 'back\\u0000slash' } }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(literal.status, 201, literal.text);
  });
});

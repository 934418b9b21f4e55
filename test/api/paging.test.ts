import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

/** Keystone 2026's limit/marker pagination of users, groups, projects and domains (spec 5.4). */
describeEachDatabase('limit and marker paging', (ctx) => {
  let server: TestServer;
  let admin: string;
  let domainId: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'DEFAULT.max_db_limit': '5', 'identity.list_limit': '2', 'resource.list_limit': '2' });
    admin = (await adminLogin(server.url)).token;
    const domain = await http(server.url, 'POST', '/v3/domains', { token: admin, body: { domain: { name: 'paged' } } });
    domainId = domain.json.domain.id as string;
    for (let i = 0; i < 7; i += 1) {
      const name = `pg-${i}`;
      for (const [path, member] of [['/v3/users', 'user'], ['/v3/groups', 'group'], ['/v3/projects', 'project']] as const) {
        const res = await http(server.url, 'POST', path, { token: admin, body: { [member]: { name, domain_id: domainId } } });
        assert.equal(res.status, 201, res.text);
      }
      assert.equal((await http(server.url, 'POST', '/v3/domains', { token: admin, body: { domain: { name: `pg-domain-${i}` } } })).status, 201);
    }
  });
  after(async () => server?.close());

  const get = (path: string) => http(server.url, 'GET', path, { token: admin });

  for (const [collection, filter] of [['users', `domain_id=DOMAIN`], ['groups', `domain_id=DOMAIN`], ['projects', `domain_id=DOMAIN`], ['domains', 'name__startswith=pg-domain']] as const) {
    it(`${collection}: pages by id with truncated and links.next until the list ends`, async () => {
      const query = filter.replace('DOMAIN', domainId);
      const all: string[] = [];
      let url: string | null = `/v3/${collection}?${query}&limit=3`;
      const sizes: number[] = [];
      for (let pages = 0; url && pages < 10; pages += 1) {
        const res = await get(url.replace(server.url, ''));
        assert.equal(res.status, 200, res.text);
        const ids = (res.json[collection] as { id: string }[]).map((r) => r.id);
        sizes.push(ids.length);
        all.push(...ids);
        // A full page is truncated and links onward, even when nothing follows (Keystone does the same).
        assert.equal(res.json.truncated === true, ids.length === 3);
        url = res.json.links.next as string | null;
        if (url) {
          const next = new URL(url);
          assert.equal(next.searchParams.get('marker'), ids.at(-1));
          assert.equal(next.searchParams.get('limit'), '3');
          assert.equal(next.searchParams.get(query.split('=')[0]!), query.split('=')[1]);
        }
      }
      assert.deepEqual(sizes, [3, 3, 1]);
      assert.deepEqual(all, [...all].sort(), 'sorted by id');
      assert.equal(new Set(all).size, 7);
    });
  }

  it('caps a page at [DEFAULT] max_db_limit, reads limit=0 as that cap, and a marker alone pages by it', async () => {
    const capped = await get(`/v3/users?domain_id=${domainId}&limit=100`);
    assert.equal(capped.json.users.length, 5);
    // The capped limit is the page size: a full page is truncated and links on with limit=5.
    assert.equal(capped.json.truncated, true);
    assert.equal(new URL(capped.json.links.next).searchParams.get('limit'), '5');
    const zero = await get(`/v3/users?domain_id=${domainId}&limit=0`);
    assert.equal(zero.json.users.length, 5);
    const first = (await get(`/v3/users?domain_id=${domainId}&limit=1`)).json.users[0].id as string;
    const rest = await get(`/v3/users?domain_id=${domainId}&marker=${first}`);
    assert.equal(rest.json.users.length, 5);
    assert.ok(rest.json.users.every((u: { id: string }) => u.id > first));
    // Without limit or marker, [identity] list_limit truncates as before.
    const limited = await get(`/v3/users?domain_id=${domainId}`);
    assert.equal(limited.json.users.length, 2);
    assert.equal(limited.json.truncated, true);
    assert.equal(limited.json.links.next, null);
  });

  it('answers 404 for an unknown marker and 400 for a limit that is not a non-negative integer', async () => {
    for (const collection of ['users', 'groups', 'projects', 'domains']) {
      const missing = await get(`/v3/${collection}?marker=nope`);
      assert.equal(missing.status, 404, collection);
      assert.equal(missing.json.error.message, 'Marker nope could not be found.');
      for (const limit of ['-1', 'ten', '1.5']) {
        const bad = await get(`/v3/${collection}?limit=${limit}`);
        assert.equal(bad.status, 400, `${collection} limit=${limit}`);
      }
    }
  });
});

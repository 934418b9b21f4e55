import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, client, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/policies and OS-ENDPOINT-POLICY', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let member: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'policy.list_limit': '3' });
    base = server.url;
    admin = (await adminLogin(base)).token;
    member = (await projectUserToken(server, 'molly', 'member')).token;
  });
  after(async () => server?.close());

  const as = (token: string) => client(base, token);

  async function createPolicy(body: Record<string, unknown>): Promise<string> {
    const res = await as(admin).post('/v3/policies', { policy: body });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json.policy.id as string;
  }

  describe('policies', () => {
    it('creates with a server-chosen id, keeps extra attributes, and renders Keystone’s body', async () => {
      const a = as(admin);
      const res = await a.post('/v3/policies', { policy: { id: 'mine', blob: '{"a": "b"}', type: 'application/json', 'os:team': 'x' } });
      assert.equal(res.status, 201);
      const policy = res.json.policy;
      assert.match(policy.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(policy, { os_team: 'x', id: policy.id, blob: '{"a": "b"}', type: 'application/json', links: { self: `${base}/v3/policies/${policy.id}` } });
      const got = await a.get(`/v3/policies/${policy.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.policy, policy);
      const head = await a.head(`/v3/policies/${policy.id}`);
      assert.equal(head.status, 200);
    });

    it('updates (keeping what the body leaves out), refuses an id change, and deletes', async () => {
      const a = as(admin);
      const id = await createPolicy({ blob: 'one', type: 'text/plain', owner: 'ops' });
      const updated = await a.patch(`/v3/policies/${id}`, { policy: { blob: 'two', extra_field: 1 } });
      assert.equal(updated.status, 200);
      assert.deepEqual(updated.json.policy, { owner: 'ops', extra_field: 1, id, blob: 'two', type: 'text/plain', links: { self: `${base}/v3/policies/${id}` } });
      const changeId = await a.patch(`/v3/policies/${id}`, { policy: { id: 'other' } });
      assert.equal(changeId.status, 400);
      assert.equal(changeId.json.error.message, 'Cannot change policy ID');
      assert.equal((await a.del(`/v3/policies/${id}`)).status, 204);
      const gone = await a.get(`/v3/policies/${id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.json.error.message, `Could not find policy: ${id}.`);
      assert.equal((await a.del(`/v3/policies/${id}`)).status, 404);
      assert.equal((await a.patch(`/v3/policies/${id}`, { policy: { blob: 'x' } })).status, 404);
    });

    it('refuses bodies Keystone’s schema refuses, storing nothing', async () => {
      const a = as(admin);
      const before = (await a.get('/v3/policies')).json.policies.length;
      for (const body of [{ policy: { type: 'x' } }, { policy: { blob: 'x' } }, { policy: { blob: 1, type: 'x' } }, { policy: { blob: 'x', type: 'y'.repeat(256) } }, { nothing: {} }]) {
        const res = await a.post('/v3/policies', body);
        assert.equal(res.status, 400, JSON.stringify(body));
      }
      const id = await createPolicy({ blob: 'b', type: 't' });
      assert.equal((await a.patch(`/v3/policies/${id}`, { policy: {} })).status, 400);
      assert.equal((await a.get('/v3/policies')).json.policies.length, before + 1);
    });

    it('lists with the type filter and [policy] list_limit', async () => {
      const a = as(admin);
      for (let i = 0; i < 3; i++) await createPolicy({ blob: `b${i}`, type: 'filter/me' });
      const filtered = await a.get('/v3/policies?type=filter/me');
      assert.equal(filtered.status, 200);
      assert.equal(filtered.json.policies.length, 3);
      assert.ok(filtered.json.policies.every((p: { type: string }) => p.type === 'filter/me'));
      await createPolicy({ blob: 'b', type: 'filter/me' });
      const truncated = await a.get('/v3/policies?type=filter/me');
      assert.equal(truncated.json.policies.length, 3);
      assert.equal(truncated.json.truncated, true);
    });

    it('is admin-only: a project member is refused every write and read', async () => {
      const m = as(member);
      const id = await createPolicy({ blob: 'b', type: 't' });
      for (const [res, action] of [
        [await m.get('/v3/policies'), 'identity:list_policies'],
        [await m.get(`/v3/policies/${id}`), 'identity:get_policy'],
        [await m.post('/v3/policies', { policy: { blob: 'b', type: 't' } }), 'identity:create_policy'],
        [await m.patch(`/v3/policies/${id}`, { policy: { blob: 'c' } }), 'identity:update_policy'],
        [await m.del(`/v3/policies/${id}`), 'identity:delete_policy'],
        [await m.put(`/v3/policies/${id}/OS-ENDPOINT-POLICY/services/x`), 'identity:create_policy_association_for_service'],
      ] as const) {
        assert.equal(res.status, 403, action);
        assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
      }
      assert.equal((await as(admin).get(`/v3/policies/${id}`)).json.policy.blob, 'b');
    });
  });

  describe('OS-ENDPOINT-POLICY', () => {
    let service: string;
    let otherService: string;
    const endpoints: Record<string, string> = {};

    before(async () => {
      const a = as(admin);
      service = (await a.post('/v3/services', { service: { type: 'compute', name: 'nova' } })).json.service.id;
      otherService = (await a.post('/v3/services', { service: { type: 'volume' } })).json.service.id;
      assert.equal((await a.post('/v3/regions', { region: { id: 'Top' } })).status, 201);
      assert.equal((await a.post('/v3/regions', { region: { id: 'Middle', parent_region_id: 'Top' } })).status, 201);
      assert.equal((await a.post('/v3/regions', { region: { id: 'Leaf', parent_region_id: 'Middle' } })).status, 201);
      for (const [name, svc, region] of [['top', 'service', 'Top'], ['leaf', 'service', 'Leaf'], ['bare', 'service', null], ['other', 'otherService', 'Leaf']] as const) {
        const res = await a.post('/v3/endpoints', {
          endpoint: { interface: 'public', url: `http://${name}.example:8774`, service_id: svc === 'service' ? service : otherService, ...(region ? { region_id: region } : {}) },
        });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        endpoints[name] = res.json.endpoint.id as string;
      }
    });

    const assoc = (policy: string, suffix: string) => `/v3/policies/${policy}/OS-ENDPOINT-POLICY/${suffix}`;
    const listed = async (policy: string) => {
      const res = await as(admin).get(assoc(policy, 'endpoints'));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      return (res.json.endpoints as { id: string }[]).map((e) => e.id).sort();
    };

    it('associates an endpoint, checks it (204 / 404) and dissociates it', async () => {
      const a = as(admin);
      const policy = await createPolicy({ blob: 'e', type: 't' });
      assert.equal((await a.get(assoc(policy, `endpoints/${endpoints['top']}`))).status, 404);
      assert.equal((await a.put(assoc(policy, `endpoints/${endpoints['top']}`))).status, 204);
      assert.equal((await a.get(assoc(policy, `endpoints/${endpoints['top']}`))).status, 204);
      assert.equal((await a.head(assoc(policy, `endpoints/${endpoints['top']}`))).status, 204);
      assert.deepEqual(await listed(policy), [endpoints['top']]);
      const shown = await a.get(`/v3/endpoints/${endpoints['top']}/OS-ENDPOINT-POLICY/policy`);
      assert.equal(shown.status, 200);
      assert.equal(shown.json.policy.id, policy);
      assert.equal(shown.json.policy.links.self, `${base}/v3/policies/${policy}`);
      assert.equal((await a.del(assoc(policy, `endpoints/${endpoints['top']}`))).status, 204);
      const missing = await a.get(assoc(policy, `endpoints/${endpoints['top']}`));
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.message, 'Could not find policy association.');
      assert.deepEqual(await listed(policy), []);
    });

    it('resolves an endpoint’s policy: its own, else its service in its region or the nearest above, else its service', async () => {
      const a = as(admin);
      const forService = await createPolicy({ blob: 's', type: 't' });
      const forMiddle = await createPolicy({ blob: 'm', type: 't' });
      const forEndpoint = await createPolicy({ blob: 'e', type: 't' });
      const policyOf = async (endpoint: string) => {
        const res = await a.get(`/v3/endpoints/${endpoint}/OS-ENDPOINT-POLICY/policy`);
        return res.status === 200 ? res.json.policy.id : res.status;
      };
      assert.equal(await policyOf(endpoints['leaf']!), 404);
      assert.equal((await a.put(assoc(forService, `services/${service}`))).status, 204);
      assert.equal(await policyOf(endpoints['leaf']!), forService);
      assert.equal(await policyOf(endpoints['bare']!), forService);
      assert.equal((await a.put(assoc(forMiddle, `services/${service}/regions/Middle`))).status, 204);
      assert.equal(await policyOf(endpoints['leaf']!), forMiddle);
      assert.equal(await policyOf(endpoints['top']!), forService);
      assert.equal(await policyOf(endpoints['other']!), 404);
      assert.equal((await a.put(assoc(forEndpoint, `endpoints/${endpoints['leaf']}`))).status, 204);
      assert.equal(await policyOf(endpoints['leaf']!), forEndpoint);

      // The service association covers all its endpoints; the region one the region tree below Middle.
      assert.deepEqual(await listed(forService), [endpoints['bare'], endpoints['leaf'], endpoints['top']].sort());
      assert.deepEqual(await listed(forMiddle), [endpoints['leaf']]);
      assert.equal((await a.get(assoc(forMiddle, `services/${service}/regions/Middle`))).status, 204);
      assert.equal((await a.get(assoc(forMiddle, `services/${service}/regions/Top`))).status, 404);

      // One association per target: associating the service with another policy moves it.
      assert.equal((await a.put(assoc(forMiddle, `services/${service}`))).status, 204);
      assert.equal((await a.get(assoc(forService, `services/${service}`))).status, 404);
      assert.equal(await policyOf(endpoints['bare']!), forMiddle);

      for (const [policy, suffix] of [[forMiddle, `services/${service}`], [forMiddle, `services/${service}/regions/Middle`], [forEndpoint, `endpoints/${endpoints['leaf']}`]] as const) {
        assert.equal((await a.del(assoc(policy, suffix))).status, 204);
      }
    });

    it('answers 404 for an unknown policy, endpoint, service or region, storing nothing', async () => {
      const a = as(admin);
      const policy = await createPolicy({ blob: 'x', type: 't' });
      const cases: [string, string][] = [
        [assoc('nope', `endpoints/${endpoints['top']}`), 'Could not find policy: nope.'],
        [assoc(policy, 'endpoints/nope'), 'Could not find endpoint: nope.'],
        [assoc(policy, 'services/nope'), 'Could not find service: nope.'],
        [assoc(policy, `services/${service}/regions/nope`), 'Could not find region: nope.'],
      ];
      for (const [path, message] of cases) {
        const res = await a.put(path);
        assert.equal(res.status, 404, path);
        assert.equal(res.json.error.message, message);
      }
      assert.equal((await a.get(assoc('nope', 'endpoints'))).status, 404);
      assert.equal((await a.get('/v3/endpoints/nope/OS-ENDPOINT-POLICY/policy')).status, 404);
      assert.deepEqual(await listed(policy), []);
    });

    it('drops associations with the policy, endpoint, service or region they name (Keystone leaves them dangling)', async () => {
      const a = as(admin);
      const policy = await createPolicy({ blob: 'd', type: 't' });
      const svc = (await a.post('/v3/services', { service: { type: 'doomed' } })).json.service.id as string;
      assert.equal((await a.post('/v3/regions', { region: { id: 'Doomed' } })).status, 201);
      const ep = (await a.post('/v3/endpoints', { endpoint: { interface: 'admin', url: 'http://doomed.example', service_id: svc, region_id: 'Doomed' } })).json.endpoint.id as string;
      const keep = (await a.post('/v3/endpoints', { endpoint: { interface: 'admin', url: 'http://keep.example', service_id: service } })).json.endpoint.id as string;
      assert.equal((await a.put(assoc(policy, `endpoints/${keep}`))).status, 204);
      assert.equal((await a.put(assoc(policy, `services/${svc}/regions/Doomed`))).status, 204);
      assert.deepEqual(await listed(policy), [ep, keep].sort());
      assert.equal((await a.del(`/v3/endpoints/${ep}`)).status, 204);
      assert.equal((await a.del('/v3/regions/Doomed')).status, 204);
      assert.equal((await a.get(assoc(policy, `services/${svc}/regions/Doomed`))).status, 404);
      assert.deepEqual(await listed(policy), [keep]);
      assert.equal((await a.del(`/v3/endpoints/${keep}`)).status, 204);
      assert.deepEqual(await listed(policy), []);
      assert.equal((await a.del(`/v3/policies/${policy}`)).status, 204);
      const count = await server.service.db.kysely.selectFrom('policy_association').select((eb) => eb.fn.countAll<number>().as('n')).where('policy_id', '=', policy).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 0);
    });
  });
});

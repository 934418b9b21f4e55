import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, assertDenied, client, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describeEachDatabase('/v3/regions, /v3/services, /v3/endpoints', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let member: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'catalog.list_limit': '50' });
    base = server.url;
    admin = (await adminLogin(base)).token;
    member = (await projectUserToken(server, 'molly', 'member')).token;
  });
  after(async () => server?.close());

  const as = (token: string) => client(base, token);


  describe('regions', () => {
    it('creates with and without an id, by PUT, and renders Keystone’s body', async () => {
      const a = as(admin);
      const generated = await a.post('/v3/regions', { region: { description: 'gen', custom: 'x' } });
      assert.equal(generated.status, 201);
      assert.match(generated.json.region.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(Object.keys(generated.json.region), ['custom', 'id', 'description', 'parent_region_id', 'links']);
      assert.equal(generated.json.region.custom, 'x');
      assert.equal(generated.json.region.links.self, `${base}/v3/regions/${generated.json.region.id}`);

      const chosen = await a.post('/v3/regions', { region: { id: 'Europe' } });
      assert.equal(chosen.status, 201);
      assert.deepEqual(chosen.json.region, { id: 'Europe', description: '', parent_region_id: null, links: { self: `${base}/v3/regions/Europe` } });

      const put = await a.put('/v3/regions/Europe-West', { region: { parent_region_id: 'Europe', description: null } });
      assert.equal(put.status, 201);
      assert.equal(put.json.region.id, 'Europe-West');
      assert.equal(put.json.region.parent_region_id, 'Europe');
      assert.equal(put.json.region.description, '');

      const got = await a.get('/v3/regions/Europe-West');
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.region, put.json.region);
    });

    it('refuses duplicates (409), unknown parents (404), conflicting ids and bad bodies (400)', async () => {
      const a = as(admin);
      const dup = await a.post('/v3/regions', { region: { id: 'Europe' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store region - Duplicate ID, Europe.');
      assert.equal((await a.put('/v3/regions/Europe', { region: {} })).status, 409);
      const orphan = await a.post('/v3/regions', { region: { id: 'Orphan', parent_region_id: 'Nowhere' } });
      assert.equal(orphan.status, 404);
      assert.equal(orphan.json.error.message, 'Could not find region: Nowhere.');
      assert.equal((await a.get('/v3/regions/Orphan')).status, 404, 'nothing half-written');
      const conflicting = await a.put('/v3/regions/One', { region: { id: 'Two' } });
      assert.equal(conflicting.status, 400);
      assert.equal(conflicting.json.error.message, 'Conflicting region IDs specified: "One" != "Two"');
      assert.equal((await a.post('/v3/regions', { region: { description: 5 } })).status, 400);
      assert.equal((await a.post('/v3/regions', { region: { parent_region_id: ['x'] } })).status, 400);
      assert.equal((await a.patch('/v3/regions/Europe', { region: {} })).status, 400);
      assert.equal((await a.get('/v3/regions/Nowhere')).json.error.message, 'Could not find region: Nowhere.');
      assert.equal((await a.patch('/v3/regions/Nowhere', { region: { description: 'x' } })).status, 404);
      assert.equal((await a.del('/v3/regions/Nowhere')).status, 404);
    });

    it('updates, keeps extra attributes, refuses cycles and id changes', async () => {
      const a = as(admin);
      const patched = await a.patch('/v3/regions/Europe', { region: { description: 'EU', note: 'n' } });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.region.description, 'EU');
      assert.equal(patched.json.region.note, 'n');
      const cycle = await a.patch('/v3/regions/Europe', { region: { parent_region_id: 'Europe-West' } });
      assert.equal(cycle.status, 400);
      assert.equal(cycle.json.error.message, 'The specified parent region Europe would create a circular region hierarchy.');
      const self = await a.patch('/v3/regions/Europe', { region: { parent_region_id: 'Europe' } });
      assert.equal(self.status, 400);
      assert.equal((await a.patch('/v3/regions/Europe', { region: { parent_region_id: 'Nowhere' } })).status, 404);
      const idChange = await a.patch('/v3/regions/Europe', { region: { id: 'Asia' } });
      assert.equal(idChange.status, 400);
      assert.equal(idChange.json.error.message, 'Cannot change ID');
      assert.equal((await a.get('/v3/regions/Europe')).json.region.parent_region_id, null);
    });

    it('lists with the parent_region_id filter; any authenticated user may read', async () => {
      const all = await as(member).get('/v3/regions');
      assert.equal(all.status, 200);
      assert.deepEqual(Object.keys(all.json), ['regions', 'links']);
      assert.deepEqual(all.json.links, { next: null, self: `${base}/v3/regions`, previous: null });
      assert.ok(all.json.regions.some((r: { id: string }) => r.id === 'RegionOne'));
      const children = await as(member).get('/v3/regions?parent_region_id=Europe');
      assert.deepEqual(children.json.regions.map((r: { id: string }) => r.id), ['Europe-West']);
      assert.equal(children.json.links.self, `${base}/v3/regions?parent_region_id=Europe`);
      const inexact = await as(member).get('/v3/regions?parent_region_id__istartswith=eur');
      assert.deepEqual(inexact.json.regions.map((r: { id: string }) => r.id), ['Europe-West']);
      assert.equal((await as(member).get('/v3/regions/Europe')).status, 200);
      assert.equal((await as(member).head('/v3/regions/Europe')).status, 200);
    });

    it('denies a member every write (403 naming the rule)', async () => {
      const m = as(member);
      assertDenied(await m.post('/v3/regions', { region: { id: 'M' } }), 'identity:create_region');
      assertDenied(await m.put('/v3/regions/M', { region: {} }), 'identity:create_region');
      assertDenied(await m.patch('/v3/regions/Europe', { region: { description: 'm' } }), 'identity:update_region');
      assertDenied(await m.del('/v3/regions/Europe'), 'identity:delete_region');
      // Policy runs before existence: an unknown region is still 403 to a member.
      assertDenied(await m.del('/v3/regions/Nowhere'), 'identity:delete_region');
    });
  });

  describe('services and endpoints', () => {
    let serviceId: string;

    it('creates a service with Keystone’s defaults, name and description in extra', async () => {
      const a = as(admin);
      const res = await a.post('/v3/services', { service: { type: 'compute', description: 'Nova', 'os:flag': 1 } });
      assert.equal(res.status, 201);
      const service = res.json.service;
      serviceId = service.id;
      assert.deepEqual(Object.keys(service), ['description', 'os_flag', 'name', 'id', 'type', 'enabled', 'links']);
      assert.equal(service.name, '');
      assert.equal(service.enabled, true);
      assert.equal(service.links.self, `${base}/v3/services/${service.id}`);
      const named = await a.post('/v3/services', { service: { type: 'volumev3', name: 'cinder', enabled: false } });
      assert.equal(named.json.service.name, 'cinder');
      assert.equal(named.json.service.enabled, false);
      assert.equal((await a.post('/v3/services', { service: { name: 'x' } })).status, 400);
      assert.equal((await a.post('/v3/services', { service: { type: '' } })).status, 400);
      assert.equal((await a.post('/v3/services', { service: { type: 'x', enabled: 'yes' } })).status, 400);
    });

    it('lists services by type and name, shows, updates, 404s', async () => {
      const a = as(admin);
      const byType = await a.get('/v3/services?type=compute');
      assert.deepEqual(byType.json.services.map((s: { id: string }) => s.id), [serviceId]);
      const byName = await a.get('/v3/services?name=cinder');
      assert.equal(byName.json.services.length, 1);
      assert.equal(byName.json.services[0].type, 'volumev3');
      assert.equal((await a.get('/v3/services?name__icontains=CIND')).json.services.length, 1);
      const patched = await a.patch(`/v3/services/${serviceId}`, { service: { name: 'nova', enabled: true } });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.service.name, 'nova');
      assert.equal(patched.json.service.description, 'Nova');
      assert.equal((await a.get(`/v3/services/${serviceId}`)).json.service.name, 'nova');
      assert.equal((await a.patch(`/v3/services/${serviceId}`, { service: { id: 'other' } })).status, 400);
      assert.equal((await a.patch(`/v3/services/${serviceId}`, { service: {} })).status, 400);
      const missing = await a.get('/v3/services/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.message, 'Could not find service: nope.');
      assert.equal((await a.patch('/v3/services/nope', { service: { name: 'x' } })).status, 404);
      assert.equal((await a.del('/v3/services/nope')).status, 404);
    });

    it('creates endpoints: interface enum, URL whitelist, region_id vs legacy region, references', async () => {
      const a = as(admin);
      const created = await a.post('/v3/endpoints', {
        endpoint: { service_id: serviceId, interface: 'public', url: 'http://nova:8774/v2.1/$(project_id)s', region_id: 'RegionOne', extra_key: 'e' },
      });
      assert.equal(created.status, 201);
      const ep = created.json.endpoint;
      assert.deepEqual(Object.keys(ep), ['extra_key', 'id', 'interface', 'region_id', 'service_id', 'url', 'enabled', 'region', 'links']);
      assert.equal(ep.region, 'RegionOne');
      assert.equal(ep.enabled, true);
      assert.equal(ep.links.self, `${base}/v3/endpoints/${ep.id}`);

      const legacy = await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'internal', url: 'http://nova-int', region: 'Legacy' } });
      assert.equal(legacy.status, 201);
      assert.equal(legacy.json.endpoint.region_id, 'Legacy');
      assert.equal((await a.get('/v3/regions/Legacy')).status, 200, 'the legacy region is created');

      const badUrl = await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'admin', url: 'http://x/$(tenant)s' } });
      assert.equal(badUrl.status, 400);
      assert.equal(badUrl.json.error.message, 'Cannot create an endpoint with an invalid URL: http://x/$(tenant)s.');
      assert.equal((await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'admin', url: 'http://x/%20' } })).status, 400);
      assert.equal((await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'admin', url: 'not a url' } })).status, 400);
      assert.equal((await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'private', url: 'http://x' } })).status, 400);
      assert.equal((await a.post('/v3/endpoints', { endpoint: { interface: 'public', url: 'http://x' } })).status, 400);
      const noRegion = await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'admin', url: 'http://x', region_id: 'Nowhere' } });
      assert.equal(noRegion.status, 400);
      assert.match(noRegion.json.error.message, /^Expecting to find endpoint region_id in region table\./);
      const noService = await a.post('/v3/endpoints', { endpoint: { service_id: 'nope', interface: 'admin', url: 'http://x', region: 'Ghost' } });
      assert.equal(noService.status, 400);
      assert.match(noService.json.error.message, /^Expecting to find endpoint service_id in service table\./);
      assert.equal((await a.get('/v3/regions/Ghost')).status, 404, 'a refused endpoint leaves no legacy region behind');
    });

    it('lists endpoints with interface, service_id and region_id filters; updates; 404s', async () => {
      const a = as(admin);
      const internal = await a.get('/v3/endpoints?interface=internal');
      assert.deepEqual(internal.json.endpoints.map((e: { region_id: string }) => e.region_id), ['Legacy']);
      const ofService = await a.get(`/v3/endpoints?service_id=${serviceId}`);
      assert.equal(ofService.json.endpoints.length, 2);
      const inRegion = await a.get(`/v3/endpoints?service_id=${serviceId}&region_id=RegionOne`);
      assert.equal(inRegion.json.endpoints.length, 1);
      const id = inRegion.json.endpoints[0].id;
      const patched = await a.patch(`/v3/endpoints/${id}`, { endpoint: { enabled: false, url: 'http://nova:8774/v2.1' } });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.endpoint.enabled, false);
      assert.equal(patched.json.endpoint.extra_key, 'e');
      const moved = await a.patch(`/v3/endpoints/${id}`, { endpoint: { region_id: 'Europe' } });
      assert.equal(moved.json.endpoint.region, 'Europe');
      assert.equal((await a.patch(`/v3/endpoints/${id}`, { endpoint: { region_id: 'Nowhere' } })).status, 400);
      assert.equal((await a.patch(`/v3/endpoints/${id}`, { endpoint: { service_id: 'nope' } })).status, 400);
      assert.equal((await a.patch(`/v3/endpoints/${id}`, { endpoint: { interface: 'bogus' } })).status, 400);
      assert.equal((await a.patch(`/v3/endpoints/${id}`, { endpoint: { id: 'other' } })).status, 400);
      const missing = await a.get('/v3/endpoints/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.message, 'Could not find endpoint: nope.');
      assert.equal((await a.del('/v3/endpoints/nope')).status, 404);
    });

    it('refuses to delete a region while it or a child region has endpoints; deletes the subtree otherwise', async () => {
      const a = as(admin);
      await a.put('/v3/regions/Europe-West-1', { region: { parent_region_id: 'Europe-West' } });
      const ep = await a.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'admin', url: 'http://x', region_id: 'Europe-West-1' } });
      const refused = await a.del('/v3/regions/Europe-West');
      assert.equal(refused.status, 403);
      assert.equal(refused.json.error.message, 'Unable to delete region Europe-West because it or its child regions have associated endpoints.');
      assert.equal((await a.del(`/v3/endpoints/${ep.json.endpoint.id}`)).status, 204);
      assert.equal((await a.del('/v3/regions/Europe-West')).status, 204);
      assert.equal((await a.get('/v3/regions/Europe-West-1')).status, 404, 'child regions go with their parent');
    });

    it('truncates lists at [catalog] list_limit', async () => {
      const limited = await startTestServer(ctx.db(), { 'catalog.list_limit': '1' }, { shareKeysWith: server });
      try {
        const res = await http(limited.url, 'GET', '/v3/services', { token: admin });
        assert.equal(res.json.services.length, 1);
        assert.equal(res.json.truncated, true);
        assert.deepEqual(Object.keys(res.json), ['services', 'links', 'truncated']);
        const one = await http(limited.url, 'GET', '/v3/services?type=compute', { token: admin });
        assert.equal(one.json.truncated, undefined);
      } finally {
        await limited.close();
      }
    });

    it('denies a member services and endpoints, reads included', async () => {
      const m = as(member);
      assertDenied(await m.get('/v3/services'), 'identity:list_services');
      assertDenied(await m.get(`/v3/services/${serviceId}`), 'identity:get_service');
      assertDenied(await m.post('/v3/services', { service: { type: 'x' } }), 'identity:create_service');
      assertDenied(await m.patch(`/v3/services/${serviceId}`, { service: { name: 'm' } }), 'identity:update_service');
      assertDenied(await m.del(`/v3/services/${serviceId}`), 'identity:delete_service');
      assertDenied(await m.get('/v3/endpoints'), 'identity:list_endpoints');
      assertDenied(await m.get('/v3/endpoints/nope'), 'identity:get_endpoint');
      assertDenied(await m.post('/v3/endpoints', { endpoint: { service_id: serviceId, interface: 'public', url: 'http://x' } }), 'identity:create_endpoint');
      assertDenied(await m.patch('/v3/endpoints/nope', { endpoint: { url: 'http://y' } }), 'identity:update_endpoint');
      assertDenied(await m.del('/v3/endpoints/nope'), 'identity:delete_endpoint');
      assert.equal((await http(base, 'GET', '/v3/services')).status, 401);
    });

    it('shows catalog changes in the next token and in validated tokens', async () => {
      const a = as(admin);
      const { token } = await adminLogin(base);
      const svc = await a.post('/v3/services', { service: { type: 'image', name: 'glance' } });
      const ep = await a.post('/v3/endpoints', { endpoint: { service_id: svc.json.service.id, interface: 'public', url: 'http://glance:9292', region_id: 'RegionOne' } });
      const catalogOf = async (t: string) => (await http(base, 'GET', '/v3/auth/tokens', { token: t, subject: t })).json.token.catalog as { type: string; endpoints: { url: string }[] }[];
      const image = (catalog: { type: string; endpoints: { url: string }[] }[]) => catalog.find((s) => s.type === 'image');
      assert.equal(image(await catalogOf(token))?.endpoints[0]?.url, 'http://glance:9292', 'an already issued token validates with the new catalog');
      await a.patch(`/v3/endpoints/${ep.json.endpoint.id}`, { endpoint: { url: 'http://glance2:9292' } });
      assert.equal(image(await catalogOf(token))?.endpoints[0]?.url, 'http://glance2:9292');
      const fresh = await adminLogin(base);
      assert.equal(image(fresh.body.token.catalog)?.endpoints[0]?.url, 'http://glance2:9292');

      // Deleting the service deletes its endpoints.
      assert.equal((await a.del(`/v3/services/${svc.json.service.id}`)).status, 204);
      assert.equal((await a.get(`/v3/endpoints/${ep.json.endpoint.id}`)).status, 404);
      assert.equal(image(await catalogOf(token)), undefined);
    });
  });
});

import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, projectUserToken, startTestServer, type HttpResult, type TestServer } from '../support/server.js';

const BAD_REQUEST_TAIL = 'The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

function client(base: string, token: string) {
  return {
    get: (path: string) => http(base, 'GET', path, { token }),
    head: (path: string) => http(base, 'HEAD', path, { token }),
    post: (path: string, body: unknown) => http(base, 'POST', path, { token, body }),
    patch: (path: string, body: unknown) => http(base, 'PATCH', path, { token, body }),
    del: (path: string) => http(base, 'DELETE', path, { token }),
  };
}
type Client = ReturnType<typeof client>;

async function created(res: HttpResult, key: string): Promise<HttpResult['json']> {
  assert.equal(res.status, 201, res.text);
  return res.json[key];
}

async function newService(a: Client, type: string): Promise<string> {
  return (await created(await a.post('/v3/services', { service: { type } }), 'service')).id;
}
async function newDomain(a: Client, name: string): Promise<string> {
  return (await created(await a.post('/v3/domains', { domain: { name } }), 'domain')).id;
}
async function newProject(a: Client, name: string, domainId: string, parentId?: string): Promise<string> {
  return (await created(await a.post('/v3/projects', { project: { name, domain_id: domainId, ...(parentId ? { parent_id: parentId } : {}) } }), 'project')).id;
}

describeEachDatabase('/v3/registered_limits and /v3/limits (flat)', (ctx) => {
  let server: TestServer;
  let base: string;
  let a: Client;
  let compute: string;
  let volume: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    base = server.url;
    a = client(base, (await adminLogin(base)).token);
    compute = await newService(a, 'compute');
    volume = await newService(a, 'volume');
  });
  after(async () => server?.close());

  const countRegistered = async () => (await a.get('/v3/registered_limits')).json.registered_limits.length as number;
  const countLimits = async () => (await a.get('/v3/limits')).json.limits.length as number;

  describe('registered limits', () => {
    it('creates a list, answered without collection links, and shows, heads and lists each', async () => {
      const res = await a.post('/v3/registered_limits', {
        registered_limits: [
          { service_id: compute, resource_name: 'cores', default_limit: 10, description: 'vCPUs' },
          { service_id: compute, region_id: 'RegionOne', resource_name: 'cores', default_limit: 20 },
        ],
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.json), ['registered_limits']);
      const [plain, regional] = res.json.registered_limits;
      assert.match(plain.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(plain, {
        id: plain.id,
        service_id: compute,
        region_id: null,
        resource_name: 'cores',
        default_limit: 10,
        description: 'vCPUs',
        links: { self: `${base}/v3/registered_limits/${plain.id}` },
      });
      assert.equal(regional.region_id, 'RegionOne');
      assert.equal(regional.description, null);

      const got = await a.get(`/v3/registered_limits/${plain.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.registered_limit, plain);
      const head = await a.head(`/v3/registered_limits/${plain.id}`);
      assert.equal(head.status, 200);
      assert.equal(head.text, '');

      const list = await a.get('/v3/registered_limits');
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.links, { next: null, self: `${base}/v3/registered_limits`, previous: null });
      assert.ok(list.json.registered_limits.some((r: { id: string }) => r.id === regional.id));
      assert.equal((await a.head('/v3/registered_limits')).status, 200);
    });

    it('filters the list by service_id, region_id and resource_name, and refuses a malformed filter', async () => {
      await created(
        await a.post('/v3/registered_limits', {
          registered_limits: [
            { service_id: volume, resource_name: 'gigabytes', default_limit: 1000 },
            { service_id: volume, region_id: 'RegionOne', resource_name: 'snapshots', default_limit: 5 },
          ],
        }),
        'registered_limits',
      );
      const byService = (await a.get(`/v3/registered_limits?service_id=${volume}`)).json.registered_limits;
      assert.deepEqual(byService.map((r: { resource_name: string }) => r.resource_name).sort(), ['gigabytes', 'snapshots']);
      const byRegion = (await a.get(`/v3/registered_limits?service_id=${volume}&region_id=RegionOne`)).json.registered_limits;
      assert.deepEqual(byRegion.map((r: { resource_name: string }) => r.resource_name), ['snapshots']);
      const byName = (await a.get('/v3/registered_limits?resource_name=gigabytes')).json.registered_limits;
      assert.deepEqual(byName.map((r: { service_id: string }) => r.service_id), [volume]);
      const bad = await a.get('/v3/registered_limits?service_id=not-a-uuid');
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /^Invalid input for field 'service_id'/);
    });

    it('refuses a duplicate with 409, and a list with one bad entry stores none of it', async () => {
      const before = await countRegistered();
      const dup = await a.post('/v3/registered_limits', { registered_limits: [{ service_id: compute, resource_name: 'cores', default_limit: 1 }] });
      assert.equal(dup.status, 409);
      assert.deepEqual(dup.json.error, { code: 409, title: 'Conflict', message: 'Conflict occurred attempting to store registered_limit - Duplicate entry.' });
      // The duplicate is the request's own second entry: the first must not stay behind.
      const twice = await a.post('/v3/registered_limits', {
        registered_limits: [
          { service_id: compute, resource_name: 'ram', default_limit: 1 },
          { service_id: compute, resource_name: 'ram', default_limit: 2 },
        ],
      });
      assert.equal(twice.status, 409);
      const unknownService = await a.post('/v3/registered_limits', {
        registered_limits: [
          { service_id: compute, resource_name: 'ram', default_limit: 1 },
          { service_id: 'f'.repeat(32), resource_name: 'ram', default_limit: 1 },
        ],
      });
      assert.equal(unknownService.status, 400);
      assert.equal(unknownService.json.error.message, `Expecting to find service_id in registered_limit. ${BAD_REQUEST_TAIL}`);
      const unknownRegion = await a.post('/v3/registered_limits', { registered_limits: [{ service_id: compute, region_id: 'Nowhere', resource_name: 'ram', default_limit: 1 }] });
      assert.equal(unknownRegion.status, 400);
      assert.equal(unknownRegion.json.error.message, `Expecting to find region_id in registered_limit. ${BAD_REQUEST_TAIL}`);
      assert.equal(await countRegistered(), before);
    });

    it('refuses bodies Keystone’s schema refuses', async () => {
      const before = await countRegistered();
      for (const body of [
        {},
        { registered_limits: [] },
        { registered_limits: [{ service_id: compute, resource_name: 'x' }] },
        { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: -2 }] },
        { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: 2 ** 31 }] },
        { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: 1, id: 'mine' }] },
        { registered_limits: [{ service_id: compute, resource_name: '', default_limit: 1 }] },
        { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: 1, description: 'd'.repeat(256) }] },
        { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: 1 }], extra: 1 },
      ]) {
        const res = await a.post('/v3/registered_limits', body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.json.error.code, 400);
      }
      assert.equal((await a.post('/v3/registered_limits', { registered_limits: [{ service_id: compute, resource_name: 'x', default_limit: 1 }] })).status, 201);
      assert.equal(await countRegistered(), before + 1);
    });

    it('updates, refuses restating its own key (as Keystone does), 404s a missing one, and deletes', async () => {
      const [reg] = await created(await a.post('/v3/registered_limits', { registered_limits: [{ service_id: compute, resource_name: 'instances', default_limit: 3 }] }), 'registered_limits');
      const path = `/v3/registered_limits/${reg.id}`;
      const updated = await a.patch(path, { registered_limit: { default_limit: 4, description: 'VMs' } });
      assert.equal(updated.status, 200);
      assert.deepEqual(updated.json.registered_limit, { ...reg, default_limit: 4, description: 'VMs' });
      const moved = await a.patch(path, { registered_limit: { resource_name: 'servers', region_id: 'RegionOne' } });
      assert.equal(moved.status, 200);
      assert.equal(moved.json.registered_limit.resource_name, 'servers');
      assert.equal((await a.get(path)).json.registered_limit.region_id, 'RegionOne');
      const restated = await a.patch(path, { registered_limit: { region_id: 'RegionOne' } });
      assert.equal(restated.status, 409);
      assert.equal(restated.json.error.message, 'Conflict occurred attempting to store registered_limit - Duplicate entry.');
      const clash = await a.patch(path, { registered_limit: { resource_name: 'cores', region_id: null } });
      assert.equal(clash.status, 409);
      assert.equal((await a.patch(path, { registered_limit: { service_id: 'f'.repeat(32) } })).status, 400);
      assert.equal((await a.patch(path, { registered_limit: { default_limit: 'x' } })).status, 400);
      assert.equal((await a.patch(path, { nothing: {} })).status, 400);

      assert.equal((await a.del(path)).status, 204);
      const gone = await a.get(path);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.json.error, { code: 404, title: 'Not Found', message: `Could not find registered limit for ${reg.id}.` });
      assert.equal((await a.patch(path, { registered_limit: { default_limit: 1 } })).status, 404);
      assert.equal((await a.del(path)).status, 404);
    });
  });

  describe('limits', () => {
    let domainId: string;
    let projectA: string;
    let projectB: string;
    let otherDomain: string;
    let otherProject: string;

    before(async () => {
      domainId = await newDomain(a, 'limits-domain');
      projectA = await newProject(a, 'limits-a', domainId);
      projectB = await newProject(a, 'limits-b', domainId);
      otherDomain = await newDomain(a, 'limits-other');
      otherProject = await newProject(a, 'limits-other-p', otherDomain);
      await created(
        await a.post('/v3/registered_limits', {
          registered_limits: [
            { service_id: compute, resource_name: 'keypairs', default_limit: 10 },
            { service_id: volume, region_id: 'RegionOne', resource_name: 'backups', default_limit: 10 },
          ],
        }),
        'registered_limits',
      );
    });

    it('creates project and domain limits (a project_id naming a domain makes a domain limit), above the default under flat', async () => {
      const res = await a.post('/v3/limits', {
        limits: [
          { project_id: projectA, service_id: compute, resource_name: 'keypairs', resource_limit: 50, description: 'flat lets it exceed 10' },
          { project_id: domainId, service_id: compute, resource_name: 'keypairs', resource_limit: 5 },
          { domain_id: otherDomain, service_id: volume, region_id: 'RegionOne', resource_name: 'backups', resource_limit: 7 },
        ],
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.json), ['limits']);
      const [project, domain, regional] = res.json.limits;
      assert.match(project.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(project, {
        id: project.id,
        project_id: projectA,
        domain_id: null,
        service_id: compute,
        region_id: null,
        resource_name: 'keypairs',
        resource_limit: 50,
        description: 'flat lets it exceed 10',
        links: { self: `${base}/v3/limits/${project.id}` },
      });
      assert.equal(domain.project_id, null);
      assert.equal(domain.domain_id, domainId);
      assert.equal(regional.region_id, 'RegionOne');
      const got = await a.get(`/v3/limits/${project.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.limit, project);
      assert.equal((await a.head(`/v3/limits/${project.id}`)).status, 200);
    });

    it('needs a registered limit (403), refuses duplicates (409) and unknown references (400), all or nothing', async () => {
      const before = await countLimits();
      const unregistered = await a.post('/v3/limits', {
        limits: [
          { project_id: projectB, service_id: compute, resource_name: 'keypairs', resource_limit: 1 },
          { project_id: projectB, service_id: compute, resource_name: 'nothing-registered', resource_limit: 1 },
        ],
      });
      assert.equal(unregistered.status, 403);
      assert.deepEqual(unregistered.json.error, { code: 403, title: 'Forbidden', message: 'Unable to create a limit that has no corresponding registered limit.' });
      // The region is part of the key: backups are registered in RegionOne only.
      const wrongRegion = await a.post('/v3/limits', { limits: [{ project_id: projectB, service_id: volume, resource_name: 'backups', resource_limit: 1 }] });
      assert.equal(wrongRegion.status, 403);
      const dup = await a.post('/v3/limits', {
        limits: [
          { project_id: projectB, service_id: compute, resource_name: 'keypairs', resource_limit: 1 },
          { project_id: projectA, service_id: compute, resource_name: 'keypairs', resource_limit: 2 },
        ],
      });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store limit - Duplicate entry.');
      for (const [field, entry] of [
        ['project_id', { project_id: 'nosuchproject' }],
        ['domain_id', { domain_id: 'nosuchdomain' }],
        ['service_id', { project_id: projectB, service_id: 'e'.repeat(32) }],
        ['region_id', { project_id: projectB, region_id: 'Nowhere' }],
      ] as const) {
        const res = await a.post('/v3/limits', { limits: [{ service_id: compute, resource_name: 'keypairs', resource_limit: 1, ...entry }] });
        assert.equal(res.status, 400, field);
        assert.equal(res.json.error.message, `Expecting to find ${field} in limit. ${BAD_REQUEST_TAIL}`);
      }
      for (const body of [
        { limits: [{ service_id: compute, resource_name: 'keypairs', resource_limit: 1 }] },
        { limits: [{ project_id: projectB, domain_id: domainId, service_id: compute, resource_name: 'keypairs', resource_limit: 1 }] },
        { limits: [{ project_id: projectB, service_id: compute, resource_name: 'keypairs', resource_limit: -5 }] },
        { limits: [] },
        {},
      ]) {
        assert.equal((await a.post('/v3/limits', body)).status, 400, JSON.stringify(body));
      }
      assert.equal(await countLimits(), before);
    });

    it('refuses to update or delete a registered limit that limits refer to', async () => {
      const [reg] = (await a.get(`/v3/registered_limits?service_id=${compute}&resource_name=keypairs`)).json.registered_limits;
      const message = `Unable to update or delete registered limit ${reg.id} because there are project limits associated with it.`;
      const patched = await a.patch(`/v3/registered_limits/${reg.id}`, { registered_limit: { description: 'x' } });
      assert.equal(patched.status, 403);
      assert.deepEqual(patched.json.error, { code: 403, title: 'Forbidden', message });
      const deleted = await a.del(`/v3/registered_limits/${reg.id}`);
      assert.equal(deleted.status, 403);
      assert.equal(deleted.json.error.message, message);
      assert.equal((await a.get(`/v3/registered_limits/${reg.id}`)).status, 200);
    });

    it('filters the list by service_id, region_id, resource_name, project_id and domain_id', async () => {
      const names = async (query: string) => ((await a.get(`/v3/limits?${query}`)).json.limits as { resource_name: string; project_id: string | null; domain_id: string | null }[]);
      assert.deepEqual((await names(`service_id=${volume}`)).map((l) => l.resource_name), ['backups']);
      assert.deepEqual((await names('region_id=RegionOne')).map((l) => l.domain_id), [otherDomain]);
      assert.equal((await names('resource_name=keypairs')).length, 2);
      assert.deepEqual((await names(`project_id=${projectA}`)).map((l) => l.project_id), [projectA]);
      assert.deepEqual((await names(`domain_id=${domainId}`)).map((l) => l.domain_id), [domainId]);
      assert.deepEqual(await names(`project_id=${otherProject}`), []);
      assert.equal((await a.get('/v3/limits?project_id=bad_id!')).status, 400);
    });

    it('updates the value and description (a 0 or empty value leaves the stored one, as Keystone does), then deletes', async () => {
      const [limit] = await created(
        await a.post('/v3/limits', { limits: [{ project_id: projectB, service_id: compute, resource_name: 'keypairs', resource_limit: 3, description: 'first' }] }),
        'limits',
      );
      const path = `/v3/limits/${limit.id}`;
      const updated = await a.patch(path, { limit: { resource_limit: 4, description: 'second' } });
      assert.equal(updated.status, 200);
      assert.deepEqual(updated.json.limit, { ...limit, resource_limit: 4, description: 'second' });
      const ignored = await a.patch(path, { limit: { resource_limit: 0, description: '' } });
      assert.equal(ignored.status, 200);
      assert.equal(ignored.json.limit.resource_limit, 4);
      assert.equal((await a.get(path)).json.limit.description, 'second');
      assert.equal((await a.patch(path, { limit: { project_id: projectA } })).status, 400);
      assert.equal((await a.del(path)).status, 204);
      const gone = await a.get(path);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.json.error, { code: 404, title: 'Not Found', message: `Could not find limit for ${limit.id}.` });
      assert.equal((await a.patch(path, { limit: { resource_limit: 1 } })).status, 404);
      assert.equal((await a.del(path)).status, 404);
    });

    it('shows a project member only its project’s limits, and a domain user its domain’s and its projects’', async () => {
      const { token } = await projectUserToken(server, 'limit-member', 'member', { projectId: projectA });
      const m = client(base, token);
      const mine = await m.get('/v3/limits');
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.json.limits.map((l: { project_id: string }) => l.project_id), [projectA]);
      // A filter for another project cannot widen the view.
      assert.deepEqual((await m.get(`/v3/limits?project_id=${projectB}`)).json.limits, []);
      const own = mine.json.limits[0];
      assert.equal((await m.get(`/v3/limits/${own.id}`)).status, 200);
      const domainLimit = (await a.get(`/v3/limits?domain_id=${domainId}`)).json.limits[0];
      const otherLimit = (await a.get(`/v3/limits?domain_id=${otherDomain}`)).json.limits[0];
      for (const id of [domainLimit.id, otherLimit.id, 'f'.repeat(32)]) {
        const res = await m.get(`/v3/limits/${id}`);
        assert.equal(res.status, 403, id);
        assert.equal(res.json.error.message, 'You are not authorized to perform the requested action: identity:get_limit.');
      }

      const { providers } = server.service;
      const user = await providers.identity.createUser({ name: 'limit-domain-user', domain_id: domainId, password: 'pw-domain' });
      await providers.assignments.grant('UserDomain', user.id, domainId, (await providers.assignments.findGlobalRoleByName('member'))!.id);
      const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'pw-domain', { domain: { id: domainId } }) });
      assert.equal(login.status, 201, login.text);
      const d = client(base, login.headers.get('x-subject-token')!);
      const seen = (await d.get('/v3/limits')).json.limits as { project_id: string | null; domain_id: string | null }[];
      assert.deepEqual(seen.map((l) => l.project_id ?? `domain:${l.domain_id}`).sort(), [projectA, `domain:${domainId}`].sort());
      assert.equal((await d.get(`/v3/limits/${domainLimit.id}`)).status, 200);
      assert.equal((await d.get(`/v3/limits/${own.id}`)).status, 200);
      assert.equal((await d.get(`/v3/limits/${otherLimit.id}`)).status, 403);
    });

    it('leaves the project tree to [DEFAULT] max_project_tree_depth', async () => {
      const child = await newProject(a, 'flat-child', domainId, projectA);
      const grandchild = await newProject(a, 'flat-grandchild', domainId, child);
      assert.match(grandchild, /^[0-9a-f]{32}$/);
    });

    it('lets a member read registered limits and the model, and refuses every write', async () => {
      const { token } = await projectUserToken(server, 'limit-reader', 'member');
      const m = client(base, token);
      const [reg] = (await m.get('/v3/registered_limits')).json.registered_limits;
      assert.equal((await m.get(`/v3/registered_limits/${reg.id}`)).status, 200);
      const model = await m.get('/v3/limits/model');
      assert.equal(model.status, 200);
      assert.deepEqual(model.json, { model: { name: 'flat', description: 'Limit enforcement and validation does not take project hierarchy into consideration.' } });
      const [limit] = (await a.get('/v3/limits')).json.limits;
      for (const [res, action] of [
        [await m.post('/v3/registered_limits', { registered_limits: [{ service_id: compute, resource_name: 'm', default_limit: 1 }] }), 'identity:create_registered_limits'],
        [await m.patch(`/v3/registered_limits/${reg.id}`, { registered_limit: { default_limit: 1 } }), 'identity:update_registered_limit'],
        [await m.del(`/v3/registered_limits/${reg.id}`), 'identity:delete_registered_limit'],
        [await m.post('/v3/limits', { limits: [{ project_id: projectB, service_id: compute, resource_name: 'keypairs', resource_limit: 1 }] }), 'identity:create_limits'],
        [await m.patch(`/v3/limits/${limit.id}`, { limit: { resource_limit: 1 } }), 'identity:update_limit'],
        [await m.del(`/v3/limits/${limit.id}`), 'identity:delete_limit'],
      ] as const) {
        assert.equal(res.status, 403, action);
        assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
      }
      assert.equal((await a.get(`/v3/limits/${limit.id}`)).json.limit.resource_limit, limit.resource_limit);
    });
  });
});

describeEachDatabase('/v3/limits under strict_two_level', (ctx) => {
  let server: TestServer;
  let a: Client;
  let compute: string;
  let domainId: string;
  let projectA: string;
  let projectB: string;

  before(async () => {
    server = await startTestServer(ctx.db(), { 'unified_limit.enforcement_model': 'strict_two_level', 'unified_limit.list_limit': '3' });
    a = client(server.url, (await adminLogin(server.url)).token);
    compute = await newService(a, 'compute');
    domainId = await newDomain(a, 'strict-domain');
    projectA = await newProject(a, 'strict-a', domainId);
    projectB = await newProject(a, 'strict-b', domainId);
    await created(
      await a.post('/v3/registered_limits', {
        registered_limits: [
          { service_id: compute, resource_name: 'cores', default_limit: 10 },
          { service_id: compute, region_id: 'RegionOne', resource_name: 'ram', default_limit: 100 },
        ],
      }),
      'registered_limits',
    );
  });
  after(async () => server?.close());

  const message = (level: 'project_id' | 'domain_id', id: string, name: string, value: number, region = 'None') =>
    `Invalid resource limit: The resource limit (${level}: ${id}, resource_name: ${name}, resource_limit: ${value}, service_id: ${compute}, region_id: ${region}) doesn't satisfy current hierarchy model..`;
  const post = (...limits: Record<string, unknown>[]) => a.post('/v3/limits', { limits });

  it('reports the model with Keystone’s description', async () => {
    const res = await a.get('/v3/limits/model');
    assert.deepEqual(res.json, { model: { name: 'strict_two_level', description: 'This model requires project hierarchy never exceeds a depth of two' } });
  });

  it('keeps the project tree two levels deep below the domain', async () => {
    const child = await newProject(a, 'strict-a-child', domainId, projectA);
    const grandchild = await a.post('/v3/projects', { project: { name: 'strict-a-grandchild', domain_id: domainId, parent_id: child } });
    assert.equal(grandchild.status, 403);
    assert.equal(grandchild.json.error.message, `Max hierarchy depth reached for ${child} branch.`);
  });

  it('measures a project limit against its domain’s, else the registered default', async () => {
    const above = await post({ project_id: projectA, service_id: compute, resource_name: 'cores', resource_limit: 11 });
    assert.equal(above.status, 403);
    assert.deepEqual(above.json.error, { code: 403, title: 'Forbidden', message: message('project_id', projectA, 'cores', 11) });
    const regional = await post({ project_id: projectA, service_id: compute, region_id: 'RegionOne', resource_name: 'ram', resource_limit: 101 });
    assert.equal(regional.json.error.message, message('project_id', projectA, 'ram', 101, 'RegionOne'));
    await created(await post({ project_id: projectA, service_id: compute, resource_name: 'cores', resource_limit: 6 }), 'limits');
    await created(await post({ project_id: projectB, service_id: compute, resource_name: 'cores', resource_limit: 10 }), 'limits');
  });

  it('keeps a domain limit at or above each child’s', async () => {
    const below = await post({ domain_id: domainId, service_id: compute, resource_name: 'cores', resource_limit: 9 });
    assert.equal(below.status, 403);
    assert.equal(below.json.error.message, message('domain_id', domainId, 'cores', 9));
    const [domainLimit] = await created(await post({ domain_id: domainId, service_id: compute, resource_name: 'cores', resource_limit: 10 }), 'limits');
    // Now the domain's 10 is the ceiling, and a domain update may not go under a child's value.
    const [limitA] = (await a.get(`/v3/limits?project_id=${projectA}`)).json.limits;
    const over = await a.patch(`/v3/limits/${limitA.id}`, { limit: { resource_limit: 11 } });
    assert.equal(over.status, 403);
    assert.equal(over.json.error.message, message('project_id', projectA, 'cores', 11));
    assert.equal((await a.patch(`/v3/limits/${limitA.id}`, { limit: { resource_limit: 10 } })).status, 200);
    const shrink = await a.patch(`/v3/limits/${domainLimit.id}`, { limit: { resource_limit: 8 } });
    assert.equal(shrink.status, 403);
    assert.equal(shrink.json.error.message, message('domain_id', domainId, 'cores', 8));
    assert.equal((await a.get(`/v3/limits/${domainLimit.id}`)).json.limit.resource_limit, 10);
  });

  it('checks a project against its domain’s limit in the same request, storing nothing when one fails', async () => {
    const other = await newDomain(a, 'strict-other');
    const p = await newProject(a, 'strict-other-p', other);
    const before = (await a.get(`/v3/limits?domain_id=${other}`)).json.limits.length;
    const refused = await post(
      { domain_id: other, service_id: compute, region_id: 'RegionOne', resource_name: 'ram', resource_limit: 300 },
      { project_id: p, service_id: compute, region_id: 'RegionOne', resource_name: 'ram', resource_limit: 301 },
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.message, message('project_id', p, 'ram', 301, 'RegionOne'));
    assert.equal((await a.get(`/v3/limits?domain_id=${other}`)).json.limits.length, before);
    // Above the registered default of 100, but under the domain limit of the same request.
    const accepted = await post(
      { domain_id: other, service_id: compute, region_id: 'RegionOne', resource_name: 'ram', resource_limit: 300 },
      { project_id: p, service_id: compute, region_id: 'RegionOne', resource_name: 'ram', resource_limit: 250 },
    );
    assert.equal(accepted.status, 201, accepted.text);
  });

  it('cuts lists at [unified_limit] list_limit and says so', async () => {
    const res = await a.get('/v3/limits');
    assert.equal(res.json.limits.length, 3);
    assert.equal(res.json.truncated, true);
    const registered = await a.get('/v3/registered_limits');
    assert.equal(registered.json.registered_limits.length, 2);
    assert.equal(registered.json.truncated, undefined);
  });
});

describeEachDatabase('strict_two_level at start-up', (ctx) => {
  it('refuses to start over a deeper tree, naming its projects, and starts over trees the API allows', async function () {
    this.timeout(60_000);
    const flat = await startTestServer(ctx.db());
    let grandchild: string;
    try {
      const admin = (await adminLogin(flat.url)).token;
      const create = async (name: string, parent?: string) => {
        const res = await http(flat.url, 'POST', '/v3/projects', { token: admin, body: { project: { name, ...(parent ? { parent_id: parent } : {}) } } });
        assert.equal(res.status, 201, res.text);
        return res.json.project.id as string;
      };
      const top = await create('startup-top');
      const child = await create('startup-child', top);
      grandchild = await create('startup-grandchild', child);
    } finally {
      await flat.close();
    }
    await assert.rejects(startTestServer(ctx.db(), { 'unified_limit.enforcement_model': 'strict_two_level' }), (error: Error) => {
      assert.equal(error.name, 'ConfigError');
      assert.match(error.message, new RegExp(`project_ids: ${grandchild}\\) exceeds the enforcement model's maximum depth of 2`));
      return true;
    });

    const again = await startTestServer(ctx.db());
    try {
      const admin = (await adminLogin(again.url)).token;
      assert.equal((await http(again.url, 'DELETE', `/v3/projects/${grandchild}`, { token: admin })).status, 204);
    } finally {
      await again.close();
    }
    // A top-level project and its child are what the strict_two_level API itself allows.
    const strict = await startTestServer(ctx.db(), { 'unified_limit.enforcement_model': 'strict_two_level' });
    await strict.close();
  });
});

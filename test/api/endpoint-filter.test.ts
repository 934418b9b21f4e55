import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, startTestServer, type TestServer } from '../support/server.js';

type Catalog = { type: string; endpoints: { id: string; url: string }[] }[];

describeEachDatabase('OS-EP-FILTER', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let member: string;
  let projectId: string;
  let otherProjectId: string;
  let computeId: string;
  let imageId: string;
  let novaPublic: string;
  let novaInternal: string;
  let glancePublic: string;
  let userId: string;

  const EF = '/v3/OS-EP-FILTER';

  const call = (method: string, path: string, body?: unknown, token = admin) => http(base, method, path, { token, body });

  async function projectToken(project: string): Promise<{ token: string; catalog: Catalog }> {
    const res = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, 'fil-pass', { project: { id: project } }) });
    assert.equal(res.status, 201, res.text);
    return { token: res.headers.get('x-subject-token')!, catalog: res.json.token.catalog };
  }

  function endpointIds(catalog: Catalog): string[] {
    return catalog.flatMap((s) => s.endpoints.map((e) => e.id)).sort();
  }

  before(async () => {
    server = await startTestServer(ctx.db());
    base = server.url;
    admin = (await adminLogin(base)).token;
    const { providers } = server.service;
    const project = await providers.resource.createProject({ name: 'filtered', domain_id: 'default' });
    const other = await providers.resource.createProject({ name: 'other', domain_id: 'default' });
    projectId = project.id;
    otherProjectId = other.id;
    const user = await providers.identity.createUser({ name: 'fil', domain_id: 'default', password: 'fil-pass' });
    userId = user.id;
    const role = await providers.assignments.findGlobalRoleByName('member');
    await providers.assignments.grant('UserProject', user.id, project.id, role!.id);
    await providers.assignments.grant('UserProject', user.id, other.id, role!.id);
    member = (await projectToken(projectId)).token;

    computeId = (await call('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } })).json.service.id;
    imageId = (await call('POST', '/v3/services', { service: { type: 'image', name: 'glance' } })).json.service.id;
    const ep = async (service_id: string, iface: string, url: string) =>
      (await call('POST', '/v3/endpoints', { endpoint: { service_id, interface: iface, url, region_id: 'RegionOne' } })).json.endpoint.id as string;
    novaPublic = await ep(computeId, 'public', 'http://nova/v2.1/$(project_id)s');
    novaInternal = await ep(computeId, 'internal', 'http://nova-int/v2.1');
    glancePublic = await ep(imageId, 'public', 'http://glance:9292');
  });
  after(async () => server?.close());

  it('without associations a project token carries the whole catalog', async () => {
    const { catalog } = await projectToken(projectId);
    assert.ok(endpointIds(catalog).includes(novaPublic));
    assert.ok(endpointIds(catalog).includes(glancePublic));
    assert.equal(catalog.find((s) => s.type === 'compute')!.endpoints.find((e) => e.id === novaPublic)!.url, `http://nova/v2.1/${projectId}`);
  });

  it('associates an endpoint with a project: the token catalog shows only that endpoint', async () => {
    assert.equal((await call('PUT', `${EF}/projects/${projectId}/endpoints/${novaPublic}`)).status, 204);
    const dup = await call('PUT', `${EF}/projects/${projectId}/endpoints/${novaPublic}`);
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.message, 'Conflict occurred attempting to store project_endpoint - Duplicate entry.');
    assert.equal((await call('GET', `${EF}/projects/${projectId}/endpoints/${novaPublic}`)).status, 204);
    assert.equal((await call('HEAD', `${EF}/projects/${projectId}/endpoints/${novaPublic}`)).status, 204);
    const notIn = await call('GET', `${EF}/projects/${projectId}/endpoints/${glancePublic}`);
    assert.equal(notIn.status, 404);
    assert.equal(notIn.json.error.message, `Endpoint ${glancePublic} not found in project ${projectId}`);

    const { catalog, token } = await projectToken(projectId);
    assert.deepEqual(endpointIds(catalog), [novaPublic]);
    assert.deepEqual(catalog.map((s) => s.type), ['compute'], 'services left without endpoints disappear');
    // The other project has no associations: everything.
    assert.ok(endpointIds((await projectToken(otherProjectId)).catalog).includes(glancePublic));
    // Validating the token gives the same filtered catalog.
    const validated = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token });
    assert.deepEqual(endpointIds(validated.json.token.catalog), [novaPublic]);
    const authCatalog = await http(base, 'GET', '/v3/auth/catalog', { token });
    assert.deepEqual(endpointIds(authCatalog.json.catalog), [novaPublic]);
  });

  it('lists endpoints for a project and projects for an endpoint', async () => {
    const eps = await call('GET', `${EF}/projects/${projectId}/endpoints`);
    assert.equal(eps.status, 200);
    assert.deepEqual(eps.json.endpoints.map((e: { id: string }) => e.id), [novaPublic]);
    assert.equal(eps.json.endpoints[0].region, 'RegionOne');
    assert.equal(eps.json.endpoints[0].links.self, `${base}/v3/endpoints/${novaPublic}`);
    assert.deepEqual(eps.json.links, { next: null, self: `${base}${EF}/projects/${projectId}/endpoints`, previous: null });
    const projects = await call('GET', `${EF}/endpoints/${novaPublic}/projects`);
    assert.deepEqual(projects.json.projects.map((p: { id: string }) => p.id), [projectId]);
    assert.equal(projects.json.projects[0].links.self, `${base}/v3/projects/${projectId}`);
    assert.equal((await call('GET', `${EF}/endpoints/nope/projects`)).status, 404);
    assert.equal((await call('GET', `${EF}/projects/nope/endpoints`)).json.error.message, 'Could not find project: nope.');
    assert.equal((await call('PUT', `${EF}/projects/nope/endpoints/${novaPublic}`)).status, 404);
    assert.equal((await call('PUT', `${EF}/projects/${projectId}/endpoints/nope`)).json.error.message, 'Could not find endpoint: nope.');
  });

  it('creates, shows, lists, updates endpoint groups; validates filters', async () => {
    const created = await call('POST', `${EF}/endpoint_groups`, { endpoint_group: { name: 'images', filters: { service_id: imageId } } });
    assert.equal(created.status, 201);
    const group = created.json.endpoint_group;
    assert.deepEqual(Object.keys(group), ['id', 'name', 'description', 'filters', 'links']);
    assert.equal(group.description, null);
    assert.equal(group.links.self, `${base}${EF}/endpoint_groups/${group.id}`);
    assert.deepEqual((await call('GET', `${EF}/endpoint_groups/${group.id}`)).json.endpoint_group, group);
    const listed = await call('GET', `${EF}/endpoint_groups?name=images`);
    assert.deepEqual(listed.json.endpoint_groups.map((g: { id: string }) => g.id), [group.id]);
    assert.equal((await call('GET', `${EF}/endpoint_groups?name=none`)).json.endpoint_groups.length, 0);

    const badKey = await call('POST', `${EF}/endpoint_groups`, { endpoint_group: { name: 'bad', filters: { url: 'x' } } });
    assert.equal(badKey.status, 400);
    assert.match(badKey.json.error.message, /^Expecting to find service_id or region_id or interface in endpoint_group\./);
    const empty = await call('POST', `${EF}/endpoint_groups`, { endpoint_group: { name: 'bad', filters: {} } });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.message, 'filters field is required and cannot be empty');
    assert.equal((await call('POST', `${EF}/endpoint_groups`, { endpoint_group: { filters: { interface: 'public' } } })).status, 400);
    assert.equal((await call('POST', `${EF}/endpoint_groups`, { endpoint_group: { name: 'x', filters: 'public' } })).status, 400);
    assert.equal((await call('GET', `${EF}/endpoint_groups`)).json.endpoint_groups.length, 1, 'nothing written by refused creates');

    const patched = await call('PATCH', `${EF}/endpoint_groups/${group.id}`, { endpoint_group: { description: 'glance only' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.endpoint_group.description, 'glance only');
    assert.deepEqual(patched.json.endpoint_group.filters, { service_id: imageId });
    assert.equal((await call('PATCH', `${EF}/endpoint_groups/${group.id}`, { endpoint_group: { filters: { bogus: 1 } } })).status, 400);
    assert.equal((await call('PATCH', `${EF}/endpoint_groups/${group.id}`, { endpoint_group: { id: 'other' } })).status, 400);
    const missing = await call('GET', `${EF}/endpoint_groups/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.message, 'Could not find Endpoint Group: nope.');
    assert.equal((await call('PATCH', `${EF}/endpoint_groups/nope`, { endpoint_group: { name: 'x' } })).status, 404);
    assert.equal((await call('DELETE', `${EF}/endpoint_groups/nope`)).status, 404);

    const eps = await call('GET', `${EF}/endpoint_groups/${group.id}/endpoints`);
    assert.deepEqual(eps.json.endpoints.map((e: { id: string }) => e.id), [glancePublic]);
    assert.equal((await call('GET', `${EF}/endpoint_groups/nope/endpoints`)).status, 404);
  });

  it('associates an endpoint group with a project: its endpoints join the token catalog', async () => {
    const group = (await call('GET', `${EF}/endpoint_groups?name=images`)).json.endpoint_groups[0];
    const path = `${EF}/endpoint_groups/${group.id}/projects/${projectId}`;
    assert.equal((await call('GET', path)).json.error.message, 'Endpoint Group Project Association not found');
    assert.equal((await call('PUT', path)).status, 204);
    assert.equal((await call('PUT', path)).status, 409);
    const shown = await call('GET', path);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json, { project_endpoint_group: { endpoint_group_id: group.id, project_id: projectId, links: { self: `/OS-EP-FILTER/endpoint_groups/${group.id}/projects/${projectId}` } } });
    assert.equal((await call('PUT', `${EF}/endpoint_groups/nope/projects/${projectId}`)).status, 404);
    assert.equal((await call('PUT', `${EF}/endpoint_groups/${group.id}/projects/nope`)).status, 404);

    const groups = await call('GET', `${EF}/projects/${projectId}/endpoint_groups`);
    assert.deepEqual(groups.json.endpoint_groups.map((g: { id: string }) => g.id), [group.id]);
    const projects = await call('GET', `${EF}/endpoint_groups/${group.id}/projects`);
    assert.deepEqual(projects.json.projects.map((p: { id: string }) => p.id), [projectId]);
    assert.deepEqual((await call('GET', `${EF}/endpoint_groups/nope/projects`)).json.projects, []);
    const eps = await call('GET', `${EF}/projects/${projectId}/endpoints`);
    assert.deepEqual(eps.json.endpoints.map((e: { id: string }) => e.id), [novaPublic, glancePublic]);

    const { catalog } = await projectToken(projectId);
    assert.deepEqual(endpointIds(catalog), [novaPublic, glancePublic].sort());
    assert.deepEqual(catalog.map((s) => s.type).sort(), ['compute', 'image']);
    assert.ok(!endpointIds(catalog).includes(novaInternal));
  });

  it('drops associations with their endpoint, endpoint group or the association routes', async () => {
    const group = (await call('GET', `${EF}/endpoint_groups?name=images`)).json.endpoint_groups[0];
    assert.equal((await call('DELETE', `${EF}/endpoint_groups/${group.id}/projects/${projectId}`)).status, 204);
    assert.equal((await call('DELETE', `${EF}/endpoint_groups/${group.id}/projects/${projectId}`)).status, 404);
    assert.deepEqual(endpointIds((await projectToken(projectId)).catalog), [novaPublic]);
    assert.equal((await call('PUT', `${EF}/endpoint_groups/${group.id}/projects/${projectId}`)).status, 204);
    assert.equal((await call('DELETE', `${EF}/endpoint_groups/${group.id}`)).status, 204);
    assert.deepEqual((await call('GET', `${EF}/projects/${projectId}/endpoint_groups`)).json.endpoint_groups, []);

    assert.equal((await call('DELETE', `${EF}/projects/${projectId}/endpoints/${novaPublic}`)).status, 204);
    const again = await call('DELETE', `${EF}/projects/${projectId}/endpoints/${novaPublic}`);
    assert.equal(again.status, 404);
    assert.ok(endpointIds((await projectToken(projectId)).catalog).includes(glancePublic), 'no associations left: the whole catalog');

    const temp = (await call('POST', '/v3/endpoints', { endpoint: { service_id: computeId, interface: 'admin', url: 'http://tmp' } })).json.endpoint.id;
    await call('PUT', `${EF}/projects/${projectId}/endpoints/${temp}`);
    assert.deepEqual(endpointIds((await projectToken(projectId)).catalog), [temp]);
    assert.equal((await call('DELETE', `/v3/endpoints/${temp}`)).status, 204);
    assert.deepEqual((await call('GET', `${EF}/projects/${projectId}/endpoints`)).json.endpoints, []);
    assert.ok(endpointIds((await projectToken(projectId)).catalog).includes(glancePublic));
  });

  it('with return_all_endpoints_if_no_filter=false, an unassociated project gets an empty catalog', async () => {
    const strict = await startTestServer(ctx.db(), { 'endpoint_filter.return_all_endpoints_if_no_filter': 'false' }, { shareKeysWith: server });
    try {
      const res = await http(strict.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, 'fil-pass', { project: { id: otherProjectId } }) });
      assert.deepEqual(res.json.token.catalog, []);
      await call('PUT', `${EF}/projects/${otherProjectId}/endpoints/${glancePublic}`);
      const filtered = await http(strict.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, 'fil-pass', { project: { id: otherProjectId } }) });
      assert.deepEqual(endpointIds(filtered.json.token.catalog), [glancePublic]);
    } finally {
      await strict.close();
    }
  });

  it('denies a member every OS-EP-FILTER route (403 naming the rule)', async () => {
    const cases: [string, string, string, unknown?][] = [
      ['GET', `${EF}/endpoint_groups`, 'identity:list_endpoint_groups'],
      ['POST', `${EF}/endpoint_groups`, 'identity:create_endpoint_group', { endpoint_group: { name: 'm', filters: { interface: 'public' } } }],
      ['GET', `${EF}/endpoint_groups/g`, 'identity:get_endpoint_group'],
      ['PATCH', `${EF}/endpoint_groups/g`, 'identity:update_endpoint_group', { endpoint_group: { name: 'm' } }],
      ['DELETE', `${EF}/endpoint_groups/g`, 'identity:delete_endpoint_group'],
      ['GET', `${EF}/endpoint_groups/g/endpoints`, 'identity:list_endpoints_associated_with_endpoint_group'],
      ['GET', `${EF}/endpoint_groups/g/projects`, 'identity:list_projects_associated_with_endpoint_group'],
      ['GET', `${EF}/endpoint_groups/g/projects/${projectId}`, 'identity:get_endpoint_group_in_project'],
      ['PUT', `${EF}/endpoint_groups/g/projects/${projectId}`, 'identity:add_endpoint_group_to_project'],
      ['DELETE', `${EF}/endpoint_groups/g/projects/${projectId}`, 'identity:remove_endpoint_group_from_project'],
      ['GET', `${EF}/projects/${projectId}/endpoint_groups`, 'identity:list_endpoint_groups_for_project'],
      ['GET', `${EF}/projects/${projectId}/endpoints`, 'identity:list_endpoints_for_project'],
      ['GET', `${EF}/projects/${projectId}/endpoints/${novaPublic}`, 'identity:check_endpoint_in_project'],
      ['PUT', `${EF}/projects/${projectId}/endpoints/${novaPublic}`, 'identity:add_endpoint_to_project'],
      ['DELETE', `${EF}/projects/${projectId}/endpoints/${novaPublic}`, 'identity:remove_endpoint_from_project'],
      ['GET', `${EF}/endpoints/${novaPublic}/projects`, 'identity:list_projects_for_endpoint'],
    ];
    for (const [method, path, action, body] of cases) {
      const res = await call(method, path, body, member);
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
    }
  });
});

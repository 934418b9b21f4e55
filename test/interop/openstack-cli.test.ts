/**
 * The real python-openstackclient against this service: the `openstack` CLI that
 * scripts/setup-openstack-client.sh installs into .cache/venv, run in a child process with an
 * explicit environment (never the developer's OS_* variables or clouds.yaml), against a real
 * server on a loopback port. What the CLI prints is checked, and every token it obtains is
 * decoded by the service itself (GET /v3/auth/tokens with an admin token).
 *
 * Without the CLI the suite is skipped (with the reason), except under CI=true where it fails:
 * CI must not pass by skipping interop.
 */
import assert from 'node:assert/strict';
import { describeResult } from '../support/cli.js';
import { ADMIN_LOGIN, ADMIN_PROJECT_SCOPE, openstackCliSuite } from '../support/openstack.js';
import { ADMIN_PASSWORD, adminLogin, http } from '../support/server.js';

describe('python-openstackclient (the real `openstack` CLI) against keystone-ts', function () {
  const cli = openstackCliSuite('kts-openstack-');
  let base: string;
  let adminUserId: string;
  let adminProjectId: string;

  before(async function () {
    base = cli.server().url;
    const { providers } = cli.server().service;
    adminUserId = (await providers.identity.findUserByName('admin', 'default'))!.id;
    adminProjectId = (await providers.resource.findProjectByName('admin', 'default'))!.id;
  });

  /** `openstack ...args` with the password credentials of the bootstrapped admin and `scope` (OS_* variables) on top. */
  const openstack = (args: string[], scope: Record<string, string>, overrides: Record<string, string> = {}) =>
    cli.openstack(args, { ...ADMIN_LOGIN, ...scope, ...overrides });
  const openstackJson = (args: string[], scope: Record<string, string>) => cli.openstackJson(args, { ...ADMIN_LOGIN, ...scope });

  const PROJECT_SCOPE = ADMIN_PROJECT_SCOPE;

  /** The service's own reading of `token` (GET /v3/auth/tokens with a fresh admin token). */
  async function decode(token: string) {
    const { token: admin } = await adminLogin(base);
    const res = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: token });
    assert.equal(res.status, 200, res.text);
    return res.json.token;
  }

  it('token issue -f json: id, expires, project_id and user_id of a valid project-scoped token', async () => {
    const issued = await openstackJson(['token', 'issue'], PROJECT_SCOPE);
    assert.deepEqual(Object.keys(issued).sort(), ['expires', 'id', 'project_id', 'user_id']);
    assert.match(issued.id, /^gAAAAA[\w-]+$/);
    assert.equal(issued.project_id, adminProjectId);
    assert.equal(issued.user_id, adminUserId);
    const token = await decode(issued.id);
    assert.equal(Date.parse(issued.expires), Date.parse(token.expires_at), `expires ${issued.expires} vs ${token.expires_at}`);
    assert.equal(token.project.id, adminProjectId);
    assert.equal(token.user.id, adminUserId);
  });

  it('catalog list -f json: the identity service with its public endpoint', async () => {
    const catalog = await openstackJson(['catalog', 'list'], PROJECT_SCOPE);
    assert.ok(Array.isArray(catalog));
    const identity = catalog.find((entry: { Type: string }) => entry.Type === 'identity');
    assert.ok(identity, JSON.stringify(catalog));
    assert.equal(identity.Name, 'keystone');
    const endpoints = identity.Endpoints;
    if (typeof endpoints === 'string') {
      // Older clients format the endpoints as text: "RegionOne\n  public: URL\n".
      assert.match(endpoints, new RegExp(`public: ${base.replace(/\./g, '\\.')}/v3`));
    } else {
      const pub = endpoints.filter((e: { interface: string }) => e.interface === 'public');
      assert.equal(pub.length, 1, JSON.stringify(endpoints));
      assert.equal(pub[0].url, `${base}/v3`);
      assert.equal(pub[0].region, 'RegionOne');
    }
  });

  it('token revoke <id>: the revoked token then gets 404 on GET /v3/auth/tokens', async () => {
    const issued = await openstackJson(['token', 'issue'], PROJECT_SCOPE);
    await decode(issued.id); // valid before
    const revoke = await openstack(['token', 'revoke', issued.id], PROJECT_SCOPE);
    assert.equal(revoke.code, 0, describeResult(revoke));
    const { token: admin } = await adminLogin(base);
    const res = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: issued.id });
    assert.equal(res.status, 404, res.text);
  });

  it('a project-scoped login by project id (OS_PROJECT_ID)', async () => {
    const issued = await openstackJson(['token', 'issue'], { OS_PROJECT_ID: adminProjectId });
    assert.equal(issued.project_id, adminProjectId);
    const token = await decode(issued.id);
    assert.equal(token.project.id, adminProjectId);
    assert.deepEqual(token.project.domain, { id: 'default', name: 'Default' });
    assert.equal(token.domain, undefined);
    assert.equal(token.system, undefined);
    assert.ok(token.roles.some((r: { name: string }) => r.name === 'admin'));
  });

  it('a domain-scoped login (OS_DOMAIN_NAME=Default) once the admin has a role on the domain', async () => {
    const { providers } = cli.server().service;
    const admin = await providers.assignments.findGlobalRoleByName('admin');
    await providers.assignments.grant('UserDomain', adminUserId, 'default', admin!.id);
    const issued = await openstackJson(['token', 'issue'], { OS_DOMAIN_NAME: 'Default' });
    assert.equal(issued.user_id, adminUserId);
    assert.equal(issued.domain_id, 'default');
    assert.equal(issued.project_id, undefined);
    const token = await decode(issued.id);
    assert.deepEqual(token.domain, { id: 'default', name: 'Default' });
    assert.equal(token.project, undefined);
    assert.equal(token.system, undefined);
    assert.ok(token.roles.some((r: { name: string }) => r.name === 'admin'));
  });

  it('a system-scoped login (OS_SYSTEM_SCOPE=all)', async () => {
    const issued = await openstackJson(['token', 'issue'], { OS_SYSTEM_SCOPE: 'all' });
    assert.equal(issued.user_id, adminUserId);
    assert.equal(issued.system, 'all');
    assert.equal(issued.project_id, undefined);
    const token = await decode(issued.id);
    assert.deepEqual(token.system, { all: true });
    assert.equal(token.project, undefined);
    assert.equal(token.domain, undefined);
    assert.ok(token.roles.some((r: { name: string }) => r.name === 'admin'));
  });

  it('domain create / set --disable / delete and project create / list / show / delete', async () => {
    const domain = await openstackJson(['domain', 'create', '--description', 'made by the CLI', 'cli-domain'], PROJECT_SCOPE);
    assert.equal(domain.name, 'cli-domain');
    assert.equal(domain.enabled, true);
    const project = await openstackJson(['project', 'create', '--domain', 'cli-domain', '--description', 'p', '--tag', 't1', 'cli-project'], PROJECT_SCOPE);
    assert.equal(project.name, 'cli-project');
    assert.equal(project.domain_id, domain.id);
    assert.equal(project.parent_id, domain.id);
    const listed = await openstackJson(['project', 'list', '--domain', domain.id], PROJECT_SCOPE);
    assert.deepEqual(listed.map((p: { Name: string }) => p.Name), ['cli-project']);
    const shown = await openstackJson(['project', 'show', '--domain', 'cli-domain', 'cli-project'], PROJECT_SCOPE);
    assert.equal(shown.id, project.id);
    assert.deepEqual(shown.tags, ['t1']);
    const deleted = await openstack(['project', 'delete', project.id], PROJECT_SCOPE);
    assert.equal(deleted.code, 0, describeResult(deleted));
    const enabled = await openstack(['domain', 'delete', domain.id], PROJECT_SCOPE);
    assert.notEqual(enabled.code, 0, 'an enabled domain is not deleted');
    assert.match(enabled.stderr, /disable it first/, describeResult(enabled));
    const disable = await openstack(['domain', 'set', '--disable', domain.id], PROJECT_SCOPE);
    assert.equal(disable.code, 0, describeResult(disable));
    const gone = await openstack(['domain', 'delete', domain.id], PROJECT_SCOPE);
    assert.equal(gone.code, 0, describeResult(gone));
    const { token: admin } = await adminLogin(base);
    assert.equal((await http(base, 'GET', `/v3/domains/${domain.id}`, { token: admin })).status, 404);
  });

  it('a wrong password: non-zero exit, a 401 "requires authentication" message, no Python traceback', async () => {
    const result = await openstack(['token', 'issue', '-f', 'json'], PROJECT_SCOPE, { OS_PASSWORD: `${ADMIN_PASSWORD}-wrong` });
    assert.notEqual(result.code, 0, describeResult(result));
    assert.match(result.stderr, /401|requires authentication/, describeResult(result));
    assert.doesNotMatch(result.stderr + result.stdout, /Traceback/);
    assert.equal(result.stdout, '');
  });

  it('region create, service create, endpoint create/list, then catalog list shows the new endpoint', async () => {
    const region = await openstackJson(['region', 'create', '--description', 'second', 'RegionTwo'], PROJECT_SCOPE);
    assert.equal(region.region, 'RegionTwo');
    assert.equal(region.description, 'second');
    const service = await openstackJson(['service', 'create', '--name', 'nova', '--description', 'Compute', 'compute'], PROJECT_SCOPE);
    assert.equal(service.type, 'compute');
    assert.equal(service.name, 'nova');
    assert.equal(service.enabled, true);
    const endpoint = await openstackJson(['endpoint', 'create', '--region', 'RegionTwo', 'nova', 'public', 'http://nova.example:8774/v2.1'], PROJECT_SCOPE);
    assert.equal(endpoint.service_id, service.id);
    assert.equal(endpoint.region, 'RegionTwo');
    assert.equal(endpoint.interface, 'public');
    const listed = await openstackJson(['endpoint', 'list', '--service', 'compute'], PROJECT_SCOPE);
    assert.deepEqual(listed.map((e: { ID: string }) => e.ID), [endpoint.id]);
    assert.equal(listed[0]['Service Name'], 'nova');
    const catalog = await openstackJson(['catalog', 'list'], PROJECT_SCOPE);
    const compute = catalog.find((entry: { Type: string }) => entry.Type === 'compute');
    assert.ok(compute, JSON.stringify(catalog));
    assert.match(JSON.stringify(compute.Endpoints), /nova\.example:8774/);
  });
});

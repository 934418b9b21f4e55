import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, adminLogin, http, passwordAuth, startTestServer, type TestServer } from '../support/server.js';

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/;
const GENERIC_401 = 'The request you have made requires authentication.';

describeEachDatabase('POST/GET/HEAD/DELETE /v3/auth/tokens', (ctx) => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    base = server.url;
  });
  after(async () => server?.close());

  async function createUser(name: string, password: string, opts: { default_project_id?: string } = {}) {
    return server.service.providers.identity.createUser({ name, domain_id: 'default', password, ...opts });
  }

  async function grantMember(userId: string, projectName = 'admin') {
    const { providers } = server.service;
    const project = await providers.resource.findProjectByName(projectName, 'default');
    const member = await providers.assignments.findGlobalRoleByName('member');
    await providers.assignments.grant('UserProject', userId, project!.id, member!.id);
    return project!;
  }

  it('issues a project-scoped token with Keystone’s body, roles expanded and the catalog', async () => {
    const res = await http(base, 'POST', '/v3/auth/tokens', {
      body: passwordAuth({ name: 'admin', domain: { name: 'Default' } }, ADMIN_PASSWORD, { project: { name: 'admin', domain: { id: 'default' } } }),
    });
    assert.equal(res.status, 201);
    const subject = res.headers.get('x-subject-token')!;
    assert.match(subject, /^gAAAAA[\w-]+$/);
    assert.equal(res.headers.get('vary'), 'X-Auth-Token');
    assert.match(res.headers.get('x-openstack-request-id')!, /^req-[0-9a-f-]{36}$/);
    const token = res.json.token;
    assert.deepEqual(Object.keys(token), ['methods', 'user', 'audit_ids', 'expires_at', 'issued_at', 'project', 'is_domain', 'roles', 'catalog']);
    assert.deepEqual(token.methods, ['password']);
    assert.deepEqual(token.user.domain, { id: 'default', name: 'Default' });
    assert.equal(token.user.name, 'admin');
    assert.equal(token.user.password_expires_at, null);
    assert.match(token.expires_at, ISO_Z);
    assert.match(token.issued_at, ISO_Z);
    assert.equal(Date.parse(token.expires_at) - Date.parse(token.issued_at), 3600_000);
    assert.equal(token.audit_ids.length, 1);
    assert.match(token.audit_ids[0], /^[\w-]{22}$/);
    assert.equal(token.project.name, 'admin');
    assert.deepEqual(token.project.domain, { id: 'default', name: 'Default' });
    assert.equal(token.is_domain, false);
    // admin implies manager → member → reader: all four, never "service".
    assert.deepEqual(token.roles.map((r: { name: string }) => r.name).sort(), ['admin', 'manager', 'member', 'reader']);
    for (const role of token.roles) assert.deepEqual(Object.keys(role), ['id', 'name']);
    const identity = token.catalog.find((s: { type: string }) => s.type === 'identity');
    assert.equal(identity.name, 'keystone');
    assert.deepEqual(identity.endpoints[0].url, `${base}/v3`);
    assert.equal(identity.endpoints[0].region, 'RegionOne');
    assert.ok(!res.text.includes(ADMIN_PASSWORD));
    assert.ok(!res.text.includes(subject));
  });

  it('validates with GET (200, same body) and HEAD (headers, no body)', async () => {
    const { token } = await adminLogin(base);
    const get = await http(base, 'GET', '/v3/auth/tokens', { token, subject: token });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('x-subject-token'), token);
    assert.equal(get.json.token.project.name, 'admin');
    assert.ok(!get.text.endsWith('\n'), 'token bodies have no trailing newline');
    const head = await http(base, 'HEAD', '/v3/auth/tokens', { token, subject: token });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(get.text));
    const nocatalog = await http(base, 'GET', '/v3/auth/tokens?nocatalog', { token, subject: token });
    assert.equal(nocatalog.json.token.catalog, undefined);
  });

  it('scopes to a domain, to the system, and issues unscoped tokens', async () => {
    const { providers } = server.service;
    const user = await providers.identity.findUserByName('admin', 'default');
    const admin = await providers.assignments.findGlobalRoleByName('admin');
    await providers.assignments.grant('UserDomain', user!.id, 'default', admin!.id);

    const domain = await adminLogin(base, { domain: { id: 'default' } });
    assert.deepEqual(domain.body.token.domain, { id: 'default', name: 'Default' });
    assert.ok(domain.body.token.roles.length >= 4);
    assert.equal(domain.body.token.project, undefined);

    const system = await adminLogin(base, { system: { all: true } });
    assert.deepEqual(system.body.token.system, { all: true });
    assert.deepEqual(Object.keys(system.body.token).slice(-3), ['roles', 'system', 'catalog']);

    for (const scope of ['unscoped', { unscoped: {} }]) {
      const unscoped = await adminLogin(base, scope);
      assert.equal(unscoped.body.token.roles, undefined);
      assert.equal(unscoped.body.token.catalog, undefined);
    }
    const sub = await http(base, 'GET', '/v3/auth/tokens', { token: system.token, subject: domain.token });
    assert.equal(sub.status, 200);
    assert.deepEqual(sub.json.token.domain, { id: 'default', name: 'Default' });
  });

  it('scopes to the default project when no scope is given, and only with a role there', async () => {
    const project = await server.service.providers.resource.findProjectByName('admin', 'default');
    const user = await createUser('dora', 'dora-pass', { default_project_id: project!.id });
    const unscoped = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'dora-pass') });
    assert.equal(unscoped.status, 201);
    assert.equal(unscoped.json.token.project, undefined);
    await grantMember(user.id);
    const scoped = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'dora-pass') });
    assert.equal(scoped.json.token.project.id, project!.id);
    assert.deepEqual(scoped.json.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
  });

  it('answers every authentication failure with the same generic 401', async () => {
    const user = await createUser('erin', 'erin-pass');
    const cases = [
      passwordAuth({ id: user.id }, 'wrong'),
      passwordAuth({ id: 'no-such-user' }, 'x'),
      passwordAuth({ name: 'erin', domain: { id: 'default' } }, 'wrong'),
      passwordAuth({ name: 'erin', domain: { id: 'no-such-domain' } }, 'erin-pass'),
      passwordAuth({ id: user.id }, 'erin-pass', { project: { name: 'no-such-project', domain: { id: 'default' } } }),
      passwordAuth({ id: user.id }, 'erin-pass', { project: { name: 'admin', domain: { id: 'default' } } }), // no role there
      passwordAuth({ id: user.id }, 'erin-pass', { system: { all: true } }),
    ];
    for (const body of cases) {
      const res = await http(base, 'POST', '/v3/auth/tokens', { body });
      assert.equal(res.status, 401, JSON.stringify(body));
      assert.equal(res.text, `{"error":{"code":401,"message":"${GENERIC_401}","title":"Unauthorized"}}\n`);
      assert.equal(res.headers.get('www-authenticate'), `Keystone uri="${base}/v3"`);
      assert.equal(res.headers.get('x-subject-token'), null);
    }
  });

  it('names the loaded methods when an unsupported one is used', async () => {
    const res = await http(base, 'POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['kerberos'], kerberos: {} } } } });
    assert.equal(res.status, 401);
    assert.equal(res.json.error.message, 'Attempted to authenticate with an unsupported method.');
    assert.deepEqual(res.json.error.identity.methods, server.config.auth.methods);
  });

  it('refuses malformed requests with 400, oversized ones with 413, wrong methods with 405', async () => {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['{not json', {}, 400, /Expecting to find valid JSON in request body/],
      ['[]', {}, 400, /Expecting to find valid JSON/],
      [JSON.stringify({ auth: { identity: {} } }), {}, 400, /'methods' is a required property/],
      [JSON.stringify({ auth: { identity: { methods: 'password' } } }), {}, 400, /Invalid input for field 'identity\/methods'/],
      [JSON.stringify({ auth: { identity: { methods: ['password'] } } }), {}, 400, /Expecting to find password in identity/],
      [JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: 'x' } } } } }), {}, 400, /Expecting to find domain in user/],
      [JSON.stringify(passwordAuth({ id: 'x' }, 'y', { project: { id: 'p' }, domain: { id: 'd' } })), {}, 400, /Expecting to find system, project, domain, OS-TRUST:trust or unscoped in scope/],
      ['{}', { 'Content-Type': 'text/plain' }, 400, /Expecting to find application\/json in Content-Type header/],
    ];
    for (const [body, headers, status, pattern] of cases) {
      const res = await http(base, 'POST', '/v3/auth/tokens', { body, headers: { 'Content-Type': 'application/json', ...headers } });
      assert.equal(res.status, status, body);
      assert.match(res.json.error.message, pattern);
      assert.equal(res.json.error.code, status);
    }
    const big = JSON.stringify({ auth: { identity: { methods: ['password'] } }, pad: 'x'.repeat(server.config.oslo_middleware.max_request_body_size) });
    const tooLarge = await http(base, 'POST', '/v3/auth/tokens', { body: big });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.error.title, 'Request Entity Too Large');
    assert.equal((await http(base, 'PUT', '/v3/auth/tokens', { body: {} })).status, 405);
    const missing = await http(base, 'GET', '/v3/no-such-thing');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.title, 'Not Found');
  });

  it('needs a valid X-Auth-Token to validate, and reports bad subjects as 404', async () => {
    const { token } = await adminLogin(base);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { subject: token })).status, 401);
    const garbage = await http(base, 'GET', '/v3/auth/tokens', { token: 'gAAAAABgarbage', subject: token });
    assert.equal(garbage.status, 401);
    assert.equal(garbage.json.error.message, GENERIC_401);
    const noSubject = await http(base, 'GET', '/v3/auth/tokens', { token });
    assert.equal(noSubject.status, 404);
    assert.equal(noSubject.json.error.message, 'No token in the request');
    const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const bad = await http(base, 'GET', '/v3/auth/tokens', { token, subject: tampered });
    assert.equal(bad.status, 404);
    assert.ok(!bad.text.includes(tampered));
  });

  it('lets a user validate its own token but not another user’s (identity:validate_token)', async () => {
    const user = await createUser('fay', 'fay-pass');
    await grantMember(user.id);
    const own = await http(base, 'POST', '/v3/auth/tokens', {
      body: passwordAuth({ id: user.id }, 'fay-pass', { project: { name: 'admin', domain: { id: 'default' } } }),
    });
    const fay = own.headers.get('x-subject-token')!;
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: fay, subject: fay })).status, 200);
    const { token: admin } = await adminLogin(base);
    const denied = await http(base, 'GET', '/v3/auth/tokens', { token: fay, subject: admin });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.message, 'You are not authorized to perform the requested action: identity:validate_token.');
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: fay })).status, 200);
  });

  it('revokes one token on DELETE and leaves the others valid', async () => {
    const first = await adminLogin(base);
    const second = await adminLogin(base);
    const del = await http(base, 'DELETE', '/v3/auth/tokens', { token: second.token, subject: first.token });
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal(del.headers.get('content-type'), null);
    const after = await http(base, 'GET', '/v3/auth/tokens', { token: second.token, subject: first.token });
    assert.equal(after.status, 404);
    assert.equal(after.json.error.message, 'Failed to validate token');
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: first.token, subject: first.token })).status, 401);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: second.token, subject: second.token })).status, 200);
  });

  it('rescopes with the token method: same expiry, audit chain, token+password methods', async () => {
    const unscoped = await adminLogin(base, 'unscoped');
    const res = await http(base, 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['token'], token: { id: unscoped.token } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } },
    });
    assert.equal(res.status, 201);
    const rescoped = res.json.token;
    assert.equal(rescoped.expires_at, unscoped.body.token.expires_at);
    assert.equal(rescoped.audit_ids[1], unscoped.body.token.audit_ids[0]);
    assert.deepEqual([...rescoped.methods].sort(), ['password', 'token']);
    const validated = await http(base, 'GET', '/v3/auth/tokens', { token: unscoped.token, subject: res.headers.get('x-subject-token')! });
    assert.equal(validated.status, 200);
    assert.deepEqual(validated.json.token.methods, ['token', 'password']);
    // A system token may not become a project token.
    const system = await adminLogin(base, { system: { all: true } });
    const refused = await http(base, 'POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['token'], token: { id: system.token } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } },
    });
    assert.equal(refused.status, 403);
  });

  it('invalidates tokens at once when the user or the project is disabled', async () => {
    const { providers } = server.service;
    const user = await createUser('gus', 'gus-pass');
    const project = await providers.resource.createProject({ name: 'gus-project', domain_id: 'default' });
    await grantMember(user.id, 'gus-project');
    const { token: admin } = await adminLogin(base);
    const login = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'gus-pass', { project: { id: project.id } }) });
    const gus = login.headers.get('x-subject-token')!;
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: gus })).status, 200);
    await providers.resource.setEnabled(project.id, false);
    const disabledProject = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: gus });
    assert.equal(disabledProject.status, 404);
    assert.equal(disabledProject.json.error.message, `Unable to validate token because project ${project.id} is disabled`);
    await providers.resource.setEnabled(project.id, true);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: gus })).status, 200);
    await providers.identity.setEnabled(user.id, false);
    assert.equal((await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: gus })).status, 404);
  });

  it('serves the scope discovery endpoints', async () => {
    const { token } = await adminLogin(base);
    const catalog = await http(base, 'GET', '/v3/auth/catalog', { token });
    assert.equal(catalog.status, 200);
    assert.ok(catalog.json.catalog.some((s: { type: string }) => s.type === 'identity'));
    assert.equal(catalog.json.links.self, `${base}/v3/auth/catalog`);
    const projects = await http(base, 'GET', '/v3/auth/projects', { token });
    assert.ok(projects.json.projects.some((p: { name: string }) => p.name === 'admin'));
    assert.deepEqual(projects.json.links, { self: `${base}/v3/auth/projects`, previous: null, next: null });
    const system = await http(base, 'GET', '/v3/auth/system', { token });
    assert.deepEqual(system.json.system, [{ all: true }]);
    const unscoped = await adminLogin(base, 'unscoped');
    assert.equal((await http(base, 'GET', '/v3/auth/catalog', { token: unscoped.token })).status, 403);
  });

  it('answers version discovery at / (300) and /v3 (200)', async () => {
    const root = await http(base, 'GET', '/');
    assert.equal(root.status, 300);
    assert.equal(root.headers.get('location'), `${base}/v3/`);
    assert.equal(root.json.versions.values[0].id, 'v3.14');
    const v3 = await http(base, 'GET', '/v3');
    assert.equal(v3.status, 200);
    assert.equal(v3.json.version.links[0].href, `${base}/v3/`);
    assert.equal(v3.json.version['media-types'][0].type, 'application/vnd.openstack.identity-v3+json');
  });
});

/**
 * The real `openstack` CLI (scripts/setup-openstack-client.sh installs it into .cache/venv) on
 * roles, implied roles, grants and role assignments, against a real server on a loopback port.
 * Skipped without the CLI, except under CI=true where that fails.
 */
import assert from 'node:assert/strict';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ROOT, describeResult, killChildren, run, tempDirs, type RunResult } from '../support/cli.js';
import { ADMIN_PASSWORD, adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

const OPENSTACK = path.join(ROOT, '.cache', 'venv', 'bin', 'openstack');

describe('the `openstack` CLI on roles, grants and role assignments', function () {
  const temps = tempDirs('kts-openstack-roles-');
  let db: Db | undefined;
  let server: TestServer | undefined;
  let home: string;
  let base: string;

  before(async function () {
    this.timeout(120_000);
    try {
      accessSync(OPENSTACK, fsConstants.X_OK);
    } catch {
      const missing = `${path.relative(ROOT, OPENSTACK)} is missing: run scripts/setup-openstack-client.sh`;
      if (process.env.CI === 'true') throw new Error(`the openstack CLI is required when CI=true: ${missing}`);
      console.log(`      openstack CLI suite skipped: ${missing}`);
      this.skip();
    }
    home = temps.make();
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
    base = server.url;
  });

  after(async function () {
    this.timeout(30_000);
    await killChildren();
    await server?.close();
    await db?.close();
    temps.cleanup();
  });

  function openstack(args: string[]): Promise<RunResult> {
    return run(OPENSTACK, args, {
      cwd: home,
      timeoutMs: 45_000,
      env: {
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        LC_ALL: 'C.UTF-8',
        OS_AUTH_URL: `${base}/v3`,
        OS_IDENTITY_API_VERSION: '3',
        OS_AUTH_TYPE: 'password',
        OS_INTERFACE: 'public',
        OS_USERNAME: 'admin',
        OS_PASSWORD: ADMIN_PASSWORD,
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_NAME: 'admin',
        OS_PROJECT_DOMAIN_NAME: 'Default',
      },
    });
  }

  async function openstackJson(args: string[]): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const result = await openstack([...args, '-f', 'json']);
    assert.equal(result.code, 0, describeResult(result));
    assert.doesNotMatch(result.stderr, /Traceback/);
    return JSON.parse(result.stdout);
  }

  it('role create / show / set / list, implied role create / list, role delete', async function () {
    this.timeout(120_000);
    const role = await openstackJson(['role', 'create', '--description', 'by the CLI', 'cli-role']);
    assert.equal(role.name, 'cli-role');
    assert.equal(role.description, 'by the CLI');
    const shown = await openstackJson(['role', 'show', 'cli-role']);
    assert.equal(shown.id, role.id);
    const set = await openstack(['role', 'set', '--name', 'cli-role-2', role.id]);
    assert.equal(set.code, 0, describeResult(set));
    const listed = await openstackJson(['role', 'list']);
    assert.ok(listed.some((r: { Name: string }) => r.Name === 'cli-role-2'));
    const implied = await openstackJson(['implied', 'role', 'create', '--implied-role', 'reader', 'cli-role-2']);
    const reader = (await server!.service.providers.assignments.findGlobalRoleByName('reader'))!.id;
    assert.deepEqual(implied, { implies: reader, prior_role: role.id });
    const rules = await openstackJson(['implied', 'role', 'list']);
    assert.ok(rules.some((r: { 'Prior Role Name': string; 'Implied Role Name': string }) => r['Prior Role Name'] === 'cli-role-2' && r['Implied Role Name'] === 'reader'));
    const dup = await openstack(['role', 'create', 'cli-role-2']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Conflict occurred attempting to store role/, describeResult(dup));
    const deleted = await openstack(['role', 'delete', 'cli-role-2']);
    assert.equal(deleted.code, 0, describeResult(deleted));
  });

  it('role assignment list --names, --effective and by project shows what the API grants', async function () {
    this.timeout(120_000);
    const { providers } = server!.service;
    const user = await providers.identity.createUser({ name: 'cli-assignee', domain_id: 'default', password: 'pw-cli-assignee' });
    const project = await openstackJson(['project', 'create', 'cli-grants']);
    const manager = (await providers.assignments.findGlobalRoleByName('manager'))!.id;
    const { token } = await adminLogin(base);
    assert.equal((await http(base, 'PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${manager}`, { token })).status, 204);
    const direct = await openstackJson(['role', 'assignment', 'list', '--project', project.id, '--names']);
    assert.deepEqual(direct.map((a: { Role: string; User: string; Project: string }) => [a.Role, a.User, a.Project]), [['manager', 'cli-assignee@Default', 'cli-grants@Default']]);
    const effective = await openstackJson(['role', 'assignment', 'list', '--project', project.id, '--effective', '--names']);
    assert.deepEqual(effective.map((a: { Role: string }) => a.Role).sort(), ['manager', 'member', 'reader']);
    const byRole = await openstackJson(['role', 'assignment', 'list', '--role', 'manager', '--project', project.id]);
    assert.deepEqual(byRole.map((a: { User: string }) => a.User), [user.id]);
  });

  it('role add / remove --user --project (needs GET /v3/users/{id} to resolve the user)', async function () {
    this.timeout(120_000);
    const { providers } = server!.service;
    const user = await providers.identity.createUser({ name: 'cli-added', domain_id: 'default', password: 'pw-cli-added' });
    const { token } = await adminLogin(base);
    if ((await http(base, 'GET', `/v3/users/${user.id}`, { token })).status !== 200) {
      console.log('      role add --user skipped: this branch has no /v3/users/{id} for the CLI to resolve the user');
      this.skip();
    }
    const add = await openstack(['role', 'add', '--user', user.id, '--project', 'admin', 'reader']);
    assert.equal(add.code, 0, describeResult(add));
    const listed = await openstackJson(['role', 'assignment', 'list', '--user', user.id, '--names']);
    assert.deepEqual(listed.map((a: { Role: string }) => a.Role), ['reader']);
    const remove = await openstack(['role', 'remove', '--user', user.id, '--project', 'admin', 'reader']);
    assert.equal(remove.code, 0, describeResult(remove));
  });
});

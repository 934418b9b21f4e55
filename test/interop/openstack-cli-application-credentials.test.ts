/**
 * Application credentials through the real python-openstackclient (see openstack-cli.test.ts for
 * the set-up conventions): created with a password login, then used to log in with
 * OS_AUTH_TYPE=v3applicationcredential, as keystoneauth sends the application_credential method.
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

describe('python-openstackclient application credentials against keystone-ts', function () {
  const temps = tempDirs('kts-openstack-appcreds-');
  let db: Db | undefined;
  let server: TestServer | undefined;
  let home: string;

  before(async function () {
    this.timeout(120_000);
    try {
      accessSync(OPENSTACK, fsConstants.X_OK);
    } catch {
      if (process.env.CI === 'true') throw new Error('the openstack CLI is required when CI=true: run scripts/setup-openstack-client.sh');
      console.log('      openstack CLI suite skipped: .cache/venv/bin/openstack is missing');
      this.skip();
    }
    home = temps.make();
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
  });

  after(async function () {
    this.timeout(30_000);
    await killChildren();
    await server?.close();
    await db?.close();
    temps.cleanup();
  });

  const common = () => ({
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    LC_ALL: 'C.UTF-8',
    OS_AUTH_URL: `${server!.url}/v3`,
    OS_IDENTITY_API_VERSION: '3',
    OS_INTERFACE: 'public',
  });
  const asAdmin = {
    OS_AUTH_TYPE: 'password',
    OS_USERNAME: 'admin',
    OS_PASSWORD: ADMIN_PASSWORD,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_NAME: 'admin',
    OS_PROJECT_DOMAIN_NAME: 'Default',
  };

  function openstack(args: string[], credentials: Record<string, string>): Promise<RunResult> {
    return run(OPENSTACK, args, { cwd: home, timeoutMs: 45_000, env: { ...common(), ...credentials } });
  }

  async function openstackJson(args: string[], credentials: Record<string, string>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const result = await openstack([...args, '-f', 'json'], credentials);
    assert.equal(result.code, 0, describeResult(result));
    assert.doesNotMatch(result.stderr, /Traceback/);
    return JSON.parse(result.stdout);
  }

  it('application credential create, then token issue and list with OS_AUTH_TYPE=v3applicationcredential', async function () {
    this.timeout(120_000);
    const created = await openstackJson(['application', 'credential', 'create', '--description', 'from the CLI', 'cli-appcred'], asAdmin);
    // This client prints display names (`ID`, `Project ID`, ...).
    assert.equal(created.Name, 'cli-appcred');
    assert.match(created.Secret, /^[A-Za-z0-9_-]{86}$/);
    const { body: adminToken } = await adminLogin(server!.url);
    assert.equal(created['Project ID'], adminToken.token.project.id);

    const byAppCred = {
      OS_AUTH_TYPE: 'v3applicationcredential',
      OS_APPLICATION_CREDENTIAL_ID: created.ID,
      OS_APPLICATION_CREDENTIAL_SECRET: created.Secret,
    };
    const issued = await openstackJson(['token', 'issue'], byAppCred);
    assert.equal(issued.project_id, adminToken.token.project.id);
    assert.equal(issued.user_id, adminToken.token.user.id);
    // The token the CLI got is an application-credential token.
    const checked = await http(server!.url, 'GET', '/v3/auth/tokens', { token: issued.id, subject: issued.id });
    assert.equal(checked.status, 200, checked.text);
    assert.deepEqual(checked.json.token.methods, ['application_credential']);
    assert.equal(checked.json.token.application_credential.id, created.ID);

    const listed = await openstackJson(['application', 'credential', 'list'], byAppCred);
    assert.deepEqual(listed.map((row: { Name: string }) => row.Name), ['cli-appcred']);
    // A restricted credential may not delete credentials; the password login may.
    const refused = await openstack(['application', 'credential', 'delete', 'cli-appcred'], byAppCred);
    assert.notEqual(refused.code, 0);
    assert.equal((await openstack(['application', 'credential', 'delete', 'cli-appcred'], asAdmin)).code, 0, 'delete with the password login');
    const afterDelete = await openstack(['token', 'issue'], byAppCred);
    assert.notEqual(afterDelete.code, 0);
  });
});

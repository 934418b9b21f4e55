/**
 * Application credentials through the real python-openstackclient (set up by
 * test/support/openstack.ts): created with a password login, then used to log in with
 * OS_AUTH_TYPE=v3applicationcredential, as keystoneauth sends the application_credential method.
 * Skipped without the CLI, except under CI=true where that fails.
 */
import assert from 'node:assert/strict';
import { AS_ADMIN, openstackCliSuite } from '../support/openstack.js';
import { adminLogin, http } from '../support/server.js';

describe('python-openstackclient application credentials against keystone-ts', function () {
  const cli = openstackCliSuite('kts-openstack-appcreds-');
  const { openstack, openstackJson } = cli;

  it('application credential create, then token issue and list with OS_AUTH_TYPE=v3applicationcredential', async function () {
    this.timeout(120_000);
    const created = await openstackJson(['application', 'credential', 'create', '--description', 'from the CLI', 'cli-appcred'], AS_ADMIN);
    // This client prints display names (`ID`, `Project ID`, ...).
    assert.equal(created.Name, 'cli-appcred');
    assert.match(created.Secret, /^[A-Za-z0-9_-]{86}$/);
    const { body: adminToken } = await adminLogin(cli.server().url);
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
    const checked = await http(cli.server().url, 'GET', '/v3/auth/tokens', { token: issued.id, subject: issued.id });
    assert.equal(checked.status, 200, checked.text);
    assert.deepEqual(checked.json.token.methods, ['application_credential']);
    assert.equal(checked.json.token.application_credential.id, created.ID);

    const listed = await openstackJson(['application', 'credential', 'list'], byAppCred);
    assert.deepEqual(listed.map((row: { Name: string }) => row.Name), ['cli-appcred']);
    // A restricted credential may not delete credentials; the password login may.
    const refused = await openstack(['application', 'credential', 'delete', 'cli-appcred'], byAppCred);
    assert.notEqual(refused.code, 0);
    assert.equal((await openstack(['application', 'credential', 'delete', 'cli-appcred'], AS_ADMIN)).code, 0, 'delete with the password login');
    const afterDelete = await openstack(['token', 'issue'], byAppCred);
    assert.notEqual(afterDelete.code, 0);
  });
});

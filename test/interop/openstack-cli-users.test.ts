/**
 * Users and groups through the real python-openstackclient (set up by test/support/openstack.ts):
 * what the CLI prints is checked, and the service's own API confirms it.
 * Skipped without the CLI, except under CI=true where that fails.
 */
import assert from 'node:assert/strict';
import { describeResult } from '../support/cli.js';
import { AS_ADMIN, openstackCliSuite } from '../support/openstack.js';
import { adminLogin, http, passwordAuth } from '../support/server.js';

describe('python-openstackclient user and group commands against keystone-ts', function () {
  const cli = openstackCliSuite('kts-openstack-users-');
  const openstack = (args: string[], credentials: Record<string, string> = {}) => cli.openstack(args, { ...AS_ADMIN, ...credentials });
  const openstackJson = (args: string[]) => cli.openstackJson(args, AS_ADMIN);

  it('user create / show / list / set, group create / add user / contains user / remove', async function () {
    this.timeout(120_000);
    const created = await openstackJson(['user', 'create', '--password', 'cli-pass-1', '--email', 'cli@example.org', '--description', 'from the CLI', 'cli-user']);
    assert.equal(created.name, 'cli-user');
    assert.equal(created.domain_id, 'default');
    assert.equal(created.email, 'cli@example.org');
    assert.equal(created.enabled, true);
    const shown = await openstackJson(['user', 'show', 'cli-user']);
    assert.equal(shown.id, created.id);
    assert.equal(shown.description, 'from the CLI');
    const listed = await openstackJson(['user', 'list', '--domain', 'default']);
    assert.ok(listed.some((u: { Name: string }) => u.Name === 'cli-user'), JSON.stringify(listed));
    const disabled = await openstack(['user', 'set', '--disable', 'cli-user']);
    assert.equal(disabled.code, 0, describeResult(disabled));
    const { token } = await adminLogin(cli.server().url);
    assert.equal((await http(cli.server().url, 'GET', `/v3/users/${created.id}`, { token })).json.user.enabled, false);
    assert.equal((await openstack(['user', 'set', '--enable', 'cli-user'])).code, 0);

    const group = await openstackJson(['group', 'create', '--description', 'cli group', 'cli-group']);
    assert.equal(group.name, 'cli-group');
    const add = await openstack(['group', 'add', 'user', 'cli-group', 'cli-user']);
    assert.equal(add.code, 0, describeResult(add));
    const contains = await openstack(['group', 'contains', 'user', 'cli-group', 'cli-user']);
    assert.equal(contains.code, 0, describeResult(contains));
    assert.match(contains.stdout, /cli-user in group cli-group/);
    const members = await openstackJson(['user', 'list', '--group', 'cli-group']);
    assert.deepEqual(members.map((u: { Name: string }) => u.Name), ['cli-user']);
    assert.equal((await openstack(['group', 'remove', 'user', 'cli-group', 'cli-user'])).code, 0);
    const notContained = await openstack(['group', 'contains', 'user', 'cli-group', 'cli-user']);
    assert.match(notContained.stdout + notContained.stderr, /cli-user not in group cli-group/);
    assert.equal((await openstack(['group', 'delete', 'cli-group'])).code, 0);
  });

  it('user password set: the self-service change as the user itself', async function () {
    this.timeout(60_000);
    const { token } = await adminLogin(cli.server().url);
    const res = await http(cli.server().url, 'POST', '/v3/users', { token, body: { user: { name: 'cli-self', password: 'cli-old-pass' } } });
    assert.equal(res.status, 201, res.text);
    const changed = await openstack(['user', 'password', 'set', '--original-password', 'cli-old-pass', '--password', 'cli-new-pass'], {
      OS_USERNAME: 'cli-self',
      OS_PASSWORD: 'cli-old-pass',
      OS_PROJECT_NAME: '',
      OS_PROJECT_DOMAIN_NAME: '',
    });
    assert.equal(changed.code, 0, describeResult(changed));
    const login = await http(cli.server().url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: res.json.user.id }, 'cli-new-pass') });
    assert.equal(login.status, 201, login.text);
  });
});

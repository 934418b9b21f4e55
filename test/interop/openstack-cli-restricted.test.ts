/**
 * The real `openstack` CLI (keystoneauth's `token` plugin) with a restricted token: the plugin
 * re-authenticates with the token method and the project scope, which is a renewal, so it works
 * exactly when the restriction allows renewing; and the token body it reads is Keystone's.
 * Skipped without the CLI, except under CI=true where that fails.
 */
import assert from 'node:assert/strict';
import { describeResult } from '../support/cli.js';
import { openstackCliSuite } from '../support/openstack.js';
import { adminLogin, http, passwordAuth } from '../support/server.js';

describe('the `openstack` CLI with a restricted token', function () {
  const cli = openstackCliSuite('kts-openstack-restricted-');

  async function restrictedToken(allowRenew: boolean) {
    const server = cli.server();
    const { providers } = server.service;
    const { token: admin, body } = await adminLogin(server.url);
    const projectId = body.token.project.id as string;
    const name = `cli-restricted-${allowRenew}`;
    const user = await providers.identity.createUser({ name, domain_id: 'default', password: `pw-${name}` });
    await providers.assignments.grant('UserProject', user.id, projectId, (await providers.assignments.findGlobalRoleByName('member'))!.id);
    const login = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, `pw-${name}`, { project: { id: projectId } }) });
    const reader = (await providers.assignments.findGlobalRoleByName('reader'))!.id;
    const restriction = await http(server.url, 'POST', '/v4/tokens/restrictions', {
      token: admin,
      body: { restriction: { domain_id: 'default', user_id: user.id, allow_renew: allowRenew, allow_rescope: false, role_ids: [reader] } },
    });
    assert.equal(restriction.status, 201, restriction.text);
    const exchanged = await http(server.url, 'POST', `/v4/tokens/restrictions/${restriction.json.restriction.id}/tokens`, { token: login.headers.get('x-subject-token')! });
    assert.equal(exchanged.status, 201, exchanged.text);
    return { token: exchanged.headers.get('x-subject-token')!, projectId };
  }

  it('token issue and project show with a renewable restricted token', async function () {
    this.timeout(120_000);
    const { token, projectId } = await restrictedToken(true);
    const env = { OS_AUTH_TYPE: 'token', OS_TOKEN: token, OS_PROJECT_ID: projectId };
    const issued = await cli.openstackJson(['token', 'issue'], env);
    assert.equal(issued.project_id, projectId);
    const project = await cli.openstackJson(['project', 'show', projectId], env);
    assert.equal(project.id, projectId);
  });

  it('is refused by the server when the restriction does not allow renewing', async function () {
    this.timeout(120_000);
    const { token, projectId } = await restrictedToken(false);
    const result = await cli.openstack(['token', 'issue', '-f', 'json'], { OS_AUTH_TYPE: 'token', OS_TOKEN: token, OS_PROJECT_ID: projectId });
    assert.notEqual(result.code, 0, describeResult(result));
    assert.match(result.stderr, /HTTP 403/, describeResult(result));
  });
});

import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, startTestServer, type TestServer } from '../support/server.js';

/**
 * Expiry is real rather than simulated: `shortLived` issues tokens that live one second, and
 * `server` (same database and keys, normal lifetime) validates them after they expired.
 */
describeEachDatabase('token expiry and ?allow_expired', (ctx) => {
  let server: TestServer;
  let shortLived: TestServer;
  before(async () => {
    server = await startTestServer(ctx.db(), { 'token.allow_expired_window': '3600' });
    shortLived = await startTestServer(ctx.db(), { 'token.expiration': '1' }, { shareKeysWith: server });
  });
  after(async () => {
    await shortLived?.close();
    await server?.close();
  });

  it('refuses an expired subject with 404 unless allow_expired is asked for', async () => {
    const subject = await adminLogin(shortLived.url);
    const caller = await adminLogin(server.url);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await http(server.url, 'GET', '/v3/auth/tokens', { token: caller.token, subject: subject.token });
    assert.equal(expired.status, 404);
    assert.equal(expired.json.error.message, 'Failed to validate token');
    for (const flag of ['true', '1', 'yes']) {
      const allowed = await http(server.url, 'GET', `/v3/auth/tokens?allow_expired=${flag}`, { token: caller.token, subject: subject.token });
      assert.equal(allowed.status, 200, flag);
      assert.equal(allowed.json.token.expires_at, subject.body.token.expires_at);
    }
    assert.equal((await http(server.url, 'GET', '/v3/auth/tokens?allow_expired=false', { token: caller.token, subject: subject.token })).status, 404);
    // As the caller's own token, an expired token is simply not authenticated.
    const asCaller = await http(server.url, 'GET', '/v3/auth/tokens', { token: subject.token, subject: caller.token });
    assert.equal(asCaller.status, 401);
  });
});

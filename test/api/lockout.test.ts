import assert from 'node:assert/strict';
import { describeEachDatabase } from '../support/databases.js';
import { http, passwordAuth, startTestServer, type TestServer } from '../support/server.js';

/** [security_compliance] as tempest configures it: 2 failures lock the account for 5 seconds. */
describeEachDatabase('password lockout and expiry ([security_compliance])', (ctx) => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer(ctx.db(), {
      'security_compliance.lockout_failure_attempts': '2',
      'security_compliance.lockout_duration': '5',
    });
  });
  after(async () => server?.close());

  const login = (userId: string, password: string) =>
    http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: userId }, password) });

  it('locks after the configured failures, even for the right password, and unlocks after the duration', async () => {
    const user = await server.service.providers.identity.createUser({ name: 'locky', domain_id: 'default', password: 'right-pass' });
    assert.equal((await login(user.id, 'wrong')).status, 401);
    assert.equal((await login(user.id, 'wrong')).status, 401);
    const locked = await login(user.id, 'right-pass');
    assert.equal(locked.status, 401);
    assert.equal(locked.json.error.message, 'The request you have made requires authentication.');
    // Wait out the 5 s lock rather than faking the clock: the lock is enforced by the database.
    await new Promise((resolve) => setTimeout(resolve, 5200));
    assert.equal((await login(user.id, 'right-pass')).status, 201);
    // Success resets the counter: one more failure does not lock.
    assert.equal((await login(user.id, 'wrong')).status, 401);
    assert.equal((await login(user.id, 'right-pass')).status, 201);
  });

  it('never lets concurrent guesses exceed the budget', async () => {
    const user = await server.service.providers.identity.createUser({ name: 'racer', domain_id: 'default', password: 'right-pass' });
    // Twenty wrong guesses at once, then the right password: all must fail, the account is locked.
    const guesses = await Promise.all(Array.from({ length: 20 }, () => login(user.id, 'wrong')));
    assert.ok(guesses.every((r) => r.status === 401));
    assert.equal((await login(user.id, 'right-pass')).status, 401);
  });

  it('re-enabling a locked user resets the lock', async () => {
    const { identity } = server.service.providers;
    const user = await identity.createUser({ name: 'reenabled', domain_id: 'default', password: 'right-pass' });
    await login(user.id, 'wrong');
    await login(user.id, 'wrong');
    assert.equal((await login(user.id, 'right-pass')).status, 401);
    await identity.setEnabled(user.id, true);
    assert.equal((await login(user.id, 'right-pass')).status, 201);
  });
});

describeEachDatabase('password expiry', (ctx) => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(ctx.db(), { 'security_compliance.change_password_upon_first_use': 'true' });
  });
  after(async () => server?.close());

  it('refuses an expired password with Keystone’s message naming the user', async () => {
    const user = await server.service.providers.identity.createUser({ name: 'firstuse', domain_id: 'default', password: 'first-pass' });
    const res = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'first-pass') });
    assert.equal(res.status, 401);
    assert.equal(res.json.error.message, `The password is expired and needs to be changed for user: ${user.id}.`);
    const wrong = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, 'not-it') });
    assert.equal(wrong.json.error.message, 'The request you have made requires authentication.');
  });
});

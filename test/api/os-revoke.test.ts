import assert from 'node:assert/strict';
import { parseIsoTime } from '../../src/api/v3/revoke.js';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

describe('OS-REVOKE since: oslo parse_isotime', () => {
  it('reads ISO 8601 dates and times, naive as UTC, offsets applied', () => {
    assert.equal(parseIsoTime('2026-11-23T19:00:00Z')?.toISOString(), '2026-11-23T19:00:00.000Z');
    assert.equal(parseIsoTime('2026-11-23T19:00:00.123456Z')?.toISOString(), '2026-11-23T19:00:00.123Z');
    assert.equal(parseIsoTime('2026-11-23T19:00:00')?.toISOString(), '2026-11-23T19:00:00.000Z');
    assert.equal(parseIsoTime('2026-11-23T20:30:00+01:30')?.toISOString(), '2026-11-23T19:00:00.000Z');
    assert.equal(parseIsoTime('2026-11-23T17:00:00-0200')?.toISOString(), '2026-11-23T19:00:00.000Z');
    assert.equal(parseIsoTime('2026-11-23')?.toISOString(), '2026-11-23T00:00:00.000Z');
    for (const bad of ['', 'yesterday', '2026-02-30T00:00:00Z', '2026-11-23T24:00:00Z', '2026-13-01', '1700000000']) {
      assert.equal(parseIsoTime(bad), undefined, bad);
    }
  });
});

describeEachDatabase('GET /v3/OS-REVOKE/events', (ctx) => {
  let server: TestServer;
  let admin: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    admin = (await adminLogin(server.url)).token;
  });
  after(async () => server?.close());

  it('lists the events as Keystone renders them, strictly after `since`', async () => {
    const before = await http(server.url, 'GET', '/v3/OS-REVOKE/events', { token: admin });
    assert.equal(before.status, 200);
    assert.deepEqual(before.json.links, { next: null, self: `${server.url}/v3/OS-REVOKE/events`, previous: null });
    const victim = (await adminLogin(server.url)).token;
    const inspected = await http(server.url, 'GET', '/v3/auth/tokens', { token: admin, subject: victim });
    const auditId = inspected.json.token.audit_ids[0] as string;
    assert.equal((await http(server.url, 'DELETE', '/v3/auth/tokens', { token: admin, subject: victim })).status, 204);

    const after = await http(server.url, 'GET', '/v3/OS-REVOKE/events', { token: admin });
    assert.equal(after.json.events.length, before.json.events.length + 1);
    const event = after.json.events.find((e: { audit_id?: string }) => e.audit_id === auditId);
    assert.ok(event, 'the revocation of the token is listed by its audit id');
    assert.deepEqual(Object.keys(event).sort(), ['audit_id', 'issued_before', 'revoked_at']);
    assert.match(event.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
    assert.match(event.issued_before, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);

    // `since` is exclusive: the event's own second excludes it, a second earlier includes it.
    const at = new Date(event.revoked_at as string);
    const same = await http(server.url, 'GET', `/v3/OS-REVOKE/events?since=${encodeURIComponent(at.toISOString())}`, { token: admin });
    assert.ok(!same.json.events.some((e: { audit_id?: string }) => e.audit_id === auditId));
    const earlier = await http(server.url, 'GET', `/v3/OS-REVOKE/events?since=${encodeURIComponent(new Date(at.getTime() - 1000).toISOString())}`, { token: admin });
    assert.ok(earlier.json.events.some((e: { audit_id?: string }) => e.audit_id === auditId));
  });

  it('refuses a bad `since` without echoing it, anonymous callers and non-admins', async () => {
    const bad = await http(server.url, 'GET', '/v3/OS-REVOKE/events?since=not-a-date-secret', { token: admin });
    assert.equal(bad.status, 400);
    assert.doesNotMatch(bad.text, /not-a-date-secret/);
    assert.equal((await http(server.url, 'GET', '/v3/OS-REVOKE/events')).status, 401);
    const member = await projectUserToken(server, `revoke-member-${ctx.kind}`, 'member');
    assert.equal((await http(server.url, 'GET', '/v3/OS-REVOKE/events', { token: member.token })).status, 403);
    const head = await http(server.url, 'HEAD', '/v3/OS-REVOKE/events', { token: admin });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });
});

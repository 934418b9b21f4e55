import assert from 'node:assert/strict';
import { pythonJson } from '../../src/common/json.js';
import type { Page } from '../../src/common/list-hints.js';
import type { RequestContext } from '../../src/api/http.js';
import { userDict, userListJson } from '../../src/api/v3/identity-views.js';
import { collection, withSelfLink } from '../../src/api/v3/resource-views.js';
import type { User } from '../../src/identity/service.js';

/** The general rendering the hand-written one must equal byte for byte. */
function general(ctx: RequestContext, users: readonly User[], truncated: boolean, page?: Page | null): string {
  return pythonJson(collection(ctx, 'users', users.map((u) => withSelfLink(ctx, 'users', userDict(u))), truncated, page));
}

function context(queryString: string): RequestContext {
  return {
    method: 'GET',
    path: '/v3/users/',
    params: {},
    query: {},
    queryString,
    headers: {},
    body: undefined,
    baseUrl: 'http://127.0.0.1:5000',
    requestId: 'req-1',
    sourceAddress: '127.0.0.1',
    caller: undefined,
  };
}

function user(fields: Partial<User> & { id: string }): User {
  return {
    name: `name-${fields.id}`,
    domain_id: 'default',
    enabled: true,
    default_project_id: null,
    created_at: null,
    last_active_at: null,
    extra: {},
    options: {},
    password_expires_at: null,
    ...fields,
  };
}

describe('GET /v3/users body written as text (userListJson)', () => {
  const users: User[] = [
    user({ id: 'a1' }),
    user({ id: 'a2', enabled: false, default_project_id: 'p1', password_expires_at: new Date(Date.UTC(2026, 10, 23, 1, 2, 3, 456)) }),
    user({ id: 'a3', default_project_id: '' }),
    user({ id: 'a4', options: { ignore_password_expiry: true, multi_factor_auth_rules: [['password', 'totp']] } }),
    user({ id: 'a5', options: { lock_password: null } }),
    // Hidden extra keys never show, and leave the user on the written path.
    user({ id: 'a6', extra: { password: 'secret', tenants: ['x'], groups: [], domains: [] } }),
    // Shown extra keys come first, and one named like an attribute keeps its place.
    user({ id: 'a7', extra: { email: 'a7@example.org', name: 'shadowed', links: { other: 'x' } } }),
    user({ id: 'a8', extra: { '1': 'numeric key', description: 'd' } }),
    // Strings JSON must escape, and non-ASCII as Python's ensure_ascii writes it.
    user({ id: 'a9', name: 'quote " backslash \\ tab \t' }),
    user({ id: 'b1', name: 'Zoë 名前 \u{1F600}', domain_id: 'dom\u00e9' }),
    user({ id: 'b2', name: 'lone \ud800 surrogate' }),
    user({ id: 'b 3/"odd"' }),
  ];

  it('equals the general rendering for every kind of user', () => {
    const ctx = context('domain_id=default');
    const written = userListJson(ctx, users, false, null);
    assert.equal(written, general(ctx, users, false, null));
    // The check is not vacuous: the hidden keys are gone and the shown ones rendered.
    assert.ok(!written.includes('secret'));
    assert.ok(written.includes('"email": "a7@example.org"'));
    assert.ok(written.includes('\\u00eb'));
    for (const single of users) assert.equal(userListJson(ctx, [single], false), general(ctx, [single], false), single.id);
  });

  it('equals it for an empty list, a truncated list and a paged list with a next link', () => {
    const ctx = context('limit=2&domain_id=d%20x');
    assert.equal(userListJson(ctx, [], false), general(ctx, [], false));
    assert.equal(userListJson(ctx, users.slice(0, 3), true), general(ctx, users.slice(0, 3), true));
    const page: Page = { limit: 2, size: 2, marker: null };
    const written = userListJson(ctx, users.slice(0, 2), true, page);
    assert.equal(written, general(ctx, users.slice(0, 2), true, page));
    assert.match(written, /"next": "http:\/\/127\.0\.0\.1:5000\/v3\/users\?limit=2&domain_id=d\+x&marker=a2"/);
    assert.equal(JSON.parse(written).users.length, 2);
  });
});

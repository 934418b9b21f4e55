import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { exportSPKI, SignJWT } from 'jose';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, client, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';
import { newSigningKey, startFakeIssuer, type FakeIssuer, type SigningKey } from '../support/jwt-issuer.js';

const AUDIENCE = 'https://keystone.example.test';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describeEachDatabase('Workload identity federation (/v4/federation, JWT login, token exchange)', (ctx) => {
  let server: TestServer;
  let issuer: FakeIssuer;
  let admin: string;
  let bot: { userId: string; projectId: string; token: string };
  let ghKey: SigningKey;
  const ids: Record<string, string> = {};

  const api = () => client(server.url, admin);
  const login = (idpId: string, jwt: string, mapping?: string, base = server.url) =>
    http(base, 'POST', `/v4/federation/identity_providers/${idpId}/jwt`, {
      headers: { Authorization: `bearer ${jwt}`, ...(mapping ? { 'openstack-mapping-name': mapping } : {}) },
    });
  const countRows = async (table: 'keystone_ts_token_attributes' | 'keystone_ts_workload_jti') =>
    Number((await server.service.db.kysely.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  /** A refusal: 401 with Keystone's body, no token, and no token attributes or jti recorded. */
  async function assertRefused(idpId: string, jwt: string, mapping?: string): Promise<void> {
    const before = [await countRows('keystone_ts_token_attributes'), await countRows('keystone_ts_workload_jti')];
    const res = await login(idpId, jwt, mapping);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.error.code, 401);
    assert.equal(res.json.error.title, 'Unauthorized');
    assert.equal(res.headers.get('x-subject-token'), null);
    assert.deepEqual([await countRows('keystone_ts_token_attributes'), await countRows('keystone_ts_workload_jti')], before);
  }

  const ghClaims = (extra: Record<string, unknown> = {}) => ({
    sub: 'repo:org/app:ref:refs/heads/main',
    aud: AUDIENCE,
    repository: 'org/app',
    repository_owner: 'org',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    event_name: 'push',
    actor: 'octocat',
    ...extra,
  });

  before(async function () {
    this.timeout(60_000);
    issuer = await startFakeIssuer();
    ghKey = await newSigningKey('RS256');
    issuer.publish('gh', [ghKey]);
    server = await startTestServer(ctx.db(), { 'workload_identity.jwks_refresh_interval': '1', 'workload_identity.max_jwt_size': '4096' });
    admin = (await adminLogin(server.url)).token;
    bot = await projectUserToken(server, `ci-bot-${ctx.kind}`, 'member');
    const idp = await api().post('/v4/federation/identity_providers', {
      identity_provider: {
        name: 'github',
        domain_id: 'default',
        preset: 'github-actions',
        bound_issuer: issuer.issuerUrl('gh'),
        oidc_discovery_url: `${issuer.issuerUrl('gh')}/.well-known/openid-configuration`,
        bound_audiences: [AUDIENCE],
        max_token_age: 600,
      },
    });
    assert.equal(idp.status, 201, idp.text);
    ids['gh'] = idp.json.identity_provider.id;
    const mapping = await api().post('/v4/federation/mappings', {
      mapping: {
        name: 'org-app',
        idp_id: ids['gh'],
        type: 'jwt',
        bound_subject: { glob: 'repo:org/app:*' },
        bound_claims: { repository: 'org/app', ref: { glob: 'refs/heads/*' }, event_name: ['push', 'workflow_dispatch'] },
        token_user_id: bot.userId,
        token_project_id: bot.projectId,
      },
    });
    assert.equal(mapping.status, 201, mapping.text);
    ids['gh-mapping'] = mapping.json.mapping.id;
  });
  after(async () => {
    await server?.close();
    await issuer?.close();
  });

  describe('identity providers and mappings', () => {
    it('renders Keystone-NG’s shapes with the preset’s defaults filled in', async () => {
      const shown = await api().get(`/v4/federation/identity_providers/${ids['gh']!}`);
      assert.equal(shown.status, 200);
      assert.deepEqual(shown.json.identity_provider.allowed_algorithms, ['RS256']);
      assert.equal(shown.json.identity_provider.bound_issuer, issuer.issuerUrl('gh'));
      assert.equal(shown.json.identity_provider.preset, 'github-actions');
      const listed = await api().get('/v4/federation/mappings?idp_id=' + ids['gh']!);
      assert.deepEqual(listed.json.mappings.map((m: { name: string }) => m.name), ['org-app']);
      assert.equal(listed.json.mappings[0].type, 'jwt');
      assert.equal(listed.json.mappings[0].domain_id, 'default');
    });

    it('refuses unsafe issuer settings with 400 and stores nothing', async () => {
      const before = (await api().get('/v4/federation/identity_providers')).json.identity_providers.length;
      const base = { name: 'bad', domain_id: 'default', bound_issuer: 'https://x.example', jwks_url: 'https://x.example/jwks', bound_audiences: [AUDIENCE] };
      for (const bad of [
        { allowed_algorithms: ['HS256'] },
        { allowed_algorithms: ['none'] },
        { jwks_url: 'http://issuer.example/jwks' },
        { bound_audiences: [] },
        { jwks_url: null, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
        { domain_id: 'no-such-domain' },
      ]) {
        const res = await api().post('/v4/federation/identity_providers', { identity_provider: { ...base, ...bad } });
        assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${res.text}`);
      }
      assert.equal((await api().get('/v4/federation/identity_providers')).json.identity_providers.length, before);
    });

    it('refuses a mapping naming an unknown token restriction, or a user of another domain', async () => {
      const restricted = await api().post('/v4/federation/mappings', {
        mapping: { name: 'restricted', idp_id: ids['gh'], token_user_id: bot.userId, token_project_id: bot.projectId, token_restriction_id: 'r1' },
      });
      assert.equal(restricted.status, 400, restricted.text);
      const domain = await api().post('/v3/domains', { domain: { name: `other-${ctx.kind}` } });
      const stranger = await server.service.providers.identity.createUser({ name: 'stranger', domain_id: domain.json.domain.id });
      const crossDomain = await api().post('/v4/federation/mappings', {
        mapping: { name: 'cross', idp_id: ids['gh'], token_user_id: stranger.id, token_project_id: bot.projectId },
      });
      assert.equal(crossDomain.status, 400, crossDomain.text);
      assert.equal((await api().get('/v4/federation/mappings')).json.mappings.length, 1);
    });

    it('is refused to a project member (403) and to no token (401)', async () => {
      const member = client(server.url, bot.token);
      assert.equal((await member.get('/v4/federation/identity_providers')).status, 403);
      assert.equal((await member.post('/v4/federation/mappings', { mapping: { name: 'x', idp_id: ids['gh'], token_user_id: bot.userId, token_project_id: bot.projectId } })).status, 403);
      assert.equal((await http(server.url, 'GET', '/v4/federation/identity_providers')).status, 401);
    });
  });

  describe('JWT login', () => {
    it('exchanges a GitHub Actions token for a project-scoped Keystone token', async () => {
      const jwt = await issuer.sign('gh', ghKey, ghClaims());
      const res = await login(ids['gh']!, jwt, 'org-app');
      assert.equal(res.status, 200, res.text);
      const token = res.headers.get('x-subject-token')!;
      assert.ok(token);
      assert.equal(res.json.token.user.id, bot.userId);
      assert.equal(res.json.token.project.id, bot.projectId);
      assert.deepEqual(res.json.token.methods, ['mapped']);
      const validated = await http(server.url, 'GET', '/v3/auth/tokens', { token: admin, subject: token });
      assert.equal(validated.status, 200, validated.text);
      assert.equal(validated.json.token.project.id, bot.projectId);
    });

    it('issues a restricted token (payload 11) when the mapping names a token restriction, enforced on later requests', async () => {
      const { assignments } = server.service.providers;
      const reader = (await assignments.findGlobalRoleByName('reader'))!;
      const restriction = await api().post('/v4/tokens/restrictions', {
        restriction: { domain_id: 'default', project_id: bot.projectId, allow_renew: false, allow_rescope: false, roles: [{ id: reader.id }], actions: ['identity:get_project'] },
      });
      assert.equal(restriction.status, 201, restriction.text);
      const elsewhere = await api().post('/v3/projects', { project: { name: `elsewhere-${ctx.kind}` } });
      const misfit = await api().post('/v4/federation/mappings', {
        mapping: { name: 'misfit', idp_id: ids['gh'], token_user_id: bot.userId, token_project_id: elsewhere.json.project.id, token_restriction_id: restriction.json.restriction.id },
      });
      assert.equal(misfit.status, 400, 'the restriction is for another project');
      const mapping = await api().post('/v4/federation/mappings', {
        mapping: {
          name: 'org-app-restricted', idp_id: ids['gh'], type: 'jwt', bound_claims: { repository: 'org/app' },
          token_user_id: bot.userId, token_project_id: bot.projectId, token_restriction_id: restriction.json.restriction.id,
        },
      });
      assert.equal(mapping.status, 201, mapping.text);
      try {
        const res = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims()), 'org-app-restricted');
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json.token.roles.map((r: { name: string }) => r.name), ['reader'], 'the restriction’s roles the user holds');
        const restricted = client(server.url, res.headers.get('x-subject-token')!);
        assert.equal((await restricted.get(`/v3/projects/${bot.projectId}`)).status, 200);
        const refused = await restricted.get(`/v3/users/${bot.userId}/projects`);
        assert.equal(refused.status, 403, refused.text);
        assert.equal(refused.json.error.violations[0].field, 'credentials.restriction.actions');
      } finally {
        assert.equal((await api().del(`/v4/federation/mappings/${mapping.json.mapping.id}`)).status, 204);
      }
    });

    it('chooses the first matching mapping when none is named', async () => {
      const res = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims()));
      assert.equal(res.status, 200, res.text);
    });

    it('refuses every token that fails verification with 401 and issues nothing', async () => {
      const gh = ids['gh']!;
      const now = Math.floor(Date.now() / 1000);
      const otherKey = await newSigningKey('RS256', ghKey.kid);
      // Signed by a key the issuer does not publish, under the published kid.
      await assertRefused(gh, await issuer.sign('gh', otherKey, ghClaims()), 'org-app');
      // Algorithm confusion: HS256 with the issuer's public key as the HMAC secret.
      const pem = await exportSPKI(ghKey.publicKey);
      const hs = await new SignJWT({ ...ghClaims(), iss: issuer.issuerUrl('gh'), iat: now, exp: now + 300, jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256', kid: ghKey.kid })
        .sign(new TextEncoder().encode(pem));
      await assertRefused(gh, hs, 'org-app');
      // alg none, unsigned.
      const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...ghClaims(), iss: issuer.issuerUrl('gh'), iat: now, exp: now + 300, jti: randomUUID() })}.`;
      await assertRefused(gh, none, 'org-app');
      // Wrong issuer, wrong audience, expired, not yet valid, too old, no jti.
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ iss: 'https://token.actions.githubusercontent.com' })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ aud: 'https://someone-else.example' })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ iat: now - 400, exp: now - 100 })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ nbf: now + 600, exp: now + 900 })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ iat: now - 3600, exp: now + 300 })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ jti: undefined })), 'org-app');
      // Oversized (max_jwt_size 4096 here).
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ padding: 'x'.repeat(5000) })), 'org-app');
      // Not GitHub's shape (sub does not name the repository), and claims no mapping accepts.
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ sub: 'repo:evil/app:ref:refs/heads/main' })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ repository: 'org/other', sub: 'repo:org/other:ref:refs/heads/main' })), 'org-app');
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims({ event_name: 'pull_request' })));
      await assertRefused(gh, await issuer.sign('gh', ghKey, ghClaims()), 'no-such-mapping');
      // No bearer at all.
      const bare = await http(server.url, 'POST', `/v4/federation/identity_providers/${gh}/jwt`);
      assert.equal(bare.status, 401);
    });

    it('refuses a replayed jti, in this process and in another one on the same database', async () => {
      const jwt = await issuer.sign('gh', ghKey, ghClaims());
      assert.equal((await login(ids['gh']!, jwt, 'org-app')).status, 200);
      await assertRefused(ids['gh']!, jwt, 'org-app');
      const second = await startTestServer(ctx.db(), { 'workload_identity.jwks_refresh_interval': '1' }, { shareKeysWith: server });
      try {
        const replay = await login(ids['gh']!, jwt, 'org-app', second.url);
        assert.equal(replay.status, 401);
        const fresh = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims()), 'org-app', second.url);
        assert.equal(fresh.status, 200, fresh.text);
        // A mapping disabled through this process stops logins at the other one, whose cached
        // copy the database's change notification drops.
        assert.equal((await api().put(`/v4/federation/mappings/${ids['gh-mapping']!}`, { mapping: { enabled: false } })).status, 200);
        try {
          let status = 200;
          for (let i = 0; i < 50 && status === 200; i++) {
            status = (await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims()), 'org-app', second.url)).status;
            if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100));
          }
          assert.equal(status, 401);
        } finally {
          assert.equal((await api().put(`/v4/federation/mappings/${ids['gh-mapping']!}`, { mapping: { enabled: true } })).status, 200);
        }
      } finally {
        await second.close();
      }
    });

    it('follows a key rotation: an unknown kid refreshes the JWKS, at most once per interval', async function () {
      this.timeout(10_000);
      const rotated = await newSigningKey('RS256');
      issuer.publish('gh', [rotated]);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const fetchesBefore = issuer.jwksFetches('gh');
      const first = await login(ids['gh']!, await issuer.sign('gh', rotated, ghClaims()), 'org-app');
      assert.equal(first.status, 200, first.text);
      assert.equal(issuer.jwksFetches('gh'), fetchesBefore + 1);
      // Rotated again at once: within the interval the unknown kid does not fetch, and is refused.
      const again = await newSigningKey('RS256');
      issuer.publish('gh', [again, rotated]);
      await assertRefused(ids['gh']!, await issuer.sign('gh', again, ghClaims()), 'org-app');
      assert.equal(issuer.jwksFetches('gh'), fetchesBefore + 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const later = await login(ids['gh']!, await issuer.sign('gh', again, ghClaims()), 'org-app');
      assert.equal(later.status, 200, later.text);
      assert.equal(issuer.jwksFetches('gh'), fetchesBefore + 2);
      ghKey = again;
    });

    it('applies a configuration change at once, without a restart', async () => {
      const jwt = await issuer.sign('gh', ghKey, ghClaims());
      const changed = await api().put(`/v4/federation/identity_providers/${ids['gh']!}`, { identity_provider: { bound_audiences: ['https://elsewhere.example'] } });
      assert.equal(changed.status, 200, changed.text);
      try {
        await assertRefused(ids['gh']!, jwt, 'org-app');
      } finally {
        await api().put(`/v4/federation/identity_providers/${ids['gh']!}`, { identity_provider: { bound_audiences: [AUDIENCE] } });
      }
      assert.equal((await login(ids['gh']!, jwt, 'org-app')).status, 200);
    });
  });

  describe('presets', () => {
    async function presetIssuer(prefix: string, preset: string, keys: Record<string, unknown>, mapping: Record<string, unknown>): Promise<string> {
      const idp = await api().post('/v4/federation/identity_providers', {
        identity_provider: { name: prefix, domain_id: 'default', preset, bound_issuer: issuer.issuerUrl(prefix), bound_audiences: [AUDIENCE], ...keys },
      });
      assert.equal(idp.status, 201, idp.text);
      const created = await api().post('/v4/federation/mappings', {
        mapping: { name: `${prefix}-binding`, idp_id: idp.json.identity_provider.id, token_user_id: bot.userId, token_project_id: bot.projectId, ...mapping },
      });
      assert.equal(created.status, 201, created.text);
      return idp.json.identity_provider.id as string;
    }

    async function simulate(idpId: string, jwt: string) {
      const res = await api().post(`/v4/federation/identity_providers/${idpId}/simulate`, { jwt });
      assert.equal(res.status, 200, res.text);
      return res.json.simulation;
    }

    it('GitLab CI (inline JWKS): project_path and ref reach the attributes; a token of another shape is refused', async () => {
      const key = await newSigningKey('RS256');
      const id = await presetIssuer('gl', 'gitlab-ci', { jwks: { keys: [key.publicJwk] } }, { bound_claims: { project_path: 'group/app', ref_protected: 'true' } });
      const claims = {
        sub: 'project_path:group/app:ref_type:branch:ref:main', aud: AUDIENCE, project_path: 'group/app', namespace_path: 'group',
        ref: 'main', ref_type: 'branch', ref_protected: 'true', pipeline_source: 'push', user_login: 'dev',
      };
      const jwt = await issuer.sign('gl', key, claims);
      const sim = await simulate(id, jwt);
      assert.equal(sim.matched, 'gl-binding');
      assert.equal(sim.would_issue.attributes.project_path, 'group/app');
      assert.equal(sim.would_issue.attributes.ref, 'main');
      assert.equal((await login(id, jwt)).status, 200);
      await assertRefused(id, await issuer.sign('gl', key, { ...claims, sub: 'project_path:other/app:ref_type:branch:ref:main' }));
    });

    it('Kubernetes (the cluster’s OIDC discovery): namespace and service account from kubernetes.io', async () => {
      const key = await newSigningKey('ES256');
      issuer.publish('k8s', [key]);
      const id = await presetIssuer('k8s', 'kubernetes', { oidc_discovery_url: `${issuer.issuerUrl('k8s')}/.well-known/openid-configuration` }, {
        bound_claims: { 'kubernetes.io.namespace': 'ci', 'kubernetes.io.serviceaccount.name': { glob: 'deployer-*' } },
      });
      const claims = {
        sub: 'system:serviceaccount:ci:deployer-1', aud: [AUDIENCE],
        'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'deployer-1', uid: randomUUID() }, pod: { name: 'job-abc', uid: randomUUID() } },
      };
      const jwt = await issuer.sign('k8s', key, claims);
      const sim = await simulate(id, jwt);
      assert.equal(sim.matched, 'k8s-binding');
      assert.deepEqual(sim.would_issue.attributes, { sub: claims.sub, 'kubernetes.io.namespace': 'ci', 'kubernetes.io.serviceaccount.name': 'deployer-1', 'kubernetes.io.pod.name': 'job-abc' });
      assert.equal((await login(id, jwt)).status, 200);
      await assertRefused(id, await issuer.sign('k8s', key, { ...claims, sub: 'system:serviceaccount:kube-system:deployer-1' }));
    });

    it('SPIFFE JWT-SVIDs (jwks_url): the SPIFFE ID as subject', async () => {
      const key = await newSigningKey('ES384');
      issuer.publish('spiffe', [key]);
      const id = await presetIssuer('spiffe', 'spiffe', { jwks_url: `${issuer.issuerUrl('spiffe')}/jwks` }, { bound_subject: { glob: 'spiffe://example.org/ns/ci/*' } });
      const jwt = await issuer.sign('spiffe', key, { sub: 'spiffe://example.org/ns/ci/sa/deployer', aud: [AUDIENCE] });
      assert.equal((await login(id, jwt)).status, 200);
      await assertRefused(id, await issuer.sign('spiffe', key, { sub: 'not-a-spiffe-id', aud: [AUDIENCE] }));
    });

    it('PEM keys (Keystone-NG’s jwt_validation_pubkeys)', async () => {
      const old = await newSigningKey('RS256');
      const key = await newSigningKey('RS256');
      const id = await presetIssuer('pem', 'github-actions', { jwt_validation_pubkeys: [await exportSPKI(old.publicKey), await exportSPKI(key.publicKey)] }, {});
      const claims = { ...ghClaims(), iss: issuer.issuerUrl('pem') };
      assert.equal((await login(id, await issuer.sign('pem', key, claims))).status, 200);
      assert.equal((await login(id, await issuer.sign('pem', old, claims))).status, 200);
      await assertRefused(id, await issuer.sign('pem', await newSigningKey('RS256'), claims));
    });
  });

  describe('shadow users', () => {
    let groupId: string;
    before(async () => {
      const group = await api().post('/v3/groups', { group: { name: `ci-workloads-${ctx.kind}`, domain_id: 'default' } });
      groupId = group.json.group.id;
      const member = (await api().get('/v3/roles?name=member')).json.roles[0].id as string;
      assert.equal((await api().put(`/v3/projects/${bot.projectId}/groups/${groupId}/roles/${member}`)).status, 204);
      const mapping = await api().post('/v4/federation/mappings', {
        mapping: { name: 'per-actor', idp_id: ids['gh'], position: 1000, bound_claims: { repository: 'org/app' }, shadow_user: { name_claim: 'actor', group_id: groupId }, token_project_id: bot.projectId },
      });
      assert.equal(mapping.status, 201, mapping.text);
      assert.deepEqual(mapping.json.mapping.shadow_user, { name_claim: 'actor', group_id: groupId });
    });

    it('creates one passwordless user per actor at its first login, with the group’s roles', async () => {
      const { identity } = server.service.providers;
      const dry = await api().post(`/v4/federation/identity_providers/${ids['gh']!}/simulate`, { claims: ghClaims({ actor: 'newbie' }), mapping_name: 'per-actor' });
      assert.deepEqual(dry.json.simulation.would_issue.user, { name: 'github/newbie', domain_id: 'default', created: true });
      assert.equal(await identity.findUserByName('github/newbie', 'default'), undefined);
      const first = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims({ actor: 'newbie' })), 'per-actor');
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.token.user.name, 'github/newbie');
      assert.deepEqual(first.json.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
      const second = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims({ actor: 'newbie' })), 'per-actor');
      assert.equal(second.json.token.user.id, first.json.token.user.id);
      // No password: the password method cannot log it in.
      const password = await http(server.url, 'POST', '/v3/auth/tokens', {
        body: { auth: { identity: { methods: ['password'], password: { user: { id: first.json.token.user.id, password: 'anything' } } } } },
      });
      assert.equal(password.status, 401);
    });

    it('never takes over an existing user of the same name', async () => {
      await server.service.providers.identity.createUser({ name: 'github/mallory', domain_id: 'default', password: 'local-Passw0rd' });
      await assertRefused(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims({ actor: 'mallory' })), 'per-actor');
    });

    it('refuses a mapping with both a user and a shadow user, or a group of another domain', async () => {
      const both = await api().post('/v4/federation/mappings', {
        mapping: { name: 'both', idp_id: ids['gh'], token_user_id: bot.userId, shadow_user: { group_id: groupId }, token_project_id: bot.projectId },
      });
      assert.equal(both.status, 400, both.text);
      const neither = await api().post('/v4/federation/mappings', { mapping: { name: 'neither', idp_id: ids['gh'], token_project_id: bot.projectId } });
      assert.equal(neither.status, 400, neither.text);
      const domain = await api().post('/v3/domains', { domain: { name: `shadow-other-${ctx.kind}` } });
      const foreign = await api().post('/v3/groups', { group: { name: 'foreign', domain_id: domain.json.domain.id } });
      const cross = await api().post('/v4/federation/mappings', {
        mapping: { name: 'cross-group', idp_id: ids['gh'], shadow_user: { group_id: foreign.json.group.id }, token_project_id: bot.projectId },
      });
      assert.equal(cross.status, 400, cross.text);
    });
  });

  it('purges spent jti and attributes once their tokens expired', async () => {
    const store = server.service.providers.workloadStore;
    const past = new Date(Date.now() - 60_000);
    assert.equal(await store.spendJti({ issuerId: ids['gh']!, jti: `old-${randomUUID()}`, expiresAt: past, now: new Date() }, { auditId: `a-${randomUUID().slice(0, 20)}`, values: {}, expiresAt: past }), true);
    const before = [await countRows('keystone_ts_token_attributes'), await countRows('keystone_ts_workload_jti')];
    assert.equal(await store.purgeExpired(new Date()), 2);
    assert.deepEqual([await countRows('keystone_ts_token_attributes'), await countRows('keystone_ts_workload_jti')], [before[0]! - 1, before[1]! - 1]);
  });

  describe('dry run', () => {
    it('explains with claims which mapping matches and why the others do not, and issues nothing', async () => {
      const second = await api().post('/v4/federation/mappings', {
        mapping: { name: 'releases', idp_id: ids['gh'], position: 0, bound_claims: { ref: { glob: 'refs/tags/v*' } }, token_user_id: bot.userId, token_project_id: bot.projectId },
      });
      assert.equal(second.status, 201, second.text);
      try {
        const before = await countRows('keystone_ts_token_attributes');
        const res = await api().post(`/v4/federation/identity_providers/${ids['gh']!}/simulate`, { claims: ghClaims({ ref: 'refs/heads/feature' }) });
        assert.equal(res.status, 200, res.text);
        const sim = res.json.simulation;
        assert.equal(sim.verified, false);
        assert.equal(sim.matched, 'org-app');
        assert.equal(sim.would_issue.user.id, bot.userId);
        assert.equal(sim.would_issue.project.id, bot.projectId);
        assert.equal(sim.would_issue.attributes.ref, 'refs/heads/feature');
        const releases = sim.bindings.find((b: { name: string }) => b.name === 'releases');
        assert.equal(releases.matched, false);
        assert.match(releases.reasons[0], /^ref is "refs\/heads\/feature", matching none of \["refs\/tags\/v\*"\]/);
        assert.equal(await countRows('keystone_ts_token_attributes'), before);
      } finally {
        await api().del(`/v4/federation/mappings/${second.json.mapping.id as string}`);
      }
    });

    it('verifies a JWT without spending its jti', async () => {
      const jwt = await issuer.sign('gh', ghKey, ghClaims());
      const res = await api().post(`/v4/federation/identity_providers/${ids['gh']!}/simulate`, { jwt, mapping_name: 'org-app' });
      assert.equal(res.json.simulation.verified, true);
      assert.equal(res.json.simulation.matched, 'org-app');
      assert.equal((await login(ids['gh']!, jwt, 'org-app')).status, 200);
      const bad = await api().post(`/v4/federation/identity_providers/${ids['gh']!}/simulate`, { jwt: await issuer.sign('gh', ghKey, ghClaims({ aud: 'x' })) });
      assert.equal(bad.json.simulation.verified, false);
      assert.match(bad.json.simulation.reason, /aud/);
    });
  });

  describe('attributes in later policy decisions', () => {
    it('a rule reads credentials.attributes: only refs/heads/main of org/app may update the project', async function () {
      this.timeout(20_000);
      const system = (await adminLogin(server.url, { system: { all: true } })).token;
      const upload = await client(server.url, system).put('/v4/policy/bundles/default', {
        rules: { 'identity:update_project': 'rule:admin_required or (role:member and project_id:%(target.project.id)s and attributes.repository:org/app and attributes.ref:refs/heads/main)' },
      });
      assert.equal(upload.status, 201, upload.text);
      const tokenFor = async (ref: string) => {
        const res = await login(ids['gh']!, await issuer.sign('gh', ghKey, ghClaims({ ref })), 'org-app');
        assert.equal(res.status, 200, res.text);
        return res.headers.get('x-subject-token')!;
      };
      let lastDecision = '';
      const decide = async (token: string) => {
        const res = await http(server.url, 'POST', '/v4/authz/decision', { token, body: { action: 'identity:update_project', target: { project: { id: bot.projectId } } } });
        assert.equal(res.status, 200, res.text);
        lastDecision = res.text;
        return res.json.allow as boolean;
      };
      const main = await tokenFor('refs/heads/main');
      // The bundle reaches the policy holder through the database's notification.
      for (let i = 0; i < 50 && !(await decide(main)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await decide(main), true, lastDecision);
      assert.equal(await decide(await tokenFor('refs/heads/feature')), false);
      // The password token of the same user holds the same roles but no attributes.
      assert.equal(await decide(bot.token), false);
      // The exchange's token (RFC 8693) carries them too.
      const exchanged = await http(server.url, 'POST', '/v4/oauth2/token', {
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          subject_token: await issuer.sign('gh', ghKey, ghClaims()),
          openstack_mapping: 'org-app',
        }).toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(exchanged.status, 200, exchanged.text);
      assert.equal(exchanged.json.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(exchanged.json.access_token, exchanged.headers.get('x-subject-token'));
      assert.equal(exchanged.json.token.project.id, bot.projectId);
      assert.equal(await decide(exchanged.headers.get('x-subject-token')!), true);
    });

    it('token exchange refuses other subject token types and bad JWTs with RFC 8693’s invalid_request (400)', async () => {
      const form = (fields: Record<string, string>) =>
        http(server.url, 'POST', '/v4/oauth2/token', { body: new URLSearchParams(fields).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      const grant = 'urn:ietf:params:oauth:grant-type:token-exchange';
      const wrongType = await form({ grant_type: grant, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2', subject_token: 'x' });
      assert.equal(wrongType.status, 400);
      const expired = await form({
        grant_type: grant,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        subject_token: await issuer.sign('gh', ghKey, ghClaims({ iat: Math.floor(Date.now() / 1000) - 400, exp: Math.floor(Date.now() / 1000) - 100 })),
      });
      // RFC 8693 section 2.2.2: an invalid subject token is an invalid_request, with Keystone's reason.
      assert.equal(expired.status, 400, expired.text);
      assert.equal(expired.json.error, 'invalid_request');
      assert.equal(typeof expired.json.error_description, 'string');
      assert.equal(expired.headers.get('x-subject-token'), null);
    });
  });
});

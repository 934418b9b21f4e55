import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { describeEachDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, adminLogin, assertDenied, client, http, passwordAuth, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

const FED = '/v3/OS-FEDERATION';

/** The tempest plugin's fixtures.mapping_ref(). */
function mappingRef(): { rules: unknown[] } {
  return {
    rules: [
      {
        local: [{ user: { name: '{0}' } }, { group_ids: '{1}' }],
        remote: [{ type: 'openstack_username' }, { type: 'group_ids', whitelist: ['abc', '123'] }],
      },
    ],
  };
}

describeEachDatabase('/v3/OS-FEDERATION identity providers, protocols, mappings, service providers', (ctx) => {
  let server: TestServer;
  let base: string;
  let admin: string;
  let member: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    base = server.url;
    admin = (await adminLogin(base)).token;
    member = (await projectUserToken(server, 'fed-member', 'member')).token;
  });
  after(async () => server?.close());

  const as = (token: string) => client(base, token);


  async function domainCount(): Promise<number> {
    return (await as(admin).get('/v3/domains')).json.domains.length;
  }

  describe('identity providers', () => {
    it('go with their deleted domain, as Keystone deletes them on DOMAIN_DELETED; workload issuers too', async () => {
      const a = as(admin);
      const domain = (await a.post('/v3/domains', { domain: { name: 'fed-doomed' } })).json.domain.id as string;
      assert.equal((await a.put(`${FED}/identity_providers/doomed-idp`, { identity_provider: { domain_id: domain } })).status, 201);
      assert.equal((await a.put(`${FED}/identity_providers/kept-idp`, { identity_provider: {} })).status, 201);
      const issuer = await a.post('/v4/federation/identity_providers', {
        identity_provider: { name: 'doomed-ci', domain_id: domain, preset: 'github-actions', bound_issuer: 'https://issuer.example', jwks: { keys: [] }, bound_audiences: ['keystone'] },
      });
      assert.equal(issuer.status, 201, issuer.text);
      assert.equal((await a.patch(`/v3/domains/${domain}`, { domain: { enabled: false } })).status, 200);
      assert.equal((await a.del(`/v3/domains/${domain}`)).status, 204);
      assert.equal((await a.get(`${FED}/identity_providers/doomed-idp`)).status, 404);
      assert.equal((await a.get(`/v4/federation/identity_providers/${issuer.json.identity_provider.id}`)).status, 404);
      assert.equal((await a.get(`${FED}/identity_providers/kept-idp`)).status, 200, 'another domain’s provider stays');
      assert.equal((await a.del(`${FED}/identity_providers/kept-idp`)).status, 204);
    });

    it('creates with defaults and a new domain of its own, named after its id', async () => {
      const a = as(admin);
      const res = await a.put(`${FED}/identity_providers/acme`, { identity_provider: { description: 'ACME' } });
      assert.equal(res.status, 201, res.text);
      const idp = res.json.identity_provider;
      assert.deepEqual(Object.keys(idp), ['id', 'domain_id', 'enabled', 'description', 'remote_ids', 'authorization_ttl', 'links']);
      assert.equal(idp.id, 'acme');
      assert.equal(idp.enabled, false);
      assert.deepEqual(idp.remote_ids, []);
      assert.equal(idp.authorization_ttl, null);
      assert.match(idp.domain_id, /^[0-9a-f]{32}$/);
      assert.deepEqual(idp.links, {
        self: `${base}/v3/OS-FEDERATION/identity_providers/acme`,
        protocols: `${base}/v3/OS-FEDERATION/identity_providers/acme/protocols`,
      });
      const domain = (await a.get(`/v3/domains/${idp.domain_id}`)).json.domain;
      assert.equal(domain.name, idp.domain_id);
      assert.equal(domain.description, 'Auto generated federated domain for Identity Provider: acme');
      assert.equal(domain.enabled, true);

      const got = await a.get(`${FED}/identity_providers/acme`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.identity_provider, idp);
      const head = await a.head(`${FED}/identity_providers/acme`);
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
    });

    it('takes enabled, remote ids (sorted), authorization_ttl and an existing domain', async () => {
      const a = as(admin);
      const before = await domainCount();
      const res = await a.put(`${FED}/identity_providers/corp`, {
        identity_provider: { enabled: true, remote_ids: ['https://idp.corp/z', 'https://idp.corp/a'], domain_id: 'default', authorization_ttl: 60 },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json.identity_provider.enabled, true);
      assert.equal(res.json.identity_provider.domain_id, 'default');
      assert.equal(res.json.identity_provider.authorization_ttl, 60);
      assert.equal(res.json.identity_provider.description, null);
      assert.deepEqual(res.json.identity_provider.remote_ids, ['https://idp.corp/a', 'https://idp.corp/z']);
      assert.equal(await domainCount(), before, 'no domain made when one is given');
    });

    it('refuses a duplicate id or a remote id of another provider (409) and leaves no domain behind', async () => {
      const a = as(admin);
      const before = await domainCount();
      const dup = await a.put(`${FED}/identity_providers/acme`, { identity_provider: {} });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store identity_provider - Duplicate entry: acme.');
      const taken = await a.put(`${FED}/identity_providers/other`, { identity_provider: { remote_ids: ['https://idp.corp/z'] } });
      assert.equal(taken.status, 409);
      assert.equal(taken.json.error.message, 'Conflict occurred attempting to store identity_provider - Duplicate remote ID: https://idp.corp/z.');
      assert.equal(await domainCount(), before);
      assert.equal((await a.get(`${FED}/identity_providers/other`)).status, 404);
      const patched = await a.patch(`${FED}/identity_providers/acme`, { identity_provider: { remote_ids: ['https://idp.corp/a'] } });
      assert.equal(patched.status, 409);
      assert.equal(patched.json.error.message, 'Conflict occurred attempting to store identity_provider - Duplicate remote ID: https://idp.corp/a.');
    });

    it('answers 404 for an unknown provider or domain, 400 for bodies Keystone’s schema refuses', async () => {
      const a = as(admin);
      const missing = await a.get(`${FED}/identity_providers/nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.json, { error: { code: 404, message: 'Could not find Identity Provider: nope.', title: 'Not Found' } });
      assert.equal((await a.patch(`${FED}/identity_providers/nope`, { identity_provider: { enabled: true } })).status, 404);
      assert.equal((await a.del(`${FED}/identity_providers/nope`)).status, 404);
      const noDomain = await a.put(`${FED}/identity_providers/lost`, { identity_provider: { domain_id: 'nowhere' } });
      assert.equal(noDomain.status, 404);
      assert.equal(noDomain.json.error.message, 'Could not find domain: nowhere.');

      const unknown = await a.put(`${FED}/identity_providers/bad`, { identity_provider: { name: 'x' } });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.json.error.message, "Invalid input for field 'identity_provider': Additional properties are not allowed ('name' was unexpected)");
      assert.equal((await a.put(`${FED}/identity_providers/bad`, { identity_provider: {}, extra: 1 })).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/bad`, { identity_provider: { remote_ids: ['a', 'a'] } })).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/bad`, { identity_provider: { authorization_ttl: -1 } })).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/bad`, { identity_provider: { enabled: 'maybe' } })).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/bad`, { identity_provider: { domain_id: 'not a domain id' } })).status, 400);
      const domainChange = await a.patch(`${FED}/identity_providers/acme`, { identity_provider: { domain_id: 'default' } });
      assert.equal(domainChange.status, 400);
      assert.equal((await a.patch(`${FED}/identity_providers/acme`, { identity_provider: {} })).status, 400);
      assert.equal((await a.patch(`${FED}/identity_providers/acme`, {})).status, 400);
      assert.equal((await a.get(`${FED}/identity_providers/bad`)).status, 404, 'nothing stored');
    });

    it('updates enabled, description, remote ids and authorization_ttl', async () => {
      const a = as(admin);
      const res = await a.patch(`${FED}/identity_providers/corp`, {
        identity_provider: { enabled: false, description: 'Corp', remote_ids: ['https://idp.corp/new'], authorization_ttl: null },
      });
      assert.equal(res.status, 200, res.text);
      const idp = res.json.identity_provider;
      assert.equal(idp.enabled, false);
      assert.equal(idp.description, 'Corp');
      assert.deepEqual(idp.remote_ids, ['https://idp.corp/new']);
      assert.equal(idp.authorization_ttl, null);
      assert.equal(idp.domain_id, 'default');
      assert.deepEqual((await a.get(`${FED}/identity_providers/corp`)).json.identity_provider, idp);
      // The old remote id is free again.
      const reuse = await a.put(`${FED}/identity_providers/reuser`, { identity_provider: { remote_ids: ['https://idp.corp/z'], domain_id: 'default' } });
      assert.equal(reuse.status, 201, reuse.text);
      // Keystone's boolean strings.
      const enabled = await a.patch(`${FED}/identity_providers/reuser`, { identity_provider: { enabled: 'true' } });
      assert.equal(enabled.json.identity_provider.enabled, true);
      assert.equal((await a.patch(`${FED}/identity_providers/reuser`, { identity_provider: { remote_ids: null } })).json.identity_provider.remote_ids.length, 0);
    });

    it('lists with the id and enabled filters and Keystone’s envelope', async () => {
      const a = as(admin);
      const all = await a.get(`${FED}/identity_providers`);
      assert.equal(all.status, 200);
      assert.deepEqual(all.json.identity_providers.map((i: { id: string }) => i.id).sort(), ['acme', 'corp', 'reuser']);
      assert.deepEqual(all.json.links, { next: null, self: `${base}/v3/OS-FEDERATION/identity_providers`, previous: null });
      assert.deepEqual(all.json.identity_providers[0].links.protocols, `${all.json.identity_providers[0].links.self}/protocols`);
      const enabled = await a.get(`${FED}/identity_providers?enabled=true`);
      assert.deepEqual(enabled.json.identity_providers.map((i: { id: string }) => i.id), ['reuser']);
      assert.equal(enabled.json.links.self, `${base}/v3/OS-FEDERATION/identity_providers?enabled=true`);
      const disabled = await a.get(`${FED}/identity_providers?enabled=0`);
      assert.deepEqual(disabled.json.identity_providers.map((i: { id: string }) => i.id).sort(), ['acme', 'corp']);
      const byId = await a.get(`${FED}/identity_providers?id=corp`);
      assert.deepEqual(byId.json.identity_providers.map((i: { id: string }) => i.id), ['corp']);
      const ignored = await a.get(`${FED}/identity_providers?description=Corp`);
      assert.equal(ignored.json.identity_providers.length, 3, 'only id and enabled are honoured');
    });
  });

  describe('mappings', () => {
    it('creates with the default schema_version, shows, lists and updates', async () => {
      const a = as(admin);
      const res = await a.put(`${FED}/mappings/tempest`, { mapping: mappingRef() });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.json.mapping, { id: 'tempest', rules: mappingRef().rules, schema_version: '1.0', links: { self: `${base}/v3/OS-FEDERATION/mappings/tempest` } });
      assert.deepEqual((await a.get(`${FED}/mappings/tempest`)).json.mapping, res.json.mapping);
      assert.equal((await a.head(`${FED}/mappings/tempest`)).status, 200);

      const v2 = await a.put(`${FED}/mappings/v2`, {
        mapping: { schema_version: '2.0', rules: [{ local: [{ projects: [{ name: 'p', roles: [{ name: 'member' }], domain: { name: 'd' } }] }], remote: [{ type: 'x', any_one_of: ['a'], regex: true }] }] },
      });
      assert.equal(v2.status, 201, v2.text);
      assert.equal(v2.json.mapping.schema_version, '2.0');

      const list = await a.get(`${FED}/mappings`);
      assert.deepEqual(list.json.mappings.map((m: { id: string }) => m.id).sort(), ['tempest', 'v2']);
      assert.equal(list.json.links.self, `${base}/v3/OS-FEDERATION/mappings`);

      const rules = mappingRef().rules as { local: unknown[] }[];
      rules[0]!.local = [{ group: { id: 'g1' } }];
      const updated = await a.patch(`${FED}/mappings/v2`, { mapping: { rules } });
      assert.equal(updated.status, 200, updated.text);
      assert.deepEqual(updated.json.mapping.rules, rules);
      assert.equal(updated.json.mapping.schema_version, '1.0', 'Keystone fills in the default version on update too');
      assert.deepEqual((await a.get(`${FED}/mappings/v2`)).json.mapping, updated.json.mapping);
    });

    it('refuses bad rules with jsonschema’s messages, each on its line', async () => {
      const a = as(admin);
      const empty = await a.put(`${FED}/mappings/bad`, { mapping: {} });
      assert.equal(empty.status, 400);
      assert.equal(empty.json.error.message, "'rules' is a required property\n");
      const noBody = await a.put(`${FED}/mappings/bad`, {});
      assert.equal(noBody.json.error.message, "'rules' is a required property\n");
      const noRules = await a.put(`${FED}/mappings/bad`, { mapping: { rules: [] } });
      assert.equal(noRules.json.error.message, 'A list should be non-empty\n');
      const several = await a.put(`${FED}/mappings/bad`, {
        mapping: { rules: [{ local: [{ user: { name: 'x', type: 'robot' }, role: 'r' }], remote: [{ type: 'a', any_one_of: ['x'], not_any_of: ['y'] }] }] },
      });
      assert.equal(several.status, 400);
      assert.equal(
        several.json.error.message,
        "A string is not one of ['ephemeral', 'local']\n" +
          "Additional properties are not allowed ('role' was unexpected)\n" +
          'An object is not valid under any of the given schemas\n',
      );
      const missing = await a.put(`${FED}/mappings/bad`, { mapping: { rules: [{ local: 'x' }] } });
      assert.equal(missing.json.error.message, "'remote' is a required property\nA string is not of type 'array'\n");
      const group = await a.put(`${FED}/mappings/bad`, { mapping: { rules: [{ local: [{ group: { name: 'g' } }], remote: [{ type: 't' }] }] } });
      assert.equal(group.json.error.message, 'An object is not valid under any of the given schemas\n');
      const v1Domain = await a.put(`${FED}/mappings/bad`, { mapping: { rules: [{ local: [{ projects: [{ name: 'p', roles: [], domain: {} }] }], remote: [{ type: 't' }] }] } });
      assert.equal(v1Domain.json.error.message, "Additional properties are not allowed ('domain' was unexpected)\n", 'project domains need 2.0');
      const version = await a.put(`${FED}/mappings/bad`, { mapping: { ...mappingRef(), schema_version: '9.9' } });
      assert.equal(version.status, 400);
      assert.equal(version.json.error.message, 'Invalid schema_version: expected one of 1.0, 2.0, 3.0.');
      const secret = await a.put(`${FED}/mappings/bad`, { mapping: { rules: [{ local: [{ user: { name: 'hunter2-password' } }], remote: 'hunter2-password' }] } });
      assert.equal(secret.json.error.message, "A string is not of type 'array'\n");
      assert.equal(secret.text.includes('hunter2'), false, 'no value is echoed back');
      assert.equal((await a.put(`${FED}/mappings/bad`, { mapping: [] })).status, 400);
      assert.equal((await a.get(`${FED}/mappings/bad`)).status, 404, 'nothing stored');
      assert.equal((await a.patch(`${FED}/mappings/tempest`, { mapping: { rules: 'x' } })).json.error.message, "A string is not of type 'array'\n");
    });

    it('answers 409 for an existing id and 404 for an unknown one', async () => {
      const a = as(admin);
      const dup = await a.put(`${FED}/mappings/tempest`, { mapping: mappingRef() });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store mapping - Duplicate entry.');
      const missing = await a.get(`${FED}/mappings/nope`);
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.message, 'Could not find mapping: nope.');
      assert.equal((await a.patch(`${FED}/mappings/nope`, { mapping: mappingRef() })).status, 404);
      assert.equal((await a.del(`${FED}/mappings/nope`)).status, 404);
    });
  });

  describe('protocols', () => {
    it('adds a protocol with an existing mapping and renders it as Keystone does', async () => {
      const a = as(admin);
      const res = await a.put(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { mapping_id: 'tempest', remote_id_attribute: 'Shib-Identity-Provider' } });
      assert.equal(res.status, 201, res.text);
      // Keystone's filter_params keeps id, mapping_id and links; its links are built without the
      // OS-FEDERATION prefix (keystone/api/os_federation.py).
      assert.deepEqual(res.json.protocol, { id: 'saml2', mapping_id: 'tempest', links: { self: `${base}/v3/protocols/saml2`, identity_provider: `${base}/v3/acme` } });
      const got = await a.get(`${FED}/identity_providers/acme/protocols/saml2`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.json.protocol, res.json.protocol);
      assert.equal((await a.head(`${FED}/identity_providers/acme/protocols/saml2`)).status, 200);

      assert.equal((await a.put(`${FED}/identity_providers/acme/protocols/openid`, { protocol: { mapping_id: 'v2' } })).status, 201);
      const list = await a.get(`${FED}/identity_providers/acme/protocols`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.protocols, [
        { id: 'openid', idp_id: 'acme', mapping_id: 'v2', remote_id_attribute: null, links: { self: `${base}/v3/protocols/openid`, identity_provider: `${base}/v3/acme` } },
        { id: 'saml2', idp_id: 'acme', mapping_id: 'tempest', remote_id_attribute: 'Shib-Identity-Provider', links: { self: `${base}/v3/protocols/saml2`, identity_provider: `${base}/v3/acme` } },
      ]);
      assert.equal(list.json.links.self, `${base}/v3/OS-FEDERATION/identity_providers/acme/protocols`);
      const none = await a.get(`${FED}/identity_providers/nope/protocols`);
      assert.equal(none.status, 200, 'Keystone lists nothing for an unknown provider');
      assert.deepEqual(none.json.protocols, []);
    });

    it('updates the mapping and remote_id_attribute', async () => {
      const a = as(admin);
      const res = await a.patch(`${FED}/identity_providers/acme/protocols/openid`, { protocol: { mapping_id: 'tempest', remote_id_attribute: 'HTTP_OIDC_ISS' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.protocol.mapping_id, 'tempest');
      const listed = (await a.get(`${FED}/identity_providers/acme/protocols`)).json.protocols.find((p: { id: string }) => p.id === 'openid');
      assert.equal(listed.remote_id_attribute, 'HTTP_OIDC_ISS');
      assert.equal(listed.mapping_id, 'tempest');
    });

    it('refuses an unknown mapping (400), provider or protocol (404), a duplicate (409), bad bodies (400)', async () => {
      const a = as(admin);
      const unknownMapping = await a.put(`${FED}/identity_providers/acme/protocols/x`, { protocol: { mapping_id: 'nope' } });
      assert.equal(unknownMapping.status, 400);
      assert.equal(unknownMapping.json.error.message, 'Invalid mapping id: nope');
      const patchUnknown = await a.patch(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { mapping_id: 'nope' } });
      assert.equal(patchUnknown.status, 400);
      assert.equal(patchUnknown.json.error.message, 'Invalid mapping id: nope');
      const noIdp = await a.put(`${FED}/identity_providers/nope/protocols/x`, { protocol: { mapping_id: 'tempest' } });
      assert.equal(noIdp.status, 404);
      assert.equal(noIdp.json.error.message, 'Could not find Identity Provider: nope.');
      const noProtocol = await a.get(`${FED}/identity_providers/acme/protocols/nope`);
      assert.equal(noProtocol.status, 404);
      assert.equal(noProtocol.json.error.message, 'Could not find federated protocol nope for Identity Provider: acme.');
      assert.equal((await a.patch(`${FED}/identity_providers/acme/protocols/nope`, { protocol: { mapping_id: 'tempest' } })).status, 404);
      assert.equal((await a.del(`${FED}/identity_providers/acme/protocols/nope`)).status, 404);
      const dup = await a.put(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { mapping_id: 'tempest' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store federation_protocol - Duplicate entry found with ID saml2.');
      assert.equal((await a.put(`${FED}/identity_providers/acme/protocols/x`, { protocol: {} })).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/acme/protocols/x`, {})).status, 400);
      assert.equal((await a.put(`${FED}/identity_providers/acme/protocols/x`, { protocol: { mapping_id: 'tempest', other: 1 } })).status, 400);
      const nullAttr = await a.patch(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { mapping_id: 'tempest', remote_id_attribute: null } });
      assert.equal(nullAttr.status, 400, 'PATCH cannot null remote_id_attribute');
      assert.equal((await a.patch(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { remote_id_attribute: 'x' } })).status, 400, 'mapping_id is required');
    });

    it('deletes a protocol', async () => {
      const a = as(admin);
      assert.equal((await a.put(`${FED}/identity_providers/corp/protocols/gone`, { protocol: { mapping_id: 'tempest' } })).status, 201);
      assert.equal((await a.del(`${FED}/identity_providers/corp/protocols/gone`)).status, 204);
      assert.equal((await a.get(`${FED}/identity_providers/corp/protocols/gone`)).status, 404);
    });
  });

  describe('service providers', () => {
    const sp = (n: number) => ({ auth_url: `https://sp${n}.example.com/v3/OS-FEDERATION/identity_providers/acme/protocols/saml2/auth`, sp_url: `https://sp${n}.example.com/Shibboleth.sso/SAML2/ECP` });

    it('creates with defaults (disabled, [saml] relay_state_prefix) and renders Keystone’s body', async () => {
      const a = as(admin);
      const res = await a.put(`${FED}/service_providers/sp1`, { service_provider: { ...sp(1), description: 'one' } });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.json.service_provider, {
        ...sp(1),
        id: 'sp1',
        enabled: false,
        description: 'one',
        relay_state_prefix: 'ss:mem:',
        links: { self: `${base}/v3/OS-FEDERATION/service_providers/sp1` },
      });
      assert.deepEqual(Object.keys(res.json.service_provider), ['auth_url', 'id', 'enabled', 'description', 'relay_state_prefix', 'sp_url', 'links']);
      assert.deepEqual((await a.get(`${FED}/service_providers/sp1`)).json.service_provider, res.json.service_provider);
      assert.equal((await a.head(`${FED}/service_providers/sp1`)).status, 200);
      const custom = await a.put(`${FED}/service_providers/sp2`, { service_provider: { ...sp(2), enabled: true, relay_state_prefix: 'ss:custom:' } });
      assert.equal(custom.status, 201);
      assert.equal(custom.json.service_provider.enabled, true);
      assert.equal(custom.json.service_provider.relay_state_prefix, 'ss:custom:');
      assert.equal(custom.json.service_provider.description, null);
    });

    it('refuses missing or bad URLs and unknown fields (400), duplicates (409), unknown ids (404)', async () => {
      const a = as(admin);
      const missing = await a.put(`${FED}/service_providers/bad`, { service_provider: {} });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error.message, "Invalid input for field 'service_provider': 'auth_url' is a required property");
      const noMember = await a.put(`${FED}/service_providers/bad`, {});
      assert.equal(noMember.json.error.message, "'service_provider' is a required property");
      const badUrl = await a.put(`${FED}/service_providers/bad`, { service_provider: { ...sp(3), auth_url: 'd41d8cd98f00b204e9800998ecf8427e' } });
      assert.equal(badUrl.status, 400);
      assert.equal(badUrl.json.error.message, "Invalid input for field 'service_provider/auth_url': A string does not match '^[a-zA-Z0-9+.-]+:.+'");
      assert.equal((await a.put(`${FED}/service_providers/bad`, { service_provider: { ...sp(3), sp_url: 'no-scheme' } })).status, 400);
      assert.equal((await a.put(`${FED}/service_providers/bad`, { service_provider: { ...sp(3), auth_url: `https://${'x'.repeat(220)}` } })).status, 400, 'over 225 characters');
      assert.equal((await a.put(`${FED}/service_providers/bad`, { service_provider: { ...sp(3), name: 'x' } })).status, 400);
      assert.equal((await a.patch(`${FED}/service_providers/sp1`, { service_provider: { auth_url: 'not a url' } })).status, 400);
      assert.equal((await a.patch(`${FED}/service_providers/sp1`, { service_provider: {} })).status, 400);
      assert.equal((await a.get(`${FED}/service_providers/bad`)).status, 404);
      const dup = await a.put(`${FED}/service_providers/sp1`, { service_provider: sp(1) });
      assert.equal(dup.status, 409);
      assert.equal(dup.json.error.message, 'Conflict occurred attempting to store service_provider - Duplicate entry found with ID sp1.');
      const unknown = await a.get(`${FED}/service_providers/nope`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.error.message, 'Could not find Service Provider: nope.');
      assert.equal((await a.patch(`${FED}/service_providers/nope`, { service_provider: { enabled: true } })).status, 404);
      assert.equal((await a.del(`${FED}/service_providers/nope`)).status, 404);
    });

    it('updates, lists with filters and deletes', async () => {
      const a = as(admin);
      const res = await a.patch(`${FED}/service_providers/sp1`, { service_provider: { enabled: true, sp_url: 'https://sp1.example.com/new', description: null } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.service_provider.enabled, true);
      assert.equal(res.json.service_provider.sp_url, 'https://sp1.example.com/new');
      assert.equal(res.json.service_provider.description, null);
      assert.equal(res.json.service_provider.relay_state_prefix, 'ss:mem:');
      assert.deepEqual((await a.get(`${FED}/service_providers/sp1`)).json.service_provider, res.json.service_provider);

      assert.equal((await a.put(`${FED}/service_providers/sp3`, { service_provider: sp(3) })).status, 201);
      const all = await a.get(`${FED}/service_providers`);
      assert.deepEqual(all.json.service_providers.map((s: { id: string }) => s.id).sort(), ['sp1', 'sp2', 'sp3']);
      assert.equal(all.json.links.self, `${base}/v3/OS-FEDERATION/service_providers`);
      const disabled = await a.get(`${FED}/service_providers?enabled=false`);
      assert.deepEqual(disabled.json.service_providers.map((s: { id: string }) => s.id), ['sp3']);
      const byId = await a.get(`${FED}/service_providers?id=sp2`);
      assert.deepEqual(byId.json.service_providers.map((s: { id: string }) => s.id), ['sp2']);

      assert.equal((await a.del(`${FED}/service_providers/sp3`)).status, 204);
      assert.equal((await a.get(`${FED}/service_providers/sp3`)).status, 404);
    });

    it('lists the enabled ones in every token as service_providers, and none when none is enabled', async () => {
      const a = as(admin);
      assert.equal((await a.put(`${FED}/service_providers/sp4`, { service_provider: { ...sp(4), enabled: false } })).status, 201);
      const issued = await adminLogin(base);
      const expected = [
        { auth_url: sp(1).auth_url, id: 'sp1', sp_url: 'https://sp1.example.com/new' },
        { auth_url: sp(2).auth_url, id: 'sp2', sp_url: sp(2).sp_url },
      ];
      assert.deepEqual(issued.body.token.service_providers, expected);
      assert.deepEqual(Object.keys(issued.body.token).slice(-2), ['catalog', 'service_providers']);
      const validated = await http(base, 'GET', '/v3/auth/tokens?nocatalog', { token: admin, subject: issued.token });
      assert.deepEqual(validated.json.token.service_providers, expected);
      const unscoped = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD) });
      assert.equal(unscoped.status, 201);
      assert.equal('catalog' in unscoped.json.token, false);
      assert.deepEqual(unscoped.json.token.service_providers, expected);

      // A change reaches tokens validated before it (the rendering is cached until a change).
      assert.equal((await a.patch(`${FED}/service_providers/sp1`, { service_provider: { enabled: false } })).status, 200);
      const after = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: issued.token });
      assert.deepEqual(after.json.token.service_providers, [expected[1]]);
      assert.equal((await a.patch(`${FED}/service_providers/sp2`, { service_provider: { enabled: false } })).status, 200);
      const none = await http(base, 'GET', '/v3/auth/tokens', { token: admin, subject: issued.token });
      assert.equal('service_providers' in none.json.token, false);
      // Writes by other processes (or Python Keystone) reach this one's caches through the table's trigger.
      const triggers = await sql<{ tgname: string }>`
        SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = 'service_provider'`.execute(server.service.db.kysely);
      assert.deepEqual(triggers.rows.map((r) => r.tgname), ['keystone_ts_changes']);
    });
  });

  describe('policy', () => {
    it('refuses a project member every write and read (403 naming the rule)', async () => {
      const m = as(member);
      assertDenied(await m.get(`${FED}/identity_providers`), 'identity:list_identity_providers');
      assertDenied(await m.get(`${FED}/identity_providers/acme`), 'identity:get_identity_provider');
      assertDenied(await m.put(`${FED}/identity_providers/evil`, { identity_provider: {} }), 'identity:create_identity_provider');
      assertDenied(await m.patch(`${FED}/identity_providers/acme`, { identity_provider: { enabled: true } }), 'identity:update_identity_provider');
      assertDenied(await m.del(`${FED}/identity_providers/acme`), 'identity:delete_identity_provider');
      assertDenied(await m.get(`${FED}/identity_providers/acme/protocols`), 'identity:list_protocols');
      assertDenied(await m.get(`${FED}/identity_providers/acme/protocols/saml2`), 'identity:get_protocol');
      assertDenied(await m.put(`${FED}/identity_providers/acme/protocols/evil`, { protocol: { mapping_id: 'tempest' } }), 'identity:create_protocol');
      assertDenied(await m.patch(`${FED}/identity_providers/acme/protocols/saml2`, { protocol: { mapping_id: 'tempest' } }), 'identity:update_protocol');
      assertDenied(await m.del(`${FED}/identity_providers/acme/protocols/saml2`), 'identity:delete_protocol');
      assertDenied(await m.get(`${FED}/mappings`), 'identity:list_mappings');
      assertDenied(await m.get(`${FED}/mappings/tempest`), 'identity:get_mapping');
      assertDenied(await m.put(`${FED}/mappings/evil`, { mapping: mappingRef() }), 'identity:create_mapping');
      assertDenied(await m.patch(`${FED}/mappings/tempest`, { mapping: mappingRef() }), 'identity:update_mapping');
      assertDenied(await m.del(`${FED}/mappings/tempest`), 'identity:delete_mapping');
      assertDenied(await m.get(`${FED}/service_providers`), 'identity:list_service_providers');
      assertDenied(await m.get(`${FED}/service_providers/sp1`), 'identity:get_service_provider');
      assertDenied(await m.put(`${FED}/service_providers/evil`, { service_provider: { auth_url: 'https://a', sp_url: 'https://b' } }), 'identity:create_service_provider');
      assertDenied(await m.patch(`${FED}/service_providers/sp1`, { service_provider: { enabled: false } }), 'identity:update_service_provider');
      assertDenied(await m.del(`${FED}/service_providers/sp1`), 'identity:delete_service_provider');
      assert.equal((await http(base, 'GET', `${FED}/mappings`)).status, 401);
    });
  });

  describe('deleting an identity provider', () => {
    it('removes its protocols, remote ids and federated users, keeps its domain and other users', async () => {
      const a = as(admin);
      const created = await a.put(`${FED}/identity_providers/doomed`, { identity_provider: { remote_ids: ['https://doomed/idp'] } });
      assert.equal(created.status, 201);
      const domainId: string = created.json.identity_provider.domain_id;
      assert.equal((await a.put(`${FED}/identity_providers/doomed/protocols/openid`, { protocol: { mapping_id: 'tempest' } })).status, 201);

      // A shadow user as a federated login would leave it, with a mapped group membership.
      const db = server.service.db.kysely;
      await db.insertInto('user').values({ id: 'shadow-1', extra: '{}', enabled: true, default_project_id: null, created_at: new Date(), last_active_at: null, domain_id: domainId }).execute();
      await db.insertInto('federated_user').values({ user_id: 'shadow-1', idp_id: 'doomed', protocol_id: 'openid', unique_id: 'alice', display_name: 'alice' }).execute();
      await db.insertInto('group').values({ id: 'fed-group', domain_id: domainId, name: 'fed-group', description: null, extra: '{}' }).execute();
      await db.insertInto('expiring_user_group_membership').values({ user_id: 'shadow-1', group_id: 'fed-group', idp_id: 'doomed', last_verified: new Date() }).execute();
      await db.insertInto('user_group_membership').values({ user_id: 'shadow-1', group_id: 'fed-group' }).execute();

      assert.equal((await a.del(`${FED}/identity_providers/doomed`)).status, 204);
      assert.equal((await a.get(`${FED}/identity_providers/doomed`)).status, 404);
      assert.equal((await a.get(`${FED}/identity_providers/doomed/protocols/openid`)).status, 404);
      assert.equal((await db.selectFrom('federation_protocol').selectAll().where('idp_id', '=', 'doomed').execute()).length, 0);
      assert.equal((await db.selectFrom('idp_remote_ids').selectAll().where('remote_id', '=', 'https://doomed/idp').execute()).length, 0);
      assert.equal((await db.selectFrom('federated_user').selectAll().where('idp_id', '=', 'doomed').execute()).length, 0);
      assert.equal((await db.selectFrom('user').selectAll().where('id', '=', 'shadow-1').execute()).length, 0, 'the shadow user went');
      assert.equal((await db.selectFrom('user_group_membership').selectAll().where('user_id', '=', 'shadow-1').execute()).length, 0);
      assert.equal((await db.selectFrom('expiring_user_group_membership').selectAll().where('user_id', '=', 'shadow-1').execute()).length, 0);
      assert.equal((await a.get(`/v3/domains/${domainId}`)).status, 200, 'Keystone keeps the domain it made');
      assert.equal((await adminLogin(base)).token.length > 0, true, 'local users are untouched');
      // The remote id is free again.
      assert.equal((await a.put(`${FED}/identity_providers/reborn`, { identity_provider: { remote_ids: ['https://doomed/idp'], domain_id: domainId } })).status, 201);
    });

    it('deleting a protocol removes the users only it identified', async () => {
      const a = as(admin);
      assert.equal((await a.put(`${FED}/identity_providers/reborn/protocols/saml2`, { protocol: { mapping_id: 'tempest' } })).status, 201);
      const db = server.service.db.kysely;
      await db.insertInto('user').values({ id: 'shadow-2', extra: '{}', enabled: true, default_project_id: null, created_at: new Date(), last_active_at: null, domain_id: 'default' }).execute();
      await db.insertInto('federated_user').values({ user_id: 'shadow-2', idp_id: 'reborn', protocol_id: 'saml2', unique_id: 'bob', display_name: 'bob' }).execute();
      assert.equal((await a.del(`${FED}/identity_providers/reborn/protocols/saml2`)).status, 204);
      assert.equal((await db.selectFrom('user').selectAll().where('id', '=', 'shadow-2').execute()).length, 0);
      assert.equal((await a.get(`${FED}/identity_providers/reborn`)).status, 200, 'the provider stays');
    });
  });
});

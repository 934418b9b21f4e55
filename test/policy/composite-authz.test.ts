import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSchemaRegistry } from '../../src/api/validation.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createBundleStore } from '../../src/policy/bundles.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { casesForRule } from '../../src/policy/policy-cases.js';
import { eventually } from '../support/cli.js';
import { http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

/** A rule that needs the user's role and the calling service's role at once (spec's service_roles). */
const COMPOSITE = { 'identity:create_credential': 'role:member and service_roles:service' };

for (const engine of ['rego', 'cedar', 'oslo'] as const) {
  describe(`composite authorization with X-Service-Token, ${engine} engine`, () => {
    let db: Db;
    let server: TestServer;
    let logFile: string;
    let member: string;
    let service: string;
    let reader: string;

    before(async function () {
      this.timeout(30_000);
      db = await openDatabase('pglite://memory');
      await migrateToLatest(db);
      logFile = path.join(tmpdir(), `kts-composite-${randomUUID()}.log`);
      server = await startTestServer(db, { 'keystone_ts.policy_engine': engine, 'keystone_ts.decision_log': logFile });
      member = (await projectUserToken(server, 'composite-member', 'member')).token;
      service = (await projectUserToken(server, 'composite-service', 'service')).token;
      reader = (await projectUserToken(server, 'composite-reader', 'reader')).token;
      await createBundleStore(db).publish('default', 'oslo', JSON.stringify(COMPOSITE));
      await eventually('the bundle is in force', async () => ((await ask(member)).json?.allow === false ? true : undefined), { deadlineMs: 3_000, intervalMs: 50 });
    });
    after(async () => {
      await server?.close();
      await db?.close();
      rmSync(logFile, { force: true });
    });

    const ask = (token: string, serviceToken?: string) =>
      http(server.url, 'POST', '/v4/authz/decision', {
        token,
        headers: serviceToken ? { 'X-Service-Token': serviceToken } : {},
        body: { action: 'identity:create_credential', target: { credential: { user_id: 'anyone' } } },
      });

    it('allows only the user role and the service role together', async () => {
      assert.equal((await ask(member)).json.allow, false, 'user role alone');
      assert.equal((await ask(member, service)).json.allow, true, 'user role + service role');
      assert.equal((await ask(reader, service)).json.allow, false, 'service role without the user role');
      assert.equal((await ask(service, member)).json.allow, false, 'roles swapped between the tokens');
      assert.equal((await ask(member, 'not-a-token')).json.allow, false, 'an invalid service token adds nothing');
    });

    it('hands every engine input documents that match schemas/policy-input.json', async () => {
      const schemas = createSchemaRegistry();
      let lines: { action: string; input: unknown }[] = [];
      await eventually('decisions logged', async () => {
        lines = readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { action: string; input: unknown });
        return lines.length >= 10 ? true : undefined;
      }, { deadlineMs: 2_000, intervalMs: 50 });
      for (const line of lines) schemas.validate('policy-input', { ...(line.input as object), action: line.action });
      // The schema is not vacuous: a document without credentials, or with an unknown member, fails.
      assert.throws(() => schemas.validate('policy-input', { action: 'x' }));
      const first = lines[0]!.input as { credentials: Record<string, unknown> };
      assert.throws(() => schemas.validate('policy-input', { ...first, credentials: { ...first.credentials, roles: 'admin' } }));
      assert.throws(() => schemas.validate('policy-input', { ...first, surprise: 1 }));
    });
  });
}

describe('schemas/policy-input.json', () => {
  it('accepts every generated decision case of every rule', () => {
    const schemas = createSchemaRegistry();
    const rules = loadPolicyRules();
    let checked = 0;
    for (const rule of rules) {
      for (const c of casesForRule(rule.name, rules)) {
        schemas.validate('policy-input', { ...c.input, action: rule.name });
        checked += 1;
      }
    }
    assert.ok(checked > 1000, `${checked} cases`);
  });
});

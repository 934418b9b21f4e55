import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { casesForRule } from '../../src/policy/policy-cases.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { createOsloEngine } from '../../src/policy/pdp.js';
import { describeEachDatabase } from '../support/databases.js';
import { eventually } from '../support/cli.js';
import { OPA, requireOpa } from '../support/opa.js';
import { freePort } from '../support/ports.js';
import { adminLogin, http, projectUserToken, startTestServer, type TestServer } from '../support/server.js';

/** The names in a tar archive (ustar headers), to check what a bundle carries. */
function tarNames(archive: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const name = archive.subarray(offset, offset + 100).toString('utf8').replace(/\0.*$/s, '');
    if (name === '') break;
    const size = parseInt(archive.subarray(offset + 124, offset + 136).toString('ascii').replace(/\0.*$/s, ''), 8);
    names.push(name);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

describeEachDatabase('OPA bundle service: GET/PUT /v4/policy/bundles/{name}', (ctx) => {
  let server: TestServer;
  let projectAdmin: string;
  let systemAdmin: string;
  let member: string;
  let memberProject: string;

  before(async () => {
    server = await startTestServer(ctx.db());
    projectAdmin = (await adminLogin(server.url)).token;
    systemAdmin = (await adminLogin(server.url, { system: { all: true } })).token;
    ({ token: member, projectId: memberProject } = await projectUserToken(server, 'bundle-member', 'member'));
  });
  after(async () => server?.close());

  it('serves the policy in force as a deterministic OPA bundle with a strong ETag and 304s', async () => {
    const first = await fetch(`${server.url}/v4/policy/bundles/default`, { headers: { 'X-Auth-Token': projectAdmin } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'application/gzip');
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9a-f]{64}"$/);
    const names = tarNames(gunzipSync(Buffer.from(await first.arrayBuffer())));
    assert.ok(names.includes('.manifest') && names.includes('data.json') && names.includes('policies/keystone.rego'), names.join(' '));
    assert.ok(!names.some((n) => n.endsWith('_test.rego')));
    const again = await fetch(`${server.url}/v4/policy/bundles/default`, { headers: { 'X-Auth-Token': projectAdmin, 'If-None-Match': etag! } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
  });

  it('refuses anonymous and non-admin callers, unknown bundles and bad uploads, storing nothing', async () => {
    assert.equal((await http(server.url, 'GET', '/v4/policy/bundles/default')).status, 401);
    assert.equal((await http(server.url, 'GET', '/v4/policy/bundles/default', { token: member })).status, 403);
    assert.equal((await http(server.url, 'GET', '/v4/policy/bundles/nope', { token: projectAdmin })).status, 404);
    const rules = { 'identity:get_project': 'role:admin' };
    // A project-scoped admin is not a system admin.
    assert.equal((await http(server.url, 'PUT', '/v4/policy/bundles/default', { token: projectAdmin, body: { rules } })).status, 403);
    for (const body of [{}, { rules: [] }, { rules: { x: 1 } }, { rules, extra: true }]) {
      const res = await http(server.url, 'PUT', '/v4/policy/bundles/default', { token: systemAdmin, body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const typo = await http(server.url, 'PUT', '/v4/policy/bundles/default', { token: systemAdmin, body: { rules: { 'identity:get_projekt': 'role:admin' } } });
    assert.equal(typo.status, 400);
    assert.match(typo.json.error.message, /identity:get_projekt/);
    const broken = await http(server.url, 'PUT', '/v4/policy/bundles/default', { token: systemAdmin, body: { rules: { 'identity:get_project': 'role:admin or or' } } });
    assert.equal(broken.status, 400);
    assert.equal((await http(server.url, 'PUT', '/v4/policy/bundles/bad%20name', { token: systemAdmin, body: { rules } })).status, 400);
    // Nothing stored: the default bundle is still revision 0.
    const manifest = await fetch(`${server.url}/v4/policy/bundles/default`, { headers: { 'X-Auth-Token': projectAdmin } });
    const archive = gunzipSync(Buffer.from(await manifest.arrayBuffer()));
    assert.match(archive.toString('latin1'), /"revision":"default:0:/);
  });

  it('a real OPA agent pulls the bundle and decides as keystone-ts, before and after an upload', async function () {
    requireOpa(this, 'the OPA bundle service test');
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'kts-opa-agent-'));
    const port = await freePort();
    // The agent presents a token as any client of Keystone does (OPA's service `headers`).
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        services: { keystone: { url: `${server.url}/v4/policy`, headers: { 'X-Auth-Token': projectAdmin } } },
        bundles: { keystone: { service: 'keystone', resource: 'bundles/default', polling: { min_delay_seconds: 1, max_delay_seconds: 1 } } },
      }),
    );
    const agent: ChildProcess = spawn(OPA, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--config-file', path.join(dir, 'config.json'), '--log-level', 'error'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    agent.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const rules = loadPolicyRules();
      const [own] = casesForRule('identity:get_project', rules).filter((c) => c.label === 'project[reader] own');
      assert.ok(own);
      const ask = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/data/keystone/decision`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ input: { ...own.input, action: 'identity:get_project' } }),
        }).catch(() => undefined);
        const body = res && res.ok ? ((await res.json()) as { result?: { allow: boolean; violations: unknown[] } }) : undefined;
        return body?.result;
      };
      const expected = createOsloEngine({ defaults: rules, enforceScope: true, enforceNewDefaults: true }).decide('identity:get_project', own.input);
      assert.equal(expected.allow, true);
      const before = await eventually('the agent has the bundle', ask, { deadlineMs: 20_000, intervalMs: 200 }).catch((error: unknown) => {
        throw new Error(`${String(error)}\nopa stderr: ${stderr}`);
      });
      assert.deepEqual(before, { allow: true, violations: [] });

      const memberAsks = async () =>
        (await http(server.url, 'POST', '/v4/authz/decision', { token: member, body: { action: 'identity:get_project', target: { project: { id: memberProject, domain_id: 'default' } } } })).json?.allow as boolean | undefined;
      assert.equal(await memberAsks(), true);

      const upload = await http(server.url, 'PUT', '/v4/policy/bundles/default', { token: systemAdmin, body: { rules: { 'identity:get_project': 'role:admin' } } });
      assert.equal(upload.status, 201, upload.text);
      assert.equal(upload.json.bundle.revision, 1);
      // The agent's next poll gets the new ETag and the override, compiled as data.
      const after = await eventually('the agent applies the upload', async () => {
        const result = await ask();
        return result && !result.allow ? result : undefined;
      }, { deadlineMs: 20_000, intervalMs: 200 });
      assert.deepEqual(after.violations, [{ field: 'credentials', message: 'identity:get_project requires role:admin' }]);
      // And keystone-ts itself enforces the same upload.
      await eventually('keystone-ts enforces the upload', async () => ((await memberAsks()) === false ? true : undefined), { deadlineMs: 2_000, intervalMs: 50 });
    } finally {
      agent.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { Db } from '../../src/db/database.js';
import { createService, runBootstrap, type Service } from '../../src/main.js';
import { setupKeyRepository } from '../../src/token/key-repository.js';

export const ADMIN_PASSWORD = 'admin-secret-Passw0rd';

export interface TestServer {
  readonly url: string;
  readonly config: Config;
  readonly service: Service;
  readonly dir: string;
  close(): Promise<void>;
}

/**
 * A real server on an ephemeral loopback port over the given database: fresh key repositories,
 * bootstrapped like `keystone-manage bootstrap` with a public identity endpoint. `settings` are
 * keystone.conf options as `section.option` → value (applied like KEYSTONE_TS_* overrides).
 */
export async function startTestServer(
  db: Db,
  settings: Record<string, string> = {},
  options: { shareKeysWith?: TestServer; log?: (record: Record<string, unknown>) => void } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kts-test-'));
  // Servers of one deployment share their key repositories, as Keystone nodes must.
  const keysDir = options.shareKeysWith?.dir ?? dir;
  const fernet = path.join(keysDir, 'fernet-keys');
  const credential = path.join(keysDir, 'credential-keys');
  setupKeyRepository(fernet, { maxActiveKeys: 3 });
  setupKeyRepository(credential, { maxActiveKeys: 3 });
  const env: Record<string, string> = {
    KEYSTONE_TS_FERNET_TOKENS__KEY_REPOSITORY: fernet,
    KEYSTONE_TS_CREDENTIAL__KEY_REPOSITORY: credential,
    KEYSTONE_TS_KEYSTONE_TS__DATA_DIR: dir,
    // Tests hash at bcrypt's lowest cost: the algorithm is the same, only the work factor differs.
    KEYSTONE_TS_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
  };
  for (const [key, value] of Object.entries(settings)) {
    const [section, option] = key.split('.');
    env[`KEYSTONE_TS_${section!.toUpperCase()}__${option!.toUpperCase()}`] = value;
  }
  const config = loadConfig({ configFiles: [], env });
  const service = await createService(config, { log: options.log ?? (() => undefined), db });
  const server: Server = service.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await runBootstrap(
    service.providers,
    {
      password: ADMIN_PASSWORD,
      username: 'admin',
      projectName: 'admin',
      roleName: 'admin',
      serviceName: 'keystone',
      regionId: 'RegionOne',
      adminUrl: null,
      publicUrl: `${url}/v3`,
      internalUrl: null,
      immutableRoles: true,
      defaultDomainId: config.identity.default_domain_id,
    },
    () => undefined,
  );
  return {
    url,
    config,
    service,
    dir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The HTTP verbs against one server with one token (a body is sent only when given). */
export function client(base: string, token: string) {
  return {
    get: (path: string) => http(base, 'GET', path, { token }),
    head: (path: string) => http(base, 'HEAD', path, { token }),
    post: (path: string, body?: unknown) => http(base, 'POST', path, { token, body }),
    put: (path: string, body?: unknown) => http(base, 'PUT', path, { token, body }),
    patch: (path: string, body?: unknown) => http(base, 'PATCH', path, { token, body }),
    del: (path: string) => http(base, 'DELETE', path, { token }),
  };
}

/** A 403 from the policy decision point naming the rule that refused. */
export function assertDenied(res: { status: number; json: { error: { message: string } } }, action: string): void {
  assert.equal(res.status, 403, JSON.stringify(res.json));
  assert.equal(res.json.error.message, `You are not authorized to perform the requested action: ${action}.`);
}

/** A plain HTTP call over loopback; `body` objects are sent as JSON. */
export async function http(
  base: string,
  method: string,
  pathAndQuery: string,
  options: { token?: string; subject?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['X-Auth-Token'] = options.token;
  if (options.subject) headers['X-Subject-Token'] = options.subject;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${pathAndQuery}`, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function passwordAuth(user: { id?: string; name?: string; domain?: { id?: string; name?: string } }, password: string, scope?: unknown) {
  return { auth: { identity: { methods: ['password'], password: { user: { ...user, password } } }, ...(scope === undefined ? {} : { scope }) } };
}

/** Logs in as the bootstrapped admin; returns the token and the response body. */
export async function adminLogin(base: string, scope: unknown = { project: { name: 'admin', domain: { id: 'default' } } }) {
  const res = await http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD, scope) });
  if (res.status !== 201) throw new Error(`admin login failed: ${res.status} ${res.text}`);
  return { token: res.headers.get('x-subject-token')!, body: res.json };
}

/**
 * A new user holding `role` on a project, logged in with a token scoped to it: by default a user
 * of the default domain on the bootstrapped admin project; `projectId` and `domainId` (the
 * user's domain) choose others.
 */
export async function projectUserToken(
  server: TestServer,
  name: string,
  role: string,
  where: { projectId?: string; domainId?: string } = {},
): Promise<{ token: string; userId: string; projectId: string }> {
  const { providers } = server.service;
  const password = `pw-${name}`;
  const user = await providers.identity.createUser({ name, domain_id: where.domainId ?? 'default', password });
  const projectId = where.projectId ?? (await providers.resource.findProjectByName('admin', 'default'))?.id;
  const found = await providers.assignments.findGlobalRoleByName(role);
  if (!projectId || !found) throw new Error(`no admin project or no role ${role}: is the database bootstrapped?`);
  await providers.assignments.grant('UserProject', user.id, projectId, found.id);
  const login = await http(server.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, password, { project: { id: projectId } }) });
  if (login.status !== 201) throw new Error(`login of ${name} failed: ${login.status} ${login.text}`);
  return { token: login.headers.get('x-subject-token')!, userId: user.id, projectId };
}

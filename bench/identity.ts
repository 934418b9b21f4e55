/**
 * Identity API figures on PostgreSQL: listing a domain of 10,000 users (whole, and cut by
 * `[identity] list_limit` 100), effective role assignments of a user in 50 groups with inherited
 * roles over a five-level project tree, and `openstack user list` over the 10,000 users.
 *
 * Latencies are of single requests one after another (p50/p99 over the samples), not under load:
 * the question is how long one such call takes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { round } from './fernet.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OPENSTACK = path.join(REPO_ROOT, '.cache', 'venv', 'bin', 'openstack');

export const USERS = 10_000;
export const GROUPS = 50;
export const TREE_DEPTH = 5;

interface Api {
  readonly url: string;
  readonly token: string;
}

async function call(api: Api, method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; bytes: number }> {
  const response = await fetch(`${api.url}${urlPath}`, {
    method,
    headers: { 'X-Auth-Token': api.token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, bytes: Buffer.byteLength(text) };
}

async function expect(api: Api, method: string, urlPath: string, status: number, body?: unknown): Promise<Record<string, unknown>> {
  const result = await call(api, method, urlPath, body);
  if (result.status !== status) throw new Error(`${method} ${urlPath}: ${result.status}, expected ${status}: ${JSON.stringify(result.json).slice(0, 300)}`);
  return result.json;
}

const member = (json: Record<string, unknown>, key: string) => (json[key] as { id: string }).id;

/** A domain and its 10,000 users, written in two statements (the API would take minutes). */
export async function seedUsers(api: Api, databaseUrl: string): Promise<string> {
  const domainId = member(await expect(api, 'POST', '/v3/domains', 201, { domain: { name: 'bench-10k' } }), 'domain');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO "user" (id, extra, enabled, default_project_id, created_at, last_active_at, domain_id)
       SELECT md5('bench-user-' || i), '{}', true, NULL, now(), NULL, $1 FROM generate_series(1, $2::int) AS i`,
      [domainId, USERS],
    );
    await client.query(
      `INSERT INTO local_user (user_id, domain_id, name, failed_auth_count, failed_auth_at)
       SELECT md5('bench-user-' || i), $1, 'bench-user-' || lpad(i::text, 5, '0'), 0, NULL FROM generate_series(1, $2::int) AS i`,
      [domainId, USERS],
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return domainId;
}

/** Per-request latencies of `samples` calls after `warmup`, each checked by `check`. */
async function sample(api: Api, urlPath: string, warmup: number, samples: number, check: (json: Record<string, unknown>) => void) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < warmup + samples; i += 1) {
    const start = performance.now();
    const result = await call(api, 'GET', urlPath);
    const elapsed = performance.now() - start;
    if (result.status !== 200) throw new Error(`GET ${urlPath}: ${result.status}: ${JSON.stringify(result.json).slice(0, 300)}`);
    check(result.json);
    bytes = result.bytes;
    if (i >= warmup) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => round(times[Math.min(times.length - 1, Math.floor(times.length * p))]!, 2);
  return { p50_ms: at(0.5), p99_ms: at(0.99), samples, body_bytes: bytes };
}

export async function measureUserList(api: Api, domainId: string, expected: number, truncated: boolean) {
  return sample(api, `/v3/users?domain_id=${domainId}`, 3, 30, (json) => {
    const users = json['users'] as unknown[];
    if (users.length !== expected) throw new Error(`listed ${users.length} users, expected ${expected}`);
    if ((json['truncated'] === true) !== truncated) throw new Error(`truncated is ${String(json['truncated'])}, expected ${truncated}`);
  });
}

/**
 * A user in 50 groups over a five-level tree: every group holds a role on one level, ten hold
 * a role inherited from the domain and ten one inherited from the top project, and one role
 * implies another. Returns the user's id and how many effective assignments Keystone's rules give.
 */
export async function seedAssignments(api: Api, domainId: string): Promise<{ userId: string; projects: string[] }> {
  const projects: string[] = [];
  for (let level = 0; level < TREE_DEPTH; level += 1) {
    const project = await expect(api, 'POST', '/v3/projects', 201, {
      project: { name: `bench-level-${level}`, domain_id: domainId, ...(level > 0 ? { parent_id: projects[level - 1] } : {}) },
    });
    projects.push(member(project, 'project'));
  }
  const roles: string[] = [];
  for (const name of ['bench-a', 'bench-b', 'bench-c']) roles.push(member(await expect(api, 'POST', '/v3/roles', 201, { role: { name } }), 'role'));
  await expect(api, 'PUT', `/v3/roles/${roles[0]}/implies/${roles[1]}`, 201);
  const userId = member(await expect(api, 'POST', '/v3/users', 201, { user: { name: 'bench-member', domain_id: domainId } }), 'user');
  for (let i = 0; i < GROUPS; i += 1) {
    const groupId = member(await expect(api, 'POST', '/v3/groups', 201, { group: { name: `bench-group-${i}`, domain_id: domainId } }), 'group');
    await expect(api, 'PUT', `/v3/groups/${groupId}/users/${userId}`, 204);
    const role = roles[i % roles.length]!;
    await expect(api, 'PUT', `/v3/projects/${projects[i % TREE_DEPTH]}/groups/${groupId}/roles/${role}`, 204);
    if (i < 10) await expect(api, 'PUT', `/v3/OS-INHERIT/domains/${domainId}/groups/${groupId}/roles/${role}/inherited_to_projects`, 204);
    else if (i < 20) await expect(api, 'PUT', `/v3/OS-INHERIT/projects/${projects[0]}/groups/${groupId}/roles/${role}/inherited_to_projects`, 204);
  }
  return { userId, projects };
}

export async function measureEffectiveAssignments(api: Api, userId: string) {
  let count = 0;
  const figures = await sample(api, `/v3/role_assignments?effective&user.id=${userId}`, 5, 50, (json) => {
    count = (json['role_assignments'] as unknown[]).length;
    if (count === 0) throw new Error('no effective assignments');
  });
  return { ...figures, assignments: count };
}

/**
 * The same sampling over `GET /v3` (the version document: no token, no database), for the floor
 * of any request on this machine at this moment, to set the figures above against.
 */
export async function measureRequestFloor(api: Api) {
  return sample(api, '/v3', 5, 50, (json) => {
    if (!json['version']) throw new Error('no version document');
  });
}

/** Wall time of `openstack user list --domain <id>` (Python start-up included), best of two. */
export async function measureOpenstackUserList(url: string, adminPassword: string, domainId: string): Promise<{ wall_s: number; users: number } | { skipped: string }> {
  if (!existsSync(OPENSTACK)) return { skipped: `${OPENSTACK} not installed (scripts/setup-openstack-client.sh)` };
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/tmp',
    OS_AUTH_URL: `${url}/v3`,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: 'admin',
    OS_PASSWORD: adminPassword,
    OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
  };
  const walls: number[] = [];
  let users = 0;
  for (let i = 0; i < 2; i += 1) {
    const start = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(OPENSTACK, ['user', 'list', '--domain', domainId, '-f', 'value', '-c', 'ID'], { env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) =>
        error ? reject(new Error(`openstack user list: ${error.message}\n${err.slice(-2000)}`)) : resolve(out),
      );
    });
    walls.push((performance.now() - start) / 1000);
    users = stdout.trim().split('\n').filter(Boolean).length;
  }
  if (users !== USERS) throw new Error(`openstack user list printed ${users} users, expected ${USERS}`);
  return { wall_s: round(Math.min(...walls), 2), users };
}

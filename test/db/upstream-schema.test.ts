/**
 * Our migrations against the real thing: the installed upstream Keystone (Debian's Zed) runs
 * `keystone-manage db_sync` on one fresh PostgreSQL database, our migrations run on another, and
 * the two schemas are compared through pg_catalog. They must differ by exactly the documented
 * Zed → 2026 changes (spec §6) and nothing else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { KEYSTONE_SCHEMA_MIGRATION, MIGRATIONS } from '../../migrations/index.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { acquirePostgres, type PostgresDatabase } from '../support/postgres.js';
import { adminLogin, http, startTestServer } from '../support/server.js';
import { schemaDiff, schemaSnapshot } from './catalog.js';

const execFileAsync = promisify(execFile);

/**
 * Zed → 2026, as they appear in the catalog. Each line is a documented change of spec §6:
 * the bobcat constraint fixes (99de3849d860, b4f8b3f584e0, 11c3b243b4cb), mapping.schema_version
 * (2024.1), idx_project_id (2025.2) and the two revocation_event indexes (2026.1).
 * (bobcat's c88cdce8f248 only acts on MySQL.)
 */
const ONLY_IN_ZED = [
  "column service_provider.relay_state_prefix #6 character varying(256) NOT NULL DEFAULT 'ss:mem:'::character varying",
  'constraint access_rule.access_rule_external_id_key UNIQUE (external_id)',
  'constraint trust.duplicate_trust_constraint_expanded UNIQUE (trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, expires_at_int)',
];
const ONLY_IN_2026 = [
  "column mapping.schema_version #3 character varying(5) NOT NULL DEFAULT '1.0'::character varying",
  'column service_provider.relay_state_prefix #6 character varying(256) NOT NULL',
  'constraint trust.duplicate_trust_constraint UNIQUE (trustor_user_id, trustee_user_id, project_id, impersonation, expires_at)',
  'index project_endpoint_group.idx_project_id CREATE INDEX idx_project_id ON public.project_endpoint_group USING btree (project_id)',
  'index revocation_event.ix_revocation_event_composite CREATE INDEX ix_revocation_event_composite ON public.revocation_event USING btree (issued_before, user_id, project_id, audit_id)',
  'index revocation_event.ix_revocation_event_project_id_user_id CREATE INDEX ix_revocation_event_project_id_user_id ON public.revocation_event USING btree (project_id, user_id)',
];

/** Every object keystone-ts adds is named keystone_ts_*: tables, triggers, functions. */
const isOurs = (name: string): boolean => name.startsWith('keystone_ts_');

/** keystone-manage and the Python it runs on (from its #! line), or why they cannot be used. */
async function findKeystoneManage(): Promise<{ command: string } | { skip: string }> {
  const command = process.env.KEYSTONE_MANAGE ?? '/usr/bin/keystone-manage';
  if (!existsSync(command)) return { skip: `${command} not found (set KEYSTONE_MANAGE)` };
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(command, 'utf8').split('\n', 1)[0] ?? '')?.[1];
  const python = shebang ?? '/usr/bin/python3';
  try {
    await execFileAsync(python, ['-c', 'import psycopg2, keystone'], { timeout: 30_000 });
  } catch {
    return { skip: `${python} cannot import psycopg2 (python3-psycopg2) and keystone` };
  }
  return { command };
}

async function dbSync(command: string, url: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-keystone-manage-'));
  try {
    const conf = path.join(dir, 'keystone.conf');
    const connection = url.replace(/^postgres(?:ql)?:/, 'postgresql+psycopg2:');
    // Logs to stderr only: the Debian default would write /var/log/keystone.
    writeFileSync(conf, `[DEFAULT]\nlog_dir =\nlog_file =\nuse_stderr = true\n\n[database]\nconnection = ${connection}\n`);
    await execFileAsync(command, ['--config-file', conf, 'db_sync'], { timeout: 300_000, cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('schema equivalence with upstream keystone-manage db_sync (PostgreSQL)', function () {
  this.timeout(300_000);
  let upstream: PostgresDatabase | undefined;
  let ours: PostgresDatabase | undefined;
  let upstreamDb: Db | undefined;
  let oursDb: Db | undefined;
  let upstreamBefore: string[] = [];

  before(async function () {
    const tools = await findKeystoneManage();
    if ('skip' in tools) {
      if (process.env.CI === 'true') throw new Error(`upstream schema check required when CI=true: ${tools.skip}`);
      console.log(`      skipped: ${tools.skip}`);
      this.skip();
    }
    const first = await acquirePostgres();
    if ('skip' in first) {
      console.log(`      skipped: ${first.skip}`);
      this.skip();
    }
    upstream = first;
    const second = await acquirePostgres();
    if ('skip' in second) this.skip();
    ours = second;

    await dbSync(tools.command, upstream.url);
    upstreamDb = await openDatabase(upstream.url, { poolSize: 2 });
    upstreamBefore = await schemaSnapshot(upstreamDb.kysely);
    oursDb = await openDatabase(ours.url, { poolSize: 2 });
    await migrateToLatest(oursDb);
  });

  after(async () => {
    await upstreamDb?.close();
    await oursDb?.close();
    await upstream?.drop();
    await ours?.drop();
  });

  it('db_sync gives the Zed heads', async () => {
    assert.ok(upstreamDb);
    const heads = await upstreamDb.kysely.selectFrom('alembic_version').select('version_num').orderBy('version_num').execute();
    assert.deepEqual(heads.map((row) => row.version_num), ['29e87d24a316', 'e25ffa003242']);
  });

  it('our migrations recognise it as existing-zed and add only keystone_ts_ objects', async () => {
    assert.ok(upstreamDb);
    const result = await migrateToLatest(upstreamDb);
    assert.equal(result.keystoneSchema, 'existing-zed');
    assert.deepEqual(result.applied, MIGRATIONS.map(([name]) => name).filter((name) => name !== KEYSTONE_SCHEMA_MIGRATION));
    assert.equal(result.warnings.length, 1);
    assert.deepEqual(await schemaSnapshot(upstreamDb.kysely, { exclude: isOurs }), upstreamBefore, 'a Keystone object changed');
    const added = await sql<{ t: string }>`
      SELECT relname AS t FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace
      AND relname LIKE 'keystone\\_ts\\_%' ORDER BY 1`.execute(upstreamDb.kysely);
    assert.ok(added.rows.some((row) => row.t === 'keystone_ts_meta'));
    assert.ok(added.rows.some((row) => row.t === 'keystone_ts_migration'));
  });

  it("our schema is Zed's plus exactly the documented Zed → 2026 changes", async () => {
    assert.ok(upstreamDb && oursDb);
    const zed = await schemaSnapshot(upstreamDb.kysely, { exclude: isOurs });
    const mine = await schemaSnapshot(oursDb.kysely, { exclude: isOurs });
    const { onlyInA, onlyInB } = schemaDiff(zed, mine);
    assert.deepEqual({ onlyInZed: onlyInA, onlyInOurs: onlyInB }, { onlyInZed: ONLY_IN_ZED, onlyInOurs: ONLY_IN_2026 });
    // Sanity: the comparison saw the whole schema (tables, columns, keys, indexes, types, functions).
    assert.ok(zed.filter((line) => line.startsWith('table ')).length === 49, 'expected 49 Keystone tables');
    assert.ok(zed.some((line) => line.startsWith('enum type ')) && zed.some((line) => line.startsWith('function ')));
  });

  it('the rows upstream inserts are the same (the root-domain sentinel)', async () => {
    assert.ok(upstreamDb && oursDb);
    const query = (db: Db) => db.kysely.selectFrom('project').selectAll().orderBy('id').execute();
    assert.deepEqual(await query(oursDb), await query(upstreamDb));
  });

  // Last: the server bootstraps an admin into the upstream database.
  it('serves federation mappings over the Zed schema, which has no mapping.schema_version', async () => {
    assert.ok(upstreamDb);
    const server = await startTestServer(upstreamDb);
    try {
      const admin = (await adminLogin(server.url)).token;
      const rules = [{ local: [{ user: { name: '{0}' } }], remote: [{ type: 'REMOTE_USER' }] }];
      const call = (method: string, path: string, body?: unknown) => http(server.url, method, path, { token: admin, body });
      const created = await call('PUT', '/v3/OS-FEDERATION/mappings/zed-mapping', { mapping: { rules } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.json.mapping.schema_version, '1.0');
      const shown = await call('GET', '/v3/OS-FEDERATION/mappings/zed-mapping');
      assert.equal(shown.status, 200, shown.text);
      assert.deepEqual(shown.json.mapping.rules, rules);
      assert.equal(shown.json.mapping.schema_version, '1.0');
      assert.deepEqual((await call('GET', '/v3/OS-FEDERATION/mappings')).json.mappings.map((m: { id: string }) => m.id), ['zed-mapping']);
      const newer = await call('PATCH', '/v3/OS-FEDERATION/mappings/zed-mapping', { mapping: { rules, schema_version: '2.0' } });
      assert.equal(newer.status, 400, newer.text);
      assert.match(newer.json.error.message, /Zed schema, which holds 1\.0 mappings only/);
      assert.equal((await call('PATCH', '/v3/OS-FEDERATION/mappings/zed-mapping', { mapping: { rules, schema_version: '1.0' } })).status, 200);
      assert.equal((await call('DELETE', '/v3/OS-FEDERATION/mappings/zed-mapping')).status, 204);
    } finally {
      await server.close();
    }
  });
});

import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { KEYSTONE_SCHEMA_MIGRATION, MIGRATIONS, type KyselyMigration } from '../../migrations/index.js';
import * as keystoneSchema from '../../migrations/0001_keystone_schema_2026_1.js';
import type { Db } from '../../src/db/database.js';
import {
  formatSchemaVersion,
  IncompatibleDatabaseError,
  migrateToLatest,
  schemaVersion,
  type IncompatibleDatabaseReason,
} from '../../src/db/migrate.js';
import { KEYSTONE_TABLES } from '../../src/db/schema.js';
import { describeEachDatabase } from '../support/databases.js';
import { schemaSnapshot } from './catalog.js';

const OUR_MIGRATIONS = MIGRATIONS.map(([name]) => name);
const HEADS_2026 = ['742c857f1dfb', 'c88cdce8f248'];
const HEADS_ZED = ['29e87d24a316', 'e25ffa003242'];

/** Every Keystone table at the 2026 heads with its columns in upstream's order (spec §6). */
const KEYSTONE_COLUMNS: Record<string, string> = {
  access_rule: 'id service path method external_id user_id',
  access_token: 'id access_secret authorizing_user_id project_id role_ids consumer_id expires_at',
  alembic_version: 'version_num',
  application_credential: 'internal_id id name secret_hash description user_id project_id expires_at system unrestricted',
  application_credential_access_rule: 'application_credential_id access_rule_id',
  application_credential_role: 'application_credential_id role_id',
  assignment: 'type actor_id target_id role_id inherited',
  config_register: 'type domain_id',
  consumer: 'id description secret extra',
  credential: 'id user_id project_id type extra key_hash encrypted_blob',
  endpoint: 'id legacy_endpoint_id interface service_id url extra enabled region_id',
  endpoint_group: 'id name description filters',
  expiring_user_group_membership: 'user_id group_id idp_id last_verified',
  federated_user: 'id user_id idp_id protocol_id unique_id display_name',
  federation_protocol: 'id idp_id mapping_id remote_id_attribute',
  group: 'id domain_id name description extra',
  id_mapping: 'public_id domain_id local_id entity_type',
  identity_provider: 'id enabled description domain_id authorization_ttl',
  idp_remote_ids: 'idp_id remote_id',
  implied_role: 'prior_role_id implied_role_id',
  limit: 'id project_id resource_limit description internal_id registered_limit_id domain_id',
  local_user: 'id user_id domain_id name failed_auth_count failed_auth_at',
  mapping: 'id rules schema_version',
  nonlocal_user: 'domain_id name user_id',
  password: 'id local_user_id expires_at self_service password_hash created_at_int expires_at_int created_at',
  policy: 'id type blob extra',
  policy_association: 'id policy_id endpoint_id service_id region_id',
  project: 'id name extra description enabled domain_id parent_id is_domain',
  project_endpoint: 'endpoint_id project_id',
  project_endpoint_group: 'endpoint_group_id project_id',
  project_option: 'project_id option_id option_value',
  project_tag: 'project_id name',
  region: 'id description parent_region_id extra',
  registered_limit: 'id service_id region_id resource_name default_limit description internal_id',
  request_token: 'id request_secret verifier authorizing_user_id requested_project_id role_ids consumer_id expires_at',
  revocation_event:
    'id domain_id project_id user_id role_id trust_id consumer_id access_token_id issued_before expires_at revoked_at audit_id audit_chain_id',
  role: 'id name extra domain_id description',
  role_option: 'role_id option_id option_value',
  sensitive_config: 'domain_id group option value',
  service: 'id type enabled extra',
  service_provider: 'auth_url id enabled description sp_url relay_state_prefix',
  system_assignment: 'type actor_id target_id role_id inherited',
  token: 'id expires extra valid trust_id user_id',
  trust: 'id trustor_user_id trustee_user_id project_id impersonation deleted_at expires_at remaining_uses extra expires_at_int redelegated_trust_id redelegation_count',
  trust_role: 'trust_id role_id',
  user: 'id extra enabled default_project_id created_at last_active_at domain_id',
  user_group_membership: 'user_id group_id',
  user_option: 'user_id option_id option_value',
  whitelisted_config: 'domain_id group option value',
};

const OWN_COLUMNS: Record<string, string> = {
  keystone_ts_meta: 'key value',
  keystone_ts_migration: 'name timestamp',
};

async function tableColumns(db: Db): Promise<Record<string, string>> {
  const rows = await sql<{ table: string; columns: string }>`
    SELECT c.relname AS table, string_agg(a.attname, ' ' ORDER BY a.attnum) AS columns
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
    GROUP BY c.relname`.execute(db.kysely);
  return Object.fromEntries(rows.rows.map((row) => [row.table, row.columns]));
}

/** Schema plus the bookkeeping rows: what a refused migrate must leave exactly as it was. */
async function fingerprint(db: Db): Promise<string[]> {
  const lines = await schemaSnapshot(db.kysely);
  for (const table of ['alembic_version', 'keystone_ts_migration', 'keystone_ts_meta']) {
    const exists = await sql<{ ok: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS ok`.execute(db.kysely);
    if (!exists.rows[0]?.ok) continue;
    const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)} ORDER BY 1`.execute(db.kysely);
    lines.push(`${table} rows ${JSON.stringify(rows.rows)}`);
  }
  return lines;
}

async function assertRefused(db: Db, reason: IncompatibleDatabaseReason, message: RegExp): Promise<void> {
  const before = await fingerprint(db);
  await assert.rejects(migrateToLatest(db), (error: unknown) => {
    assert.ok(error instanceof IncompatibleDatabaseError, String(error));
    assert.equal(error.reason, reason);
    assert.match(error.message, message);
    return true;
  });
  assert.deepEqual(await fingerprint(db), before, 'a refused migrate changed the database');
}

describeEachDatabase(
  'migrations on an empty database',
  (ctx) => {
    it('create Keystone 2026 schema and our own tables', async () => {
      const result = await migrateToLatest(ctx.db());
      assert.deepEqual(result, {
        keystoneSchema: 'created',
        applied: OUR_MIGRATIONS,
        alembicHeads: HEADS_2026,
        warnings: [],
      });
    });

    it('leave every Keystone table with upstream columns, plus keystone_ts_ tables only', async () => {
      const tables = await tableColumns(ctx.db());
      const ours = Object.keys(tables).filter((name) => !(name in KEYSTONE_COLUMNS));
      assert.deepEqual(
        Object.fromEntries(Object.entries(tables).filter(([name]) => name in KEYSTONE_COLUMNS)),
        KEYSTONE_COLUMNS,
      );
      assert.deepEqual(ours.filter((name) => !name.startsWith('keystone_ts_')), []);
      // Later migrations add more keystone_ts_ tables; these two are the migrator's own.
      for (const [name, columns] of Object.entries(OWN_COLUMNS)) assert.equal(tables[name], columns);
      assert.deepEqual(Object.keys(KEYSTONE_COLUMNS).sort(), [...KEYSTONE_TABLES].sort());
    });

    it('insert the <<keystone.domain.root>> sentinel project', async () => {
      const rows = await ctx.db().kysely.selectFrom('project').selectAll().execute();
      assert.deepEqual(rows, [
        {
          id: '<<keystone.domain.root>>',
          name: '<<keystone.domain.root>>',
          extra: '{}',
          description: '',
          enabled: false,
          domain_id: '<<keystone.domain.root>>',
          parent_id: null,
          is_domain: true,
        },
      ]);
    });

    it("record upstream's two 2026 alembic heads and create its enum types", async () => {
      const db = ctx.db();
      const heads = await db.kysely.selectFrom('alembic_version').select('version_num').orderBy('version_num').execute();
      assert.deepEqual(heads.map((row) => row.version_num), HEADS_2026);
      const enums = await sql<{ name: string; labels: string }>`
        SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1`.execute(db.kysely);
      assert.deepEqual(enums.rows, [
        { name: 'entity_type', labels: 'user,group' },
        { name: 'type', labels: 'UserProject,GroupProject,UserDomain,GroupDomain' },
      ]);
      const assignmentType = await sql<{ type: string }>`
        SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = 'assignment'::regclass AND attname = 'type'`.execute(db.kysely);
      assert.deepEqual(assignmentType.rows, [{ type: 'type' }]);
    });

    it('are a no-op the second time', async () => {
      const db = ctx.db();
      const before = await fingerprint(db);
      const result = await migrateToLatest(db);
      assert.deepEqual(result, { keystoneSchema: 'existing-2026', applied: [], alembicHeads: HEADS_2026, warnings: [] });
      assert.deepEqual(await fingerprint(db), before);
    });

    it('report the schema version', async () => {
      const version = await schemaVersion(ctx.db());
      assert.deepEqual(version, {
        applied: OUR_MIGRATIONS,
        current: OUR_MIGRATIONS.at(-1),
        pending: [],
        unknown: [],
        alembicHeads: HEADS_2026,
        keystoneSchema: '2026',
      });
      assert.equal(
        formatSchemaVersion(version),
        `keystone-ts migration: ${OUR_MIGRATIONS.at(-1)}\nkeystone alembic heads: 742c857f1dfb, c88cdce8f248 (2026.1)`,
      );
    });

    it('refuse unknown alembic heads, changing nothing', async () => {
      const db = ctx.db();
      await db.kysely.updateTable('alembic_version').set({ version_num: 'feedc0ffee00' }).where('version_num', '=', '742c857f1dfb').execute();
      await assertRefused(db, 'unknown-alembic-heads', /heads c88cdce8f248, feedc0ffee00, which this keystone-ts does not know/);
      assert.equal((await schemaVersion(db)).keystoneSchema, 'unknown');
      await db.kysely.updateTable('alembic_version').set({ version_num: '742c857f1dfb' }).where('version_num', '=', 'feedc0ffee00').execute();
    });

    it('refuse a database migrated by a newer keystone-ts, changing nothing', async () => {
      const db = ctx.db();
      await db.kysely.insertInto('keystone_ts_migration').values({ name: '9999_from_the_future', timestamp: new Date().toISOString() }).execute();
      await assertRefused(
        db,
        'newer-schema',
        /^database schema is newer than this keystone-ts: unknown migrations 9999_from_the_future; upgrade keystone-ts$/,
      );
      assert.deepEqual((await schemaVersion(db)).unknown, ['9999_from_the_future']);
      await db.kysely.deleteFrom('keystone_ts_migration').where('name', '=', '9999_from_the_future').execute();
    });

    it('refuse Keystone tables without alembic_version, changing nothing', async () => {
      const db = ctx.db();
      await sql`ALTER TABLE alembic_version RENAME TO alembic_version_hidden`.execute(db.kysely);
      try {
        await assertRefused(db, 'unmanaged-keystone-tables', /Keystone tables \(access_rule, access_token, .*\) but no alembic_version/);
      } finally {
        await sql`ALTER TABLE alembic_version_hidden RENAME TO alembic_version`.execute(db.kysely);
      }
    });
  },
  { migrate: false },
);

describeEachDatabase(
  'migrations on a database keystone-manage made',
  (ctx) => {
    // The real `keystone-manage db_sync` runs in upstream-schema.test.ts (PostgreSQL only); here
    // the same situation on both databases: Keystone's schema with upstream's heads, none of ours.
    async function upstreamSchema(db: Db, heads: string[]): Promise<void> {
      await db.kysely.transaction().execute(async (trx) => {
        await keystoneSchema.up(trx);
        await trx.deleteFrom('alembic_version').execute();
        await trx.insertInto('alembic_version').values(heads.map((version_num) => ({ version_num }))).execute();
      });
    }

    it('recognise Zed heads, add only our tables and say the schema was not upgraded', async () => {
      const db = ctx.db();
      await upstreamSchema(db, HEADS_ZED);
      const keystoneBefore = await schemaSnapshot(db.kysely);
      const result = await migrateToLatest(db);
      assert.equal(result.keystoneSchema, 'existing-zed');
      assert.deepEqual(result.applied, OUR_MIGRATIONS.filter((name) => name !== KEYSTONE_SCHEMA_MIGRATION));
      assert.deepEqual(result.alembicHeads, HEADS_ZED);
      assert.equal(result.warnings.length, 1);
      assert.match(result.warnings[0] ?? '', /Zed's .* did not upgrade it/);
      // Everything of ours is named keystone_ts_* (tables, and e.g. triggers and their function);
      // everything else — Keystone's schema — must be exactly as upstream left it.
      const after = await schemaSnapshot(db.kysely, { exclude: (name) => name.startsWith('keystone_ts_') });
      assert.deepEqual(after, keystoneBefore);
      const meta = await db.kysely.selectFrom('keystone_ts_meta').selectAll().where('key', '=', 'alembic_heads').execute();
      assert.deepEqual(meta, [{ key: 'alembic_heads', value: HEADS_ZED.join(' ') }]);
      assert.deepEqual(await schemaVersion(db), {
        applied: OUR_MIGRATIONS.filter((name) => name !== KEYSTONE_SCHEMA_MIGRATION),
        current: OUR_MIGRATIONS.at(-1),
        pending: [],
        unknown: [],
        alembicHeads: HEADS_ZED,
        keystoneSchema: 'zed',
      });
    });

    it('follow an upstream upgrade to the 2026 heads without touching Keystone tables', async () => {
      const db = ctx.db();
      await db.kysely.deleteFrom('alembic_version').execute();
      await db.kysely.insertInto('alembic_version').values(HEADS_2026.map((version_num) => ({ version_num }))).execute();
      const result = await migrateToLatest(db);
      assert.deepEqual(result, { keystoneSchema: 'existing-2026', applied: [], alembicHeads: HEADS_2026, warnings: [] });
      const meta = await db.kysely.selectFrom('keystone_ts_meta').selectAll().where('key', '=', 'alembic_heads').execute();
      assert.deepEqual(meta, [{ key: 'alembic_heads', value: HEADS_2026.join(' ') }]);
    });
  },
  { migrate: false },
);

describeEachDatabase(
  'a failing migration',
  (ctx) => {
    it('leaves nothing behind: all migrations share one transaction', async () => {
      const db = ctx.db();
      const failing: KyselyMigration = {
        up: async (trx) => {
          await trx.schema.createTable('keystone_ts_half_done').addColumn('id', 'integer').execute();
          throw new Error('migration bug');
        },
      };
      await assert.rejects(migrateToLatest(db, { migrations: [...MIGRATIONS, ['9000_failing', failing]] }), /migration bug/);
      assert.deepEqual(await schemaSnapshot(db.kysely), []);
      const result = await migrateToLatest(db);
      assert.equal(result.keystoneSchema, 'created');
    });
  },
  { migrate: false },
);

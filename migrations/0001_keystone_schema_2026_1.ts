import { sql, type CreateTableBuilder } from 'kysely';
import { KEYSTONE_2026_HEADS } from '../src/db/alembic.js';
import type { MigrationDb } from './types.js';

/**
 * Keystone's schema as upstream's alembic leaves it on PostgreSQL at the 2026 heads
 * (expand 742c857f1dfb, contract c88cdce8f248): Zed's initial revision 27e647c0fad4 plus the
 * bobcat, 2024.1, 2025.2 and 2026.1 revisions, folded into their end state (spec §6).
 *
 * Only run on a database without Keystone's schema (migrate.ts decides). It must be
 * indistinguishable from `keystone-manage db_sync`, so that an upstream Keystone sharing the
 * database works and its *future* migrations apply: those drop and alter objects by name, so
 * every constraint, index, sequence, enum type and even the dead trigger functions carry the names
 * PostgreSQL gave them under alembic, and columns keep upstream's order. Names PostgreSQL would
 * pick anyway are still spelled out, so nothing depends on its naming rules.
 * test/db/upstream-schema.test.ts compares the result with a real db_sync.
 */

const ID = 'varchar(64)';
/** The `<<keystone.domain.root>>` project row: the FK target of every domain's domain_id. */
const ROOT_DOMAIN_ID = '<<keystone.domain.root>>';

type Table = CreateTableBuilder<string, string>;

export async function up(db: MigrationDb): Promise<void> {
  const table = (name: string): Table => db.schema.createTable(name);
  const index = (name: string, on: string, columns: string[]): Promise<void> =>
    db.schema.createIndex(name).on(on).columns(columns).execute();

  // ---- resource: projects and domains (one table; domains are projects with is_domain) ----
  await table('project')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('extra', 'text')
    .addColumn('description', 'text')
    .addColumn('enabled', 'boolean')
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('parent_id', ID)
    .addColumn('is_domain', 'boolean', (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('project_pkey', ['id'])
    .addUniqueConstraint('ixu_project_name_domain_id', ['domain_id', 'name'])
    .addForeignKeyConstraint('project_domain_id_fkey', ['domain_id'], 'project', ['id'])
    .addForeignKeyConstraint('project_parent_id_fkey', ['parent_id'], 'project', ['id'])
    .execute();
  await table('project_option')
    .addColumn('project_id', ID, (c) => c.notNull())
    .addColumn('option_id', 'varchar(4)', (c) => c.notNull())
    .addColumn('option_value', 'text')
    .addPrimaryKeyConstraint('project_option_pkey', ['project_id', 'option_id'])
    .addForeignKeyConstraint('project_option_project_id_fkey', ['project_id'], 'project', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();
  // Upstream also declares UNIQUE(project_id, name), which PostgreSQL folds into the primary key.
  await table('project_tag')
    .addColumn('project_id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_tag_pkey', ['project_id', 'name'])
    .addForeignKeyConstraint('project_tag_project_id_fkey', ['project_id'], 'project', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();

  // ---- identity ----
  await table('user')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('extra', 'text')
    .addColumn('enabled', 'boolean')
    .addColumn('default_project_id', ID)
    .addColumn('created_at', 'timestamp')
    .addColumn('last_active_at', 'date')
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('user_pkey', ['id'])
    // The target of local_user's and nonlocal_user's composite (user_id, domain_id) keys.
    .addUniqueConstraint('ixu_user_id_domain_id', ['id', 'domain_id'])
    .execute();
  await index('ix_default_project_id', 'user', ['default_project_id']);
  await table('group')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('extra', 'text')
    .addPrimaryKeyConstraint('group_pkey', ['id'])
    .addUniqueConstraint('ixu_group_name_domain_id', ['domain_id', 'name'])
    .execute();
  await table('local_user')
    .addColumn('id', 'serial', (c) => c.notNull())
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('failed_auth_count', 'integer')
    .addColumn('failed_auth_at', 'timestamp')
    .addPrimaryKeyConstraint('local_user_pkey', ['id'])
    .addUniqueConstraint('local_user_user_id_key', ['user_id'])
    .addUniqueConstraint('local_user_domain_id_name_key', ['domain_id', 'name'])
    .addForeignKeyConstraint('local_user_user_id_fkey', ['user_id', 'domain_id'], 'user', ['id', 'domain_id'], (f) =>
      f.onDelete('cascade').onUpdate('cascade'),
    )
    .execute();
  await table('password')
    .addColumn('id', 'serial', (c) => c.notNull())
    .addColumn('local_user_id', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamp')
    .addColumn('self_service', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('password_hash', 'varchar(255)')
    // SQLAlchemy's server_default='0' on a BIGINT: PostgreSQL keeps it as '0'::bigint.
    .addColumn('created_at_int', 'bigint', (c) => c.notNull().defaultTo(sql`'0'`))
    .addColumn('expires_at_int', 'bigint')
    .addColumn('created_at', 'timestamp', (c) => c.notNull())
    .addPrimaryKeyConstraint('password_pkey', ['id'])
    .addForeignKeyConstraint('password_local_user_id_fkey', ['local_user_id'], 'local_user', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();
  await table('nonlocal_user')
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('nonlocal_user_pkey', ['domain_id', 'name'])
    .addUniqueConstraint('ixu_nonlocal_user_user_id', ['user_id'])
    .addForeignKeyConstraint(
      'nonlocal_user_user_id_fkey',
      ['user_id', 'domain_id'],
      'user',
      ['id', 'domain_id'],
      (f) => f.onDelete('cascade').onUpdate('cascade'),
    )
    .execute();
  await table('user_option')
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('option_id', 'varchar(4)', (c) => c.notNull())
    .addColumn('option_value', 'text')
    .addPrimaryKeyConstraint('user_option_pkey', ['user_id', 'option_id'])
    .addForeignKeyConstraint('user_option_user_id_fkey', ['user_id'], 'user', ['id'], (f) => f.onDelete('cascade'))
    .execute();
  await table('user_group_membership')
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('group_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('user_group_membership_pkey', ['user_id', 'group_id'])
    .addForeignKeyConstraint('fk_user_group_membership_user_id', ['user_id'], 'user', ['id'])
    .addForeignKeyConstraint('fk_user_group_membership_group_id', ['group_id'], 'group', ['id'])
    .execute();
  // Named 'group_id' by Keystone's old sqlalchemy-migrate 050; upstream preserves the name.
  await index('group_id', 'user_group_membership', ['group_id']);
  await db.schema.createType('entity_type').asEnum(['user', 'group']).execute();
  await table('id_mapping')
    .addColumn('public_id', ID, (c) => c.notNull())
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('local_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('entity_type', sql.id('entity_type'), (c) => c.notNull())
    .addPrimaryKeyConstraint('id_mapping_pkey', ['public_id'])
    // Yes, a unique constraint named 'domain_id' (a MySQL-era name kept by upstream).
    .addUniqueConstraint('domain_id', ['domain_id', 'local_id', 'entity_type'])
    .execute();
  for (const name of ['whitelisted_config', 'sensitive_config']) {
    await table(name)
      .addColumn('domain_id', ID, (c) => c.notNull())
      .addColumn('group', 'varchar(255)', (c) => c.notNull())
      .addColumn('option', 'varchar(255)', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${name}_pkey`, ['domain_id', 'group', 'option'])
      .execute();
  }
  await table('config_register')
    .addColumn('type', ID, (c) => c.notNull())
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('config_register_pkey', ['type'])
    .execute();

  // ---- federation ----
  await table('identity_provider')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('domain_id', ID, (c) => c.notNull())
    .addColumn('authorization_ttl', 'integer')
    .addPrimaryKeyConstraint('identity_provider_pkey', ['id'])
    .execute();
  await table('idp_remote_ids')
    .addColumn('idp_id', ID)
    .addColumn('remote_id', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('idp_remote_ids_pkey', ['remote_id'])
    .addForeignKeyConstraint('idp_remote_ids_idp_id_fkey', ['idp_id'], 'identity_provider', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();
  await table('federation_protocol')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('idp_id', ID, (c) => c.notNull())
    .addColumn('mapping_id', ID, (c) => c.notNull())
    .addColumn('remote_id_attribute', ID)
    .addPrimaryKeyConstraint('federation_protocol_pkey', ['id', 'idp_id'])
    .addForeignKeyConstraint('federation_protocol_idp_id_fkey', ['idp_id'], 'identity_provider', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();
  await table('federated_user')
    .addColumn('id', 'serial', (c) => c.notNull())
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('idp_id', ID, (c) => c.notNull())
    .addColumn('protocol_id', ID, (c) => c.notNull())
    .addColumn('unique_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('display_name', 'varchar(255)')
    .addPrimaryKeyConstraint('federated_user_pkey', ['id'])
    .addUniqueConstraint('federated_user_idp_id_protocol_id_unique_id_key', ['idp_id', 'protocol_id', 'unique_id'])
    .addForeignKeyConstraint('federated_user_user_id_fkey', ['user_id'], 'user', ['id'], (f) => f.onDelete('cascade'))
    .addForeignKeyConstraint('federated_user_idp_id_fkey', ['idp_id'], 'identity_provider', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'federated_user_protocol_id_fkey',
      ['protocol_id', 'idp_id'],
      'federation_protocol',
      ['id', 'idp_id'],
      (f) => f.onDelete('cascade'),
    )
    .execute();
  await table('expiring_user_group_membership')
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('group_id', ID, (c) => c.notNull())
    .addColumn('idp_id', ID, (c) => c.notNull())
    .addColumn('last_verified', 'timestamp', (c) => c.notNull())
    .addPrimaryKeyConstraint('expiring_user_group_membership_pkey', ['user_id', 'group_id', 'idp_id'])
    .addForeignKeyConstraint('expiring_user_group_membership_user_id_fkey', ['user_id'], 'user', ['id'])
    .addForeignKeyConstraint('expiring_user_group_membership_group_id_fkey', ['group_id'], 'group', ['id'])
    .addForeignKeyConstraint(
      'expiring_user_group_membership_idp_id_fkey',
      ['idp_id'],
      'identity_provider',
      ['id'],
      (f) => f.onDelete('cascade'),
    )
    .execute();
  await table('mapping')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    // 2024.1 (revision 47147121), added last by ALTER TABLE upstream, hence its position.
    .addColumn('schema_version', 'varchar(5)', (c) => c.notNull().defaultTo('1.0'))
    .addPrimaryKeyConstraint('mapping_pkey', ['id'])
    .execute();
  // bobcat (11c3b243b4cb) dropped Zed's server default 'ss:mem:' on relay_state_prefix.
  await table('service_provider')
    .addColumn('auth_url', 'varchar(256)', (c) => c.notNull())
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('sp_url', 'varchar(256)', (c) => c.notNull())
    .addColumn('relay_state_prefix', 'varchar(256)', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_provider_pkey', ['id'])
    .execute();

  // ---- assignment ----
  await table('role')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('extra', 'text')
    // '<<null>>' marks a global role, so that UNIQUE(name, domain_id) also holds for them.
    .addColumn('domain_id', ID, (c) => c.notNull().defaultTo('<<null>>'))
    .addColumn('description', 'varchar(255)')
    .addPrimaryKeyConstraint('role_pkey', ['id'])
    .addUniqueConstraint('ixu_role_name_domain_id', ['name', 'domain_id'])
    .execute();
  await table('role_option')
    .addColumn('role_id', ID, (c) => c.notNull())
    .addColumn('option_id', 'varchar(4)', (c) => c.notNull())
    .addColumn('option_value', 'text')
    .addPrimaryKeyConstraint('role_option_pkey', ['role_id', 'option_id'])
    .addForeignKeyConstraint('role_option_role_id_fkey', ['role_id'], 'role', ['id'], (f) => f.onDelete('cascade'))
    .execute();
  await table('implied_role')
    .addColumn('prior_role_id', ID, (c) => c.notNull())
    .addColumn('implied_role_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('implied_role_pkey', ['prior_role_id', 'implied_role_id'])
    .addForeignKeyConstraint('implied_role_prior_role_id_fkey', ['prior_role_id'], 'role', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .addForeignKeyConstraint('implied_role_implied_role_id_fkey', ['implied_role_id'], 'role', ['id'], (f) =>
      f.onDelete('cascade'),
    )
    .execute();
  // The enum is really named `type` (SQLAlchemy Enum(name='type')). Upstream adds an
  // assignment.role_id → role FK on SQLite only; PostgreSQL has none.
  await db.schema.createType('type').asEnum(['UserProject', 'GroupProject', 'UserDomain', 'GroupDomain']).execute();
  await table('assignment')
    .addColumn('type', sql.id('type'), (c) => c.notNull())
    .addColumn('actor_id', ID, (c) => c.notNull())
    .addColumn('target_id', ID, (c) => c.notNull())
    .addColumn('role_id', ID, (c) => c.notNull())
    .addColumn('inherited', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('assignment_pkey', ['type', 'actor_id', 'target_id', 'role_id', 'inherited'])
    .execute();
  await index('ix_actor_id', 'assignment', ['actor_id']);
  await table('system_assignment')
    .addColumn('type', ID, (c) => c.notNull())
    .addColumn('actor_id', ID, (c) => c.notNull())
    .addColumn('target_id', ID, (c) => c.notNull())
    .addColumn('role_id', ID, (c) => c.notNull())
    .addColumn('inherited', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('system_assignment_pkey', ['type', 'actor_id', 'target_id', 'role_id', 'inherited'])
    .execute();

  // ---- catalog ----
  await table('region')
    .addColumn('id', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull())
    .addColumn('parent_region_id', 'varchar(255)')
    .addColumn('extra', 'text')
    .addPrimaryKeyConstraint('region_pkey', ['id'])
    .execute();
  await table('service')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('type', 'varchar(255)')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('extra', 'text')
    .addPrimaryKeyConstraint('service_pkey', ['id'])
    .execute();
  await table('endpoint')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('legacy_endpoint_id', ID)
    .addColumn('interface', 'varchar(8)', (c) => c.notNull())
    .addColumn('service_id', ID, (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('extra', 'text')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('region_id', 'varchar(255)')
    .addPrimaryKeyConstraint('endpoint_pkey', ['id'])
    .addForeignKeyConstraint('endpoint_service_id_fkey', ['service_id'], 'service', ['id'])
    .addForeignKeyConstraint('fk_endpoint_region_id', ['region_id'], 'region', ['id'])
    .execute();
  // Named 'service_id' by sqlalchemy-migrate 050; upstream preserves the name.
  await index('service_id', 'endpoint', ['service_id']);
  await table('endpoint_group')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('filters', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('endpoint_group_pkey', ['id'])
    .execute();
  await table('project_endpoint')
    .addColumn('endpoint_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('project_endpoint_pkey', ['endpoint_id', 'project_id'])
    .execute();
  await table('project_endpoint_group')
    .addColumn('endpoint_group_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('project_endpoint_group_pkey', ['endpoint_group_id', 'project_id'])
    .addForeignKeyConstraint(
      'project_endpoint_group_endpoint_group_id_fkey',
      ['endpoint_group_id'],
      'endpoint_group',
      ['id'],
    )
    .execute();
  await index('idx_project_id', 'project_endpoint_group', ['project_id']); // 2025.2, e8725d6fa226
  await table('policy')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('blob', 'text', (c) => c.notNull())
    .addColumn('extra', 'text')
    .addPrimaryKeyConstraint('policy_pkey', ['id'])
    .execute();
  await table('policy_association')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('policy_id', ID, (c) => c.notNull())
    .addColumn('endpoint_id', ID)
    .addColumn('service_id', ID)
    .addColumn('region_id', ID)
    .addPrimaryKeyConstraint('policy_association_pkey', ['id'])
    .addUniqueConstraint('policy_association_endpoint_id_service_id_region_id_key', [
      'endpoint_id',
      'service_id',
      'region_id',
    ])
    .execute();

  // ---- credentials, trusts, application credentials ----
  await table('credential')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID)
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('extra', 'text')
    .addColumn('key_hash', ID, (c) => c.notNull())
    .addColumn('encrypted_blob', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('credential_pkey', ['id'])
    .execute();
  await table('trust')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('trustor_user_id', ID, (c) => c.notNull())
    .addColumn('trustee_user_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID)
    .addColumn('impersonation', 'boolean', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamp')
    .addColumn('expires_at', 'timestamp')
    .addColumn('remaining_uses', 'integer')
    .addColumn('extra', 'text')
    .addColumn('expires_at_int', 'bigint')
    .addColumn('redelegated_trust_id', ID)
    .addColumn('redelegation_count', 'integer')
    .addPrimaryKeyConstraint('trust_pkey', ['id'])
    // bobcat: b4f8b3f584e0 added this one and 99de3849d860 dropped Zed's
    // duplicate_trust_constraint_expanded (which also covered expires_at_int).
    .addUniqueConstraint('duplicate_trust_constraint', [
      'trustor_user_id',
      'trustee_user_id',
      'project_id',
      'impersonation',
      'expires_at',
    ])
    .execute();
  await table('trust_role')
    .addColumn('trust_id', ID, (c) => c.notNull())
    .addColumn('role_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('trust_role_pkey', ['trust_id', 'role_id'])
    .execute();
  await table('application_credential')
    .addColumn('internal_id', 'serial', (c) => c.notNull())
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('secret_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('user_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID)
    .addColumn('expires_at', 'bigint')
    .addColumn('system', ID)
    .addColumn('unrestricted', 'boolean')
    .addPrimaryKeyConstraint('application_credential_pkey', ['internal_id'])
    .addUniqueConstraint('duplicate_app_cred_constraint', ['user_id', 'name'])
    .execute();
  await table('application_credential_role')
    .addColumn('application_credential_id', 'integer', (c) => c.notNull())
    .addColumn('role_id', ID, (c) => c.notNull())
    .addPrimaryKeyConstraint('application_credential_role_pkey', ['application_credential_id', 'role_id'])
    .addForeignKeyConstraint(
      'application_credential_role_application_credential_id_fkey',
      ['application_credential_id'],
      'application_credential',
      ['internal_id'],
      (f) => f.onDelete('cascade'),
    )
    .execute();
  // bobcat (99de3849d860) dropped Zed's UNIQUE access_rule_external_id_key; the index remains.
  await table('access_rule')
    .addColumn('id', 'serial', (c) => c.notNull())
    .addColumn('service', ID)
    .addColumn('path', 'varchar(128)')
    .addColumn('method', 'varchar(16)')
    .addColumn('external_id', ID)
    .addColumn('user_id', ID)
    .addPrimaryKeyConstraint('access_rule_pkey', ['id'])
    .addUniqueConstraint('duplicate_access_rule_for_user_constraint', ['user_id', 'service', 'path', 'method'])
    .execute();
  await index('user_id', 'access_rule', ['user_id']);
  await index('external_id', 'access_rule', ['external_id']);
  await table('application_credential_access_rule')
    .addColumn('application_credential_id', 'integer', (c) => c.notNull())
    .addColumn('access_rule_id', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('application_credential_access_rule_pkey', ['application_credential_id', 'access_rule_id'])
    // PostgreSQL truncated upstream's implicit name to 63 bytes; this is the truncated name.
    .addForeignKeyConstraint(
      'application_credential_access_ru_application_credential_id_fkey',
      ['application_credential_id'],
      'application_credential',
      ['internal_id'],
      (f) => f.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'application_credential_access_rule_access_rule_id_fkey',
      ['access_rule_id'],
      'access_rule',
      ['id'],
      (f) => f.onDelete('cascade'),
    )
    .execute();

  // ---- revocation (spec §5.7) and the legacy token table ----
  await table('revocation_event')
    .addColumn('id', 'serial', (c) => c.notNull())
    .addColumn('domain_id', ID)
    .addColumn('project_id', ID)
    .addColumn('user_id', ID)
    .addColumn('role_id', ID)
    .addColumn('trust_id', ID)
    .addColumn('consumer_id', ID)
    .addColumn('access_token_id', ID)
    .addColumn('issued_before', 'timestamp', (c) => c.notNull())
    .addColumn('expires_at', 'timestamp')
    .addColumn('revoked_at', 'timestamp', (c) => c.notNull())
    .addColumn('audit_id', 'varchar(32)')
    .addColumn('audit_chain_id', 'varchar(32)')
    .addPrimaryKeyConstraint('revocation_event_pkey', ['id'])
    .execute();
  // '_new_' is history: the table was rebuilt as revocation_event_new by migration 095.
  await index('ix_revocation_event_new_revoked_at', 'revocation_event', ['revoked_at']);
  await index('ix_revocation_event_issued_before', 'revocation_event', ['issued_before']);
  await index('ix_revocation_event_project_id_issued_before', 'revocation_event', ['project_id', 'issued_before']);
  await index('ix_revocation_event_user_id_issued_before', 'revocation_event', ['user_id', 'issued_before']);
  await index('ix_revocation_event_audit_id_issued_before', 'revocation_event', ['audit_id', 'issued_before']);
  // 2026.1 (742c857f1dfb).
  await index('ix_revocation_event_project_id_user_id', 'revocation_event', ['project_id', 'user_id']);
  await index('ix_revocation_event_composite', 'revocation_event', ['issued_before', 'user_id', 'project_id', 'audit_id']);
  await table('token')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('expires', 'timestamp')
    .addColumn('extra', 'text')
    .addColumn('valid', 'boolean', (c) => c.notNull())
    .addColumn('trust_id', ID)
    .addColumn('user_id', ID)
    .addPrimaryKeyConstraint('token_pkey', ['id'])
    .execute();
  await index('ix_token_expires', 'token', ['expires']);
  await index('ix_token_expires_valid', 'token', ['expires', 'valid']);
  await index('ix_token_user_id', 'token', ['user_id']);
  await index('ix_token_trust_id', 'token', ['trust_id']);

  // ---- OAuth1 ----
  await table('consumer')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('description', ID)
    .addColumn('secret', ID, (c) => c.notNull())
    .addColumn('extra', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('consumer_pkey', ['id'])
    .execute();
  await table('request_token')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('request_secret', ID, (c) => c.notNull())
    .addColumn('verifier', ID)
    .addColumn('authorizing_user_id', ID)
    .addColumn('requested_project_id', ID, (c) => c.notNull())
    .addColumn('role_ids', 'text')
    .addColumn('consumer_id', ID, (c) => c.notNull())
    .addColumn('expires_at', ID)
    .addPrimaryKeyConstraint('request_token_pkey', ['id'])
    .addForeignKeyConstraint('request_token_consumer_id_fkey', ['consumer_id'], 'consumer', ['id'])
    .execute();
  await index('ix_request_token_consumer_id', 'request_token', ['consumer_id']);
  await table('access_token')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('access_secret', ID, (c) => c.notNull())
    .addColumn('authorizing_user_id', ID, (c) => c.notNull())
    .addColumn('project_id', ID, (c) => c.notNull())
    .addColumn('role_ids', 'text', (c) => c.notNull())
    .addColumn('consumer_id', ID, (c) => c.notNull())
    .addColumn('expires_at', ID)
    .addPrimaryKeyConstraint('access_token_pkey', ['id'])
    .addForeignKeyConstraint('access_token_consumer_id_fkey', ['consumer_id'], 'consumer', ['id'])
    .execute();
  await index('ix_access_token_authorizing_user_id', 'access_token', ['authorizing_user_id']);
  await index('ix_access_token_consumer_id', 'access_token', ['consumer_id']);

  // ---- unified limits ----
  await table('registered_limit')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('service_id', 'varchar(255)')
    .addColumn('region_id', ID)
    .addColumn('resource_name', 'varchar(255)')
    .addColumn('default_limit', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('internal_id', 'serial', (c) => c.notNull())
    .addPrimaryKeyConstraint('registered_limit_pkey', ['internal_id'])
    .addUniqueConstraint('registered_limit_id_key', ['id'])
    .execute();
  // registered_limit_id has no FK upstream (an old sqlalchemy-migrate slip upstream kept).
  await table('limit')
    .addColumn('id', ID, (c) => c.notNull())
    .addColumn('project_id', ID)
    .addColumn('resource_limit', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('internal_id', 'serial', (c) => c.notNull())
    .addColumn('registered_limit_id', ID)
    .addColumn('domain_id', ID)
    .addPrimaryKeyConstraint('limit_pkey', ['internal_id'])
    .addUniqueConstraint('limit_id_key', ['id'])
    .execute();

  // ---- trigger functions ----
  // Left over from old rolling-upgrade migrations: no trigger uses them, but upstream's initial
  // revision creates them on PostgreSQL and a later upstream migration may drop them by name.
  await createTriggerFunction(
    db,
    'keystone_read_only_update',
    `IF NEW.encrypted_blob IS NULL OR (NEW.encrypted_blob IS NOT NULL AND OLD.blob IS NULL) THEN
    RAISE EXCEPTION 'Credential migration in progress. Cannot perform writes to credential table.';
  END IF;
  RETURN NEW;`,
  );
  await createTriggerFunction(
    db,
    'keystone_read_only_insert',
    `RAISE EXCEPTION 'Identity provider migration in progress. Cannot insert new rows into the identity_provider table at this time.';`,
  );
  await createTriggerFunction(
    db,
    'update_federated_user_domain_id',
    `UPDATE "user" SET domain_id = (SELECT domain_id FROM identity_provider WHERE id = NEW.idp_id)
    WHERE id = NEW.user_id AND domain_id IS NULL;
  RETURN NULL;`,
  );
  await createTriggerFunction(
    db,
    'update_user_domain_id',
    `UPDATE "user" SET domain_id = NEW.domain_id WHERE id = NEW.user_id;
  RETURN NULL;`,
  );

  // ---- data ----
  // The root of all domains: domains have domain_id = this row, so project.domain_id can be a
  // foreign key. Keystone's drivers filter it out of every listing.
  await db
    .insertInto('project')
    .values({
      id: ROOT_DOMAIN_ID,
      name: ROOT_DOMAIN_ID,
      enabled: false,
      description: '',
      domain_id: ROOT_DOMAIN_ID,
      is_domain: true,
      parent_id: null,
      extra: '{}',
    })
    .execute();

  // What upstream's alembic records; an upstream Keystone sharing the database reads it.
  await db.schema
    .createTable('alembic_version')
    .addColumn('version_num', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('alembic_version_pkc', ['version_num'])
    .execute();
  await db
    .insertInto('alembic_version')
    .values([{ version_num: KEYSTONE_2026_HEADS.contract }, { version_num: KEYSTONE_2026_HEADS.expand }])
    .execute();
}

async function createTriggerFunction(db: MigrationDb, name: string, body: string): Promise<void> {
  await sql`CREATE FUNCTION ${sql.id(name)}() RETURNS trigger LANGUAGE plpgsql AS ${sql.lit(`
BEGIN
  ${body}
END
`)}`.execute(db);
}

const TABLES_IN_CREATION_ORDER = [
  'project', 'project_option', 'project_tag', 'user', 'group', 'local_user', 'password',
  'nonlocal_user', 'user_option', 'user_group_membership', 'id_mapping', 'whitelisted_config',
  'sensitive_config', 'config_register', 'identity_provider', 'idp_remote_ids',
  'federation_protocol', 'federated_user', 'expiring_user_group_membership', 'mapping',
  'service_provider', 'role', 'role_option', 'implied_role', 'assignment', 'system_assignment',
  'region', 'service', 'endpoint', 'endpoint_group', 'project_endpoint', 'project_endpoint_group',
  'policy', 'policy_association', 'credential', 'trust', 'trust_role', 'application_credential',
  'application_credential_role', 'access_rule', 'application_credential_access_rule',
  'revocation_event', 'token', 'consumer', 'request_token', 'access_token', 'registered_limit',
  'limit', 'alembic_version',
];

/** Drops all of Keystone's schema, data included. For tests and for abandoning a fresh install. */
export async function down(db: MigrationDb): Promise<void> {
  for (const name of [...TABLES_IN_CREATION_ORDER].reverse()) await db.schema.dropTable(name).execute();
  for (const name of ['type', 'entity_type']) await db.schema.dropType(name).execute();
  for (const name of [
    'keystone_read_only_update',
    'keystone_read_only_insert',
    'update_federated_user_domain_id',
    'update_user_domain_id',
  ]) {
    await sql`DROP FUNCTION ${sql.id(name)}()`.execute(db);
  }
}

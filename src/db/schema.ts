import type { Generated } from 'kysely';

/**
 * kysely table types for Keystone's SQL schema at the 2026 alembic heads (spec §6), with
 * Keystone's exact table and column names, plus this project's own `keystone_ts_*` tables.
 *
 * JS types follow src/db/values.ts: DATETIME → Date (UTC), DateTimeInt (BIGINT µs) → number,
 * DATE → 'YYYY-MM-DD' string. `Generated<>` marks columns the database fills in (serial ids,
 * server defaults), so inserts may omit them.
 *
 * A database made by upstream Zed (`existing-zed`, see migrate.ts) lacks `mapping.schema_version`;
 * everything else here exists in both.
 */

/** TEXT holding a JSON document written by Keystone's JsonBlob (`json.dumps`; `{}` when empty). */
export type JsonText = string;

/** Keystone `DateTime`: naive UTC `timestamp without time zone`. */
export type Timestamp = Date;

/** Keystone `DateTimeInt`: BIGINT microseconds since the Unix epoch (UTC). */
export type EpochMicros = number;

/** `DATE` as PostgreSQL prints it: 'YYYY-MM-DD'. */
export type CalendarDate = string;

/** `assignment.type`: the PostgreSQL enum type named `type` (Keystone's AssignmentType). */
export type AssignmentType = 'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain';

/** `system_assignment.type` is a plain VARCHAR(64) holding one of these. */
export type SystemAssignmentType = 'UserSystem' | 'GroupSystem';

/** `id_mapping.entity_type`: the PostgreSQL enum type named `entity_type`. */
export type IdMappingEntityType = 'user' | 'group';

/** `<<keystone.domain.root>>`: the sentinel `project` row every domain points at (spec §6). */
export const ROOT_DOMAIN_ID = '<<keystone.domain.root>>';

/** `role.domain_id` of a global role (the column's server default). */
export const NULL_DOMAIN_ID = '<<null>>';

// ---- identity -------------------------------------------------------------------------------

export interface UserTable {
  id: string;
  extra: JsonText | null;
  enabled: boolean | null;
  default_project_id: string | null;
  created_at: Timestamp | null;
  last_active_at: CalendarDate | null;
  domain_id: string;
}

export interface LocalUserTable {
  id: Generated<number>;
  user_id: string;
  domain_id: string;
  name: string;
  failed_auth_count: number | null;
  failed_auth_at: Timestamp | null;
}

export interface PasswordTable {
  id: Generated<number>;
  local_user_id: number;
  expires_at: Timestamp | null;
  self_service: Generated<boolean>;
  password_hash: string | null;
  /** Keystone orders passwords by this; writers set it with `created_at` (spec §6). */
  created_at_int: Generated<EpochMicros>;
  expires_at_int: EpochMicros | null;
  created_at: Timestamp;
}

export interface NonlocalUserTable {
  domain_id: string;
  name: string;
  user_id: string;
}

export interface FederatedUserTable {
  id: Generated<number>;
  user_id: string;
  idp_id: string;
  protocol_id: string;
  unique_id: string;
  display_name: string | null;
}

export interface UserOptionTable {
  user_id: string;
  option_id: string;
  option_value: JsonText | null;
}

export interface GroupTable {
  id: string;
  domain_id: string;
  name: string;
  description: string | null;
  extra: JsonText | null;
}

export interface UserGroupMembershipTable {
  user_id: string;
  group_id: string;
}

export interface ExpiringUserGroupMembershipTable {
  user_id: string;
  group_id: string;
  idp_id: string;
  last_verified: Timestamp;
}

export interface IdMappingTable {
  public_id: string;
  domain_id: string;
  local_id: string;
  entity_type: IdMappingEntityType;
}

export interface WhitelistedConfigTable {
  domain_id: string;
  group: string;
  option: string;
  value: JsonText;
}

export type SensitiveConfigTable = WhitelistedConfigTable;

export interface ConfigRegisterTable {
  type: string;
  domain_id: string;
}

// ---- resource -------------------------------------------------------------------------------

export interface ProjectTable {
  id: string;
  name: string;
  extra: JsonText | null;
  description: string | null;
  enabled: boolean | null;
  domain_id: string;
  parent_id: string | null;
  is_domain: Generated<boolean>;
}

export interface ProjectOptionTable {
  project_id: string;
  option_id: string;
  option_value: JsonText | null;
}

export interface ProjectTagTable {
  project_id: string;
  name: string;
}

// ---- assignment -----------------------------------------------------------------------------

export interface RoleTable {
  id: string;
  name: string;
  extra: JsonText | null;
  /** {@link NULL_DOMAIN_ID} for global roles (server default). */
  domain_id: Generated<string>;
  description: string | null;
}

export interface RoleOptionTable {
  role_id: string;
  option_id: string;
  option_value: JsonText | null;
}

export interface ImpliedRoleTable {
  prior_role_id: string;
  implied_role_id: string;
}

export interface AssignmentTable {
  type: AssignmentType;
  actor_id: string;
  target_id: string;
  role_id: string;
  inherited: boolean;
}

export interface SystemAssignmentTable {
  type: SystemAssignmentType;
  actor_id: string;
  /** Always `'system'`. */
  target_id: string;
  role_id: string;
  inherited: boolean;
}

// ---- catalog --------------------------------------------------------------------------------

export interface RegionTable {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: JsonText | null;
}

export interface ServiceTable {
  id: string;
  type: string | null;
  enabled: Generated<boolean>;
  extra: JsonText | null;
}

export interface EndpointTable {
  id: string;
  legacy_endpoint_id: string | null;
  interface: string;
  service_id: string;
  url: string;
  extra: JsonText | null;
  enabled: Generated<boolean>;
  region_id: string | null;
}

export interface EndpointGroupTable {
  id: string;
  name: string;
  description: string | null;
  filters: JsonText;
}

export interface ProjectEndpointTable {
  endpoint_id: string;
  project_id: string;
}

export interface ProjectEndpointGroupTable {
  endpoint_group_id: string;
  project_id: string;
}

export interface PolicyTable {
  id: string;
  type: string;
  blob: JsonText;
  extra: JsonText | null;
}

export interface PolicyAssociationTable {
  id: string;
  policy_id: string;
  endpoint_id: string | null;
  service_id: string | null;
  region_id: string | null;
}

// ---- credentials, trusts, application credentials ----------------------------------------------

export interface CredentialTable {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  extra: JsonText | null;
  /** SHA-1 hex of the primary credential key (spec §5.11). */
  key_hash: string;
  /** A Fernet token *with* padding (spec §5.11). */
  encrypted_blob: string;
}

export interface TrustTable {
  id: string;
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string | null;
  impersonation: boolean;
  deleted_at: Timestamp | null;
  expires_at: Timestamp | null;
  remaining_uses: number | null;
  extra: JsonText | null;
  expires_at_int: EpochMicros | null;
  redelegated_trust_id: string | null;
  redelegation_count: number | null;
}

export interface TrustRoleTable {
  trust_id: string;
  role_id: string;
}

export interface ApplicationCredentialTable {
  internal_id: Generated<number>;
  id: string;
  name: string;
  secret_hash: string;
  description: string | null;
  user_id: string;
  project_id: string | null;
  /** DateTimeInt, unlike most `expires_at` columns. */
  expires_at: EpochMicros | null;
  system: string | null;
  unrestricted: boolean | null;
}

export interface ApplicationCredentialRoleTable {
  application_credential_id: number;
  role_id: string;
}

export interface AccessRuleTable {
  id: Generated<number>;
  service: string | null;
  path: string | null;
  method: string | null;
  external_id: string | null;
  user_id: string | null;
}

export interface ApplicationCredentialAccessRuleTable {
  application_credential_id: number;
  access_rule_id: number;
}

// ---- tokens and revocation -------------------------------------------------------------------

export interface RevocationEventTable {
  id: Generated<number>;
  domain_id: string | null;
  project_id: string | null;
  user_id: string | null;
  role_id: string | null;
  trust_id: string | null;
  consumer_id: string | null;
  access_token_id: string | null;
  /** Truncated to whole seconds by Keystone (spec §5.7). */
  issued_before: Timestamp;
  expires_at: Timestamp | null;
  /** Truncated to whole seconds by Keystone (spec §5.7). */
  revoked_at: Timestamp;
  audit_id: string | null;
  audit_chain_id: string | null;
}

/** Legacy UUID-token table; Keystone no longer writes it. */
export interface TokenTable {
  id: string;
  expires: Timestamp | null;
  extra: JsonText | null;
  valid: boolean;
  trust_id: string | null;
  user_id: string | null;
}

// ---- federation -------------------------------------------------------------------------------

export interface IdentityProviderTable {
  id: string;
  enabled: boolean;
  description: string | null;
  domain_id: string;
  authorization_ttl: number | null;
}

export interface IdpRemoteIdsTable {
  idp_id: string | null;
  remote_id: string;
}

export interface FederationProtocolTable {
  id: string;
  idp_id: string;
  mapping_id: string;
  remote_id_attribute: string | null;
}

export interface MappingTable {
  id: string;
  rules: JsonText;
  /** Added in 2024.1 (default '1.0'); absent from a Zed database. */
  schema_version: Generated<string>;
}

export interface ServiceProviderTable {
  auth_url: string;
  id: string;
  enabled: boolean;
  description: string | null;
  sp_url: string;
  /** No server default since bobcat (Zed had 'ss:mem:'): always write it. */
  relay_state_prefix: string;
}

// ---- OAuth1 -----------------------------------------------------------------------------------

export interface ConsumerTable {
  id: string;
  description: string | null;
  /** Plain text (spec §6.1). */
  secret: string;
  extra: JsonText;
}

export interface RequestTokenTable {
  id: string;
  request_secret: string;
  verifier: string | null;
  authorizing_user_id: string | null;
  requested_project_id: string;
  /** JSON list of role ids. */
  role_ids: JsonText | null;
  consumer_id: string;
  /** An ISO 8601 *string*, not a timestamp column. */
  expires_at: string | null;
}

export interface AccessTokenTable {
  id: string;
  access_secret: string;
  authorizing_user_id: string;
  project_id: string;
  /** JSON list of role ids. */
  role_ids: JsonText;
  consumer_id: string;
  /** An ISO 8601 *string*, not a timestamp column. */
  expires_at: string | null;
}

// ---- unified limits ---------------------------------------------------------------------------

export interface RegisteredLimitTable {
  id: string;
  service_id: string | null;
  region_id: string | null;
  resource_name: string | null;
  default_limit: number;
  description: string | null;
  internal_id: Generated<number>;
}

export interface LimitTable {
  id: string;
  project_id: string | null;
  resource_limit: number;
  description: string | null;
  internal_id: Generated<number>;
  /** Refers to registered_limit.id, but upstream never created that foreign key. */
  registered_limit_id: string | null;
  domain_id: string | null;
}

// ---- bookkeeping ------------------------------------------------------------------------------

/** Alembic's table: one row per branch head (expand and contract). */
export interface AlembicVersionTable {
  version_num: string;
}

/** keystone-ts migrations applied (same layout as kysely's own migration table). */
export interface KeystoneTsMigrationTable {
  name: string;
  /** ISO 8601 time the migration ran, as text (kysely's convention). */
  timestamp: string;
}

/** keystone-ts key/value facts about this database (e.g. the Keystone schema it found). */
export interface KeystoneTsMetaTable {
  key: string;
  value: string | null;
}

/** Policy bundles by revision (migration 0004). */
export interface KeystoneTsPolicyBundleTable {
  name: string;
  revision: number;
  kind: string;
  content: string;
  sha256: string;
  created_at: Generated<Date>;
}

/** Token restrictions (migration 0005): list-valued columns are JSON text, NULL = no limit. */
export interface KeystoneTsTokenRestrictionTable {
  id: string;
  domain_id: string;
  user_id: string | null;
  project_id: string | null;
  allow_renew: boolean;
  allow_rescope: boolean;
  actions: JsonText | null;
  source_cidrs: JsonText | null;
  max_lifetime: number | null;
  inline_policy_language: string | null;
  inline_policy_source: string | null;
  created_at: Generated<Date>;
}

export interface KeystoneTsTokenRestrictionRoleTable {
  restriction_id: string;
  role_id: string;
}

/** A user that is a service account, and its owner (migration 0006). */
export interface KeystoneTsServiceAccountTable {
  user_id: string;
  owner_project_id: string | null;
  owner_domain_id: string;
  created_at: Generated<Timestamp>;
}

/** An API key: the secret's slow hash, never the secret (migration 0006). */
export interface KeystoneTsApiKeyTable {
  id: string;
  prefix: string;
  secret_hash: string;
  user_id: string;
  project_id: string | null;
  description: string | null;
  /** JSON array of CIDRs; null: any source. */
  allowed_ips: JsonText | null;
  enabled: boolean;
  expires_at: Timestamp;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

/** A trusted workload issuer (migration 0007). */
export interface KeystoneTsWorkloadIssuerTable {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  preset: string | null;
  bound_issuer: string | null;
  oidc_discovery_url: string | null;
  jwks_url: string | null;
  jwks: string | null;
  jwt_validation_pubkeys: string | null;
  allowed_algorithms: string;
  bound_audiences: string;
  max_token_age: number | null;
  default_mapping_name: string | null;
  created_at: Generated<Date>;
}

export interface KeystoneTsWorkloadBindingTable {
  id: string;
  issuer_id: string;
  name: string;
  enabled: boolean;
  position: number;
  rule: string;
  created_at: Generated<Date>;
}

export interface KeystoneTsWorkloadJtiTable {
  issuer_id: string;
  jti: string;
  expires_at: Date;
}

export interface KeystoneTsTokenAttributesTable {
  audit_id: string;
  attributes: string;
  expires_at: Date;
}

export interface KeystoneDatabase {
  access_rule: AccessRuleTable;
  access_token: AccessTokenTable;
  alembic_version: AlembicVersionTable;
  application_credential: ApplicationCredentialTable;
  application_credential_access_rule: ApplicationCredentialAccessRuleTable;
  application_credential_role: ApplicationCredentialRoleTable;
  assignment: AssignmentTable;
  config_register: ConfigRegisterTable;
  consumer: ConsumerTable;
  credential: CredentialTable;
  endpoint: EndpointTable;
  endpoint_group: EndpointGroupTable;
  expiring_user_group_membership: ExpiringUserGroupMembershipTable;
  federated_user: FederatedUserTable;
  federation_protocol: FederationProtocolTable;
  group: GroupTable;
  id_mapping: IdMappingTable;
  identity_provider: IdentityProviderTable;
  idp_remote_ids: IdpRemoteIdsTable;
  implied_role: ImpliedRoleTable;
  limit: LimitTable;
  local_user: LocalUserTable;
  mapping: MappingTable;
  nonlocal_user: NonlocalUserTable;
  password: PasswordTable;
  policy: PolicyTable;
  policy_association: PolicyAssociationTable;
  project: ProjectTable;
  project_endpoint: ProjectEndpointTable;
  project_endpoint_group: ProjectEndpointGroupTable;
  project_option: ProjectOptionTable;
  project_tag: ProjectTagTable;
  region: RegionTable;
  registered_limit: RegisteredLimitTable;
  request_token: RequestTokenTable;
  revocation_event: RevocationEventTable;
  role: RoleTable;
  role_option: RoleOptionTable;
  sensitive_config: SensitiveConfigTable;
  service: ServiceTable;
  service_provider: ServiceProviderTable;
  system_assignment: SystemAssignmentTable;
  token: TokenTable;
  trust: TrustTable;
  trust_role: TrustRoleTable;
  user: UserTable;
  user_group_membership: UserGroupMembershipTable;
  user_option: UserOptionTable;
  whitelisted_config: WhitelistedConfigTable;
  keystone_ts_migration: KeystoneTsMigrationTable;
  keystone_ts_meta: KeystoneTsMetaTable;
  keystone_ts_policy_bundle: KeystoneTsPolicyBundleTable;
  keystone_ts_token_restriction: KeystoneTsTokenRestrictionTable;
  keystone_ts_token_restriction_role: KeystoneTsTokenRestrictionRoleTable;
  keystone_ts_service_account: KeystoneTsServiceAccountTable;
  keystone_ts_api_key: KeystoneTsApiKeyTable;
  keystone_ts_workload_issuer: KeystoneTsWorkloadIssuerTable;
  keystone_ts_workload_binding: KeystoneTsWorkloadBindingTable;
  keystone_ts_workload_jti: KeystoneTsWorkloadJtiTable;
  keystone_ts_token_attributes: KeystoneTsTokenAttributesTable;
}

/** Keystone's tables (what upstream's alembic creates), for checks and tests. */
export const KEYSTONE_TABLES = [
  'access_rule', 'access_token', 'alembic_version', 'application_credential',
  'application_credential_access_rule', 'application_credential_role', 'assignment',
  'config_register', 'consumer', 'credential', 'endpoint', 'endpoint_group',
  'expiring_user_group_membership', 'federated_user', 'federation_protocol', 'group', 'id_mapping',
  'identity_provider', 'idp_remote_ids', 'implied_role', 'limit', 'local_user', 'mapping',
  'nonlocal_user', 'password', 'policy', 'policy_association', 'project', 'project_endpoint',
  'project_endpoint_group', 'project_option', 'project_tag', 'region', 'registered_limit',
  'request_token', 'revocation_event', 'role', 'role_option', 'sensitive_config', 'service',
  'service_provider', 'system_assignment', 'token', 'trust', 'trust_role', 'user',
  'user_group_membership', 'user_option', 'whitelisted_config',
] as const satisfies readonly (keyof KeystoneDatabase)[];

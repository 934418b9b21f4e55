/**
 * The composition root: configuration → database → stores and services → policy → HTTP.
 * Nothing else wires dependencies; every module receives exactly what it uses.
 */
import { createWriteStream, existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import { createAssignmentService } from './assignment/service.js';
import { createAssignmentStore } from './assignment/store.js';
import { createAssignmentAdmin } from './assignment/admin.js';
import { createAuthenticator } from './auth/authenticate.js';
import { createCatalogAdmin } from './catalog/admin.js';
import { createEndpointPolicyService } from './endpoint-policy/service.js';
import { createEndpointPolicyStore } from './endpoint-policy/store.js';
import { createCatalogService } from './catalog/catalog.js';
import { createCatalogStore } from './catalog/store.js';
import { cachedUntilChange, createChangeFeed, keyedCacheUntilChange, trackWrites, type ChangeFeed } from './common/change-feed.js';
import type { Config } from './config/index.js';
import { ConfigError, NotFound, Unauthorized } from './common/errors.js';
import { openDatabase, type Db } from './db/database.js';
import { ensureChangeTriggers } from './db/change-triggers.js';
import { createIdentityService, type IdentityService } from './identity/service.js';
import { createIdentityStore } from './identity/store.js';
import { createServiceAccountStore } from './identity/service-account-store.js';
import { createServiceAccountService } from './identity/service-accounts.js';
import { createApiKeyStore } from './api-key/store.js';
import { createApiKeyService } from './api-key/service.js';
import { serviceAccountRoutes } from './api/v4/service-accounts.js';
import { apiKeyRoutes } from './api/v4/api-keys.js';
import { createGroupStore } from './identity/group-store.js';
import type { PasswordHashOptions } from './identity/password-hash.js';
import { buildPolicyEngine } from './policy/engines.js';
import { createInlinePolicies } from './policy/restriction-policy.js';
import { observeDecisions } from './policy/decision-log.js';
import { createMetrics, type Metrics } from './common/metrics.js';
import { createCredentialsBuilder } from './policy/credentials.js';
import { loadPolicyRules } from './policy/defaults.js';
import type { PolicyRule } from './policy/pdp.js';
import { findPolicyFile, parsePolicyFile } from './policy/policy-file.js';
import { createBundleStore, createPolicyHolder, POLICY_CHANNEL, type PolicyBundle, type PolicyHolder } from './policy/bundles.js';
import { createResourceStore } from './resource/store.js';
import { createResourceService } from './resource/service.js';
import { createFederationService } from './federation/service.js';
import { createFederationStore } from './federation/store.js';
import { createRevocationService } from './revoke/service.js';
import { createRevokeStore } from './revoke/store.js';
import { KeyRepository } from './token/key-repository.js';
import { TokenFormatter } from './token/formatter.js';
import { createTokenProvider } from './token/provider.js';
import { createHttpApp, type Route } from './api/http.js';
import { openApiRoutes } from './api/openapi.js';
import { packageVersion } from './common/paths.js';
import { createSchemaRegistry } from './api/validation.js';
import { authRoutes } from './api/v3/auth.js';
import { domainRoutes } from './api/v3/domains.js';
import { projectRoutes } from './api/v3/projects.js';
import { userRoutes } from './api/v3/users.js';
import { groupRoutes } from './api/v3/groups.js';
import { roleRoutes } from './api/v3/roles.js';
import { grantRoutes } from './api/v3/grants.js';
import { roleAssignmentRoutes } from './api/v3/role-assignments.js';
import { catalogRoutes } from './api/v3/catalog.js';
import { policyRoutes } from './api/v3/policies.js';
import { domainConfigRoutes } from './api/v3/domain-configs.js';
import { createDomainConfigService } from './domain-config/service.js';
import { createDomainConfigStore } from './domain-config/store.js';
import { endpointFilterRoutes } from './api/v3/endpoint-filter.js';
import { discoveryRoutes } from './api/discovery.js';
import { authzRoutes, metricsRoutes } from './api/v4/authz.js';
import { policyBundleRoutes } from './api/v4/policy-bundles.js';
import { revokeRoutes } from './api/v3/revoke.js';
import { federationRoutes } from './api/v3/federation.js';
import { credentialRoutes } from './api/v3/credentials.js';
import { createCredentialCrypto } from './credential/crypto.js';
import { createEc2Authenticator, EC2_METHOD } from './credential/ec2-auth.js';
import { createCredentialService } from './credential/service.js';
import { createCredentialStore } from './credential/store.js';
import { createBundleService, type BundleService } from './policy/bundle-service.js';
import { opaDataRoutes } from './api/authz/opa-data.js';
import { authzenRoutes } from './api/authz/authzen.js';
import { extAuthzRoutes } from './api/authz/ext-authz.js';
import { createOperationMatcher } from './policy/operations.js';
import { bootstrap, type BootstrapOptions } from './bootstrap/bootstrap.js';
import { createApplicationCredentialService } from './application-credential/service.js';
import { createApplicationCredentialStore } from './application-credential/store.js';
import { applicationCredentialRoutes } from './api/v3/application-credentials.js';
import { createOAuth1Service } from './oauth1/service.js';
import { createOAuth1Store } from './oauth1/store.js';
import { oauth1Routes } from './api/v3/oauth1.js';
import { createTrustService } from './trust/service.js';
import { createTrustStore } from './trust/store.js';
import { trustRoutes } from './api/v3/trusts.js';
import { ReceiptFormatter } from './token/formatter.js';
import { createReceiptProvider } from './receipt/provider.js';
import { createReceiptReplies } from './receipt/handlers.js';
import { createTotpVerifier } from './auth/totp.js';
import { createLimitService } from './limit/service.js';
import { createLimitStore } from './limit/store.js';
import { enforcementModel } from './limit/models.js';
import { limitRoutes } from './api/v3/limits.js';
import { createTokenRestrictionService } from './token-restriction/service.js';
import { createTokenRestrictionStore } from './token-restriction/store.js';
import { createRestrictedTokenIssuer } from './token-restriction/exchange.js';
import { tokenRestrictionRoutes } from './api/v4/token-restrictions.js';
import { ACCESS_TOKEN_TYPE, keystoneTokenExchange, oauth2TokenRoutes, type SubjectTokenHandler } from './api/v4/oauth2-token.js';
import { createWorkloadService, SHADOW_USER_MARK, WORKLOAD_METHOD } from './workload/service.js';
import { createWorkloadStore } from './workload/store.js';
import { createJwtVerifier } from './workload/verify.js';
import { jwtSubjectTokenHandler, workloadIdentityRoutes } from './api/v4/workload-identity.js';
import { JWT_TOKEN_TYPE } from './workload/token-exchange.js';

export type Log = (record: Record<string, unknown>) => void;

/**
 * Where data lives when the operator configured nothing: upstream's default paths
 * (/etc/keystone/...) when they exist, so a host that already runs Keystone is used as is;
 * otherwise the data directory (`./data` or KEYSTONE_TS_DATA), so `npm start` works anywhere.
 */
export interface Locations {
  readonly databaseUrl: string;
  readonly fernetKeys: string;
  readonly receiptKeys: string;
  readonly credentialKeys: string;
}

/**
 * How long a successful API key verification is reused before bcrypt runs again. Revocation
 * does not wait for it (the change feed drops the entry); it bounds what a change the feed
 * cannot see (the database's LISTEN connection lost and back) can leave behind.
 */
const API_KEY_CACHE_TTL_SECONDS = 60;

const UPSTREAM_FERNET_DEFAULT = '/etc/keystone/fernet-keys/';
/** oslo.policy's default file name: when it is absent there are simply no overrides. */
const DEFAULT_POLICY_FILE = 'policy.yaml';
const UPSTREAM_CREDENTIAL_DEFAULT = '/etc/keystone/credential-keys/';

export function resolveLocations(config: Config): Locations {
  const dataDir = path.resolve(config.keystone_ts.data_dir);
  const fallback = (configured: string, upstreamDefault: string, name: string) =>
    configured === upstreamDefault && !existsSync(configured) ? path.join(dataDir, name) : configured;
  const fernetKeys = fallback(config.fernet_tokens.key_repository, UPSTREAM_FERNET_DEFAULT, 'fernet-keys');
  return {
    databaseUrl: config.database.connection ?? `pglite://${path.join(dataDir, 'db')}`,
    fernetKeys,
    // Receipts share the token keys by default, as upstream's identical defaults make them.
    receiptKeys: config.fernet_receipts.key_repository === UPSTREAM_FERNET_DEFAULT ? fernetKeys : config.fernet_receipts.key_repository,
    credentialKeys: fallback(config.credential.key_repository, UPSTREAM_CREDENTIAL_DEFAULT, 'credential-keys'),
  };
}


export function passwordHashOptions(config: Config): PasswordHashOptions {
  return {
    algorithm: config.identity.password_hash_algorithm,
    rounds: config.identity.password_hash_rounds,
    saltBytesize: config.identity.salt_bytesize,
    scryptBlockSize: config.identity.scrypt_block_size,
    scryptParallelism: config.identity.scrypt_parallelism,
    maxPasswordLength: config.identity.max_password_length,
    strictPasswordCheck: config.DEFAULT.strict_password_check,
  };
}

/** Stores and services over one database, shared by the server, the CLI and the tests. */
export function createProviders(database: Db, config: Config, changes: ChangeFeed, now: () => Date = () => new Date()) {
  const db = { kysely: database.kysely.withPlugin(trackWrites(changes)) };
  const resource = createResourceStore(db.kysely);
  const assignments = createAssignmentStore(db.kysely);
  const catalogStore = createCatalogStore(db.kysely);
  const limitModel = enforcementModel(config.unified_limit.enforcement_model);
  const revoke = createRevocationService({
    store: createRevokeStore(db.kysely),
    changes,
    now,
    pruneAfterSeconds: config.token.expiration + config.revoke.expiration_buffer,
  });
  const groups = createGroupStore(db.kysely);
  const serviceAccountStore = createServiceAccountStore(db.kysely);
  const isServiceAccount = async (userId: string) => (await serviceAccountStore.get(userId)) !== undefined;
  const identity: IdentityService = createIdentityService({
    store: createIdentityStore(db.kysely),
    groups,
    revoke,
    resource,
    passwordHashing: passwordHashOptions(config),
    compliance: config.security_compliance,
    listLimit: config.identity.list_limit || config.DEFAULT.list_limit || null,
    now,
    isServiceAccount,
    // Bound late: the service accounts are built on this identity service just below.
    assertMayEnable: (userId) => serviceAccounts.assertMayEnable(userId),
  });
  // Service accounts (issue 6): users with an owner; disabling or deleting the owner disables them.
  const serviceAccounts = createServiceAccountService({
    store: serviceAccountStore,
    identity,
    owners: {
      getProject: (id) => resource.getProject(id),
      getDomain: (id) => resource.getDomain(id),
    },
  });
  const resourceService = createResourceService({
    store: resource,
    revoke,
    now,
    ownersDisabled: (owners) => serviceAccounts.disableOwnedBy(owners),
    // Keystone's federation manager deletes a deleted domain's identity providers (its
    // DOMAIN_DELETED callback); workload issuers belong to their domain the same way.
    async domainDeleted(domainId) {
      for (const idp of await federation.listIdps()) {
        if (idp.domain_id === domainId) await federation.deleteIdp(idp.id).catch((error: unknown) => {
          if (!(error instanceof NotFound)) throw error; // deleted meanwhile
        });
      }
      for (const issuer of await workloadStore.listIssuers({ domain_id: domainId })) await workloadStore.deleteIssuer(issuer.id);
    },
    options: {
      // A hierarchical limit model caps the tree as well (resource/core.py _assert_max_hierarchy_depth).
      maxProjectTreeDepth: Math.min(config.DEFAULT.max_project_tree_depth, limitModel.maxProjectTreeDepth ?? Infinity),
      listLimit: config.resource.list_limit || config.DEFAULT.list_limit || null,
      projectNameUrlSafe: config.resource.project_name_url_safe,
      domainNameUrlSafe: config.resource.domain_name_url_safe,
      federatedDomainName: config.federation.federated_domain_name,
    },
  });
  const userRef = async (id: string) => {
    const user = await identity.getUser(id);
    return user && { id: user.id, name: user.name, domain_id: user.domain_id, enabled: user.enabled };
  };
  // Roles and implication rules are small and rarely written, and every effective listing reads
  // them: they are kept until the change feed reports a write (decision 0002's rule).
  const allRoles = cachedUntilChange(changes, () => assignments.listAllRoles());
  const assignmentReads = {
    ...assignments,
    listImpliedRoles: cachedUntilChange(changes, () => assignments.listImpliedRoles()),
    getRoles: async (ids: readonly string[]) => {
      const wanted = new Set(ids);
      return (await allRoles()).filter((role) => wanted.has(role.id));
    },
  };
  const subtreeIdsUntilChange = keyedCacheUntilChange(changes, 256, async (id: string) => Object.freeze(await resource.subtreeIds(id)));
  const projectIdsInDomainUntilChange = keyedCacheUntilChange(changes, 64, async (id: string) => Object.freeze(await resource.projectIdsInDomain(id)));
  const assignmentAdmin = createAssignmentAdmin({
    store: assignmentReads,
    getProject: (id) => resourceService.getAny(id).catch(() => undefined),
    getDomain: (id) => resourceService.getDomain(id).catch(() => undefined),
    parentsOf: (project) => resourceService.parentsOf(project),
    // The project sets inheritance expands onto: read by every effective listing and written
    // rarely, so kept until the change feed reports a write, as the roles above.
    subtreeIdsOf: subtreeIdsUntilChange,
    projectIdsInDomain: projectIdsInDomainUntilChange,
    getUser: userRef,
    getGroup: (id) => groups.getGroup(id),
    groupIdsOfUser: (userId) => identity.listGroupIds(userId),
    userIdsInGroup: (id) => groups.listMemberIds(id),
    options: { prohibitedImpliedRoles: config.assignment.prohibited_implied_role },
  });
  const assignment = createAssignmentService({ store: assignments });
  // OS-OAUTH1: consumers, request and access tokens (src/oauth1).
  const oauth1 = createOAuth1Service({
    store: createOAuth1Store(db.kysely),
    revoke,
    projectExists: async (id) => (await resource.getProject(id)) !== undefined,
    roleIdByName: async (name) => (await assignments.findGlobalRoleByName(name))?.id,
    userRoleIdsOnProject: async (userId, projectId) =>
      (await assignment.effectiveRolesOnProject(userId, await identity.listGroupIds(userId), projectId)).map((role) => role.id),
    now,
    options: { requestTokenDuration: config.oauth1.request_token_duration, accessTokenDuration: config.oauth1.access_token_duration },
  });
  const catalogAdmin = createCatalogAdmin({ store: catalogStore, projectExists: async (id) => (await resource.getProject(id)) !== undefined });
  // Unified limits (keystone/limit): registered limits and project/domain limits.
  const limits = createLimitService({
    store: createLimitStore(db.kysely),
    model: limitModel,
    serviceExists: async (id) => (await catalogStore.getService(id)) !== undefined,
    regionExists: async (id) => (await catalogStore.getRegion(id)) !== undefined,
    getProject: (id) => resource.getRecord(id),
    domainExists: async (id) => (await resource.getDomain(id)) !== undefined,
    subtreeIds: (id) => resource.subtreeIds(id),
  });
  // Token restrictions (Keystone-NG's /v4/tokens/restrictions): tracked writes, since restricted
  // tokens are validated against them.
  let inlinePolicies: ReturnType<typeof createInlinePolicies> | undefined;
  const tokenRestrictions = createTokenRestrictionService({
    store: createTokenRestrictionStore(db.kysely),
    getDomain: (id) => resource.getDomain(id),
    getProject: (id) => resource.getProject(id),
    getUser: (id) => identity.getUser(id),
    getRole: (id) => assignments.getRole(id),
    // The Cedar schema is loaded on the first inline policy written, not at every start.
    validateInlinePolicy: async (language, source) => {
      inlinePolicies ??= createInlinePolicies({ enforceScope: config.oslo_policy.enforce_scope, enforceNewDefaults: config.oslo_policy.enforce_new_defaults });
      await inlinePolicies.validate(language, source);
    },
  });
  // Issuers and bindings announce their writes; used jti and token attributes do not (migration 0007).
  const workloadStore = createWorkloadStore(db.kysely, database.kysely);
  const federation = createFederationService({
    store: createFederationStore(db.kysely),
    domains: { get: (id) => resourceService.getDomain(id) },
    options: {
      defaultMappingSchemaVersion: config.federation.attribute_mapping_default_schema_version,
      relayStatePrefix: config.saml.relay_state_prefix,
    },
  });
  return {
    resource,
    resourceService,
    serviceAccounts,
    limits,
    tokenRestrictions,
    workloadStore,
    assignments,
    assignmentAdmin,
    groups,
    userRef,
    assignment,
    oauth1,
    catalogStore,
    catalogAdmin,
    endpointPolicy: createEndpointPolicyService({ store: createEndpointPolicyStore(db.kysely), catalog: catalogAdmin }),
    domainConfig: createDomainConfigService({ store: createDomainConfigStore(db.kysely), config }),
    catalog: createCatalogService({
      store: catalogStore,
      changes,
      returnAllEndpointsIfNoFilter: config.endpoint_filter.return_all_endpoints_if_no_filter,
      publicEndpoint: config.DEFAULT.public_endpoint,
    }),
    identity,
    revoke,
    federation,
    // OS-TRUST (keystone/trust).
    trusts: createTrustService({
      store: createTrustStore(db.kysely),
      revoke,
      userExists: async (id) => (await identity.getUser(id)) !== undefined,
      userEnabled: async (id) => (await identity.getUser(id))?.enabled === true,
      projectExists: async (id) => (await resource.getProject(id)) !== undefined,
      getRole: (id) => assignments.getRole(id),
      findGlobalRoleByName: (name) => assignments.findGlobalRoleByName(name),
      trustorRoleIds: async (userId, projectId) => assignment.trustorRoleIdsOnProject(userId, await identity.listGroupIds(userId), projectId),
      now,
      options: { maxRedelegationCount: config.trust.max_redelegation_count },
    }),
    // Application credentials (keystone/application_credential).
    applicationCredentials: createApplicationCredentialService({
      store: createApplicationCredentialStore(db.kysely),
      getRole: (id) => assignments.getRole(id),
      findGlobalRoleByName: (name) => assignments.findGlobalRoleByName(name),
      expandImplied: (roleIds) => assignment.expandImplied(roleIds),
      userRoleIdsOnProject: async (userId, projectId) =>
        new Set((await assignment.effectiveRolesOnProject(userId, await identity.listGroupIds(userId), projectId)).map((r) => r.id)),
      passwordHashing: passwordHashOptions(config),
      userLimit: config.application_credential.user_limit,
      now,
    }),
  };
}

export type Providers = ReturnType<typeof createProviders>;

export interface Service {
  readonly app: Express;
  /** The route table the app serves: validation, policy and documentation all read it. */
  readonly routes: readonly Route[];
  readonly db: Db;
  readonly providers: Providers;
  readonly keys: KeyRepository;
  close(): Promise<void>;
}

/**
 * Keystone refuses to start when a project tree is deeper than the enforcement model allows
 * (LimitTreeExceedError). Its check counts the domain as a level, so it refuses trees its own API
 * created; this one counts as the API's depth check does (decision 0003).
 */
async function assertTreesFitLimitModel(resource: { projectsDeeperThan(maxDepth: number): Promise<string[]> }, config: Config): Promise<void> {
  const maxDepth = enforcementModel(config.unified_limit.enforcement_model).maxProjectTreeDepth;
  if (maxDepth === null) return;
  const exceeded = await resource.projectsDeeperThan(maxDepth);
  if (exceeded.length === 0) return;
  throw new ConfigError(
    `keystone-ts cannot start: the project hierarchy (project_ids: ${exceeded.join(', ')}) exceeds the enforcement model's maximum depth of ${maxDepth}. ` +
      'Use a different [unified_limit] enforcement_model or flatten those projects.',
  );
}

export async function createService(
  config: Config,
  options: { log: Log; now?: () => Date; db?: Db; /** The --config-file list: a relative policy_file is found next to them. */ configFiles?: readonly string[] },
): Promise<Service> {
  const now = options.now ?? (() => new Date());
  if (config.token.provider !== 'fernet') {
    // Refuse rather than silently issue Fernet tokens to a deployment that asked for JWS.
    throw new ConfigError(`[token] provider = ${config.token.provider}: only fernet is supported so far`);
  }
  const locations = resolveLocations(config);
  const db = options.db ?? (await openDatabase(locations.databaseUrl, { poolSize: config.database.max_pool_size }));
  const closers: (() => Promise<void>)[] = options.db ? [] : [() => db.close()];
  try {
    // The schema is the caller's business (serve's start-up, `db sync`): workers and tests get
    // a migrated database and do not pay for a second check.
    const repaired = await ensureChangeTriggers(db);
    if (repaired.length > 0) options.log({ level: 'warning', msg: 'restored missing change triggers', tables: repaired });
    const changes = await createChangeFeed(db, (message) => options.log({ level: 'warning', msg: message }));
    db.onListenerReconnect(() => changes.bump());
    closers.unshift(() => changes.close());
    const providers = createProviders(db, config, changes, now);
    await assertTreesFitLimitModel(providers.resource, config);
    const keys = new KeyRepository(locations.fernetKeys, { optionName: '[fernet_tokens] key_repository' });
    closers.unshift(async () => keys.close());
    keys.keys(); // refuse to start without keys, as Keystone does
    const formatter = new TokenFormatter({ keys, methods: config.auth.methods, defaultDomainId: config.identity.default_domain_id });
    const adminProject =
      config.resource.admin_project_name && config.resource.admin_project_domain_name
        ? { name: config.resource.admin_project_name, domainName: config.resource.admin_project_domain_name }
        : null;
    const tokens = createTokenProvider({
      formatter,
      keys,
      identity: providers.identity,
      resource: providers.resource,
      assignment: providers.assignment,
      revoke: providers.revoke,
      catalog: providers.catalog,
      serviceProviders: cachedUntilChange(changes, () => providers.federation.enabledServiceProviders()),
      changes,
      now,
      applicationCredentials: providers.applicationCredentials,
      oauth1: providers.oauth1,
      trusts: providers.trusts,
      restrictions: providers.tokenRestrictions,
      tokenAttributes: { method: WORKLOAD_METHOD, find: (auditId) => providers.workloadStore.getAttributes(auditId) },
      options: {
        expiration: config.token.expiration,
        allowExpiredWindow: config.token.allow_expired_window,
        adminProject,
        cacheSize: config.token.caching ? 10_000 : 0,
      },
    });
    // MFA (spec 1.7, 5.8): receipts share the token keys unless [fernet_receipts] names its own.
    const receiptKeys = locations.receiptKeys === locations.fernetKeys ? keys : new KeyRepository(locations.receiptKeys, { optionName: '[fernet_receipts] key_repository' });
    if (receiptKeys !== keys) {
      closers.unshift(async () => receiptKeys.close());
      receiptKeys.keys(); // Keystone's receipt provider refuses to start without its keys too
    }
    const receipts = createReceiptProvider({
      formatter: new ReceiptFormatter({ keys: receiptKeys, methods: config.auth.methods, defaultDomainId: config.identity.default_domain_id, now }),
      now,
      expiration: config.receipt.expiration,
    });
    const totp = createTotpVerifier({
      // `credentials` is created below with the routes that serve it; it exists before any request.
      listSecrets: async (userId) => (await credentials.listForUser(userId, 'totp')).map((credential) => String(credential.blob)),
      previousWindows: config.totp.included_previous_windows,
      now,
    });
    const authenticator = createAuthenticator({
      identity: providers.identity,
      resource: providers.resource,
      assignment: providers.assignment,
      tokens,
      applicationCredentials: providers.applicationCredentials,
      oauth1: providers.oauth1,
      trusts: providers.trusts,
      totp,
      receipts,
      isServiceAccount: (userId) => providers.serviceAccounts.isServiceAccount(userId),
      options: {
        methods: config.auth.methods,
        allowRescopeScopedToken: config.token.allow_rescope_scoped_token,
        projectNameUrlSafe: config.resource.project_name_url_safe,
        domainNameUrlSafe: config.resource.domain_name_url_safe,
        additionalPrimaryMethods: [],
      },
    });
    // Keystone reads a missing credential repository as the null key alone; so does this one.
    const credentialKeys = new KeyRepository(locations.credentialKeys, { appendNullKey: true, optionName: '[credential] key_repository' });
    closers.unshift(async () => credentialKeys.close());
    const credentials = createCredentialService({
      // Untracked writes: no validated token depends on a credential row.
      store: createCredentialStore(db.kysely),
      crypto: createCredentialCrypto(credentialKeys),
      userLimit: config.credential.user_limit,
      listLimit: config.DEFAULT.list_limit || null,
    });
    // API keys (issue 6): verified with bcrypt once, then reused until the change feed moves.
    const apiKeys = createApiKeyService({
      store: createApiKeyStore(db.kysely.withPlugin(trackWrites(changes))),
      passwordHashing: passwordHashOptions(config),
      assume: (request) => tokens.assume(request),
      hasRoleOnProject: async (userId, projectId) =>
        (await providers.assignment.effectiveRolesOnProject(userId, await providers.identity.listGroupIds(userId), projectId)).length > 0,
      userExists: async (userId) => (await providers.identity.getUser(userId)) !== undefined,
      changes,
      now,
      options: { cacheTtlSeconds: API_KEY_CACHE_TTL_SECONDS, cacheSize: 10_000 },
      log: options.log,
    });
    const workload = createWorkloadService({
      store: providers.workloadStore,
      verifier: createJwtVerifier({
        maxJwtLength: config.workload_identity.max_jwt_size,
        clockLeeway: config.workload_identity.clock_leeway,
        jwksRefreshInterval: config.workload_identity.jwks_refresh_interval,
        jwksMaxAge: config.workload_identity.jwks_max_age,
        fetch: globalThis.fetch,
        now,
      }),
      changes,
      getDomain: (id) => providers.resource.getDomain(id),
      getUser: (id) => providers.identity.getUser(id),
      findUserByName: (name, domainId) => providers.identity.findUserByName(name, domainId),
      getGroup: (id) => providers.groups.getGroup(id),
      async createShadowUser(name, domainId, issuerId, groupId) {
        // No password: a shadow user logs in only through its identity provider.
        const user = await providers.identity.createUserFromApi({ name, domain_id: domainId, enabled: true, [SHADOW_USER_MARK]: issuerId });
        await providers.identity.addUserToGroup(groupId, user.id);
        return user;
      },
      getProject: (id) => providers.resource.getProject(id),
      async issue(userId, project, restrictionId) {
        if (restrictionId === null) return tokens.issue({ userId, methods: [WORKLOAD_METHOD], scope: { project } });
        // A binding's restriction narrows every token of its logins, as an exchange would.
        const restriction = await providers.tokenRestrictions.find(restrictionId);
        if (!restriction) throw new Unauthorized(`token restriction ${restrictionId} is gone`);
        const cap = restriction.maxLifetime === null ? undefined : new Date(now().getTime() + restriction.maxLifetime * 1000);
        return tokens.issue({
          userId,
          methods: [WORKLOAD_METHOD],
          scope: { project },
          ...(cap && cap.getTime() < now().getTime() + config.token.expiration * 1000 ? { expiresAt: cap } : {}),
          restriction: { id: restriction.id, allowRenew: restriction.allowRenew, allowRescope: restriction.allowRescope },
        });
      },
      getRestriction: (id) => providers.tokenRestrictions.find(id),
      now,
      allowExpiredWindow: config.token.allow_expired_window,
      clockLeeway: config.workload_identity.clock_leeway,
    });
    // Used jti and attributes of expired tokens are dropped now and then; any process may do it.
    const purge = setInterval(() => void workload.purgeExpired().catch((error: unknown) => options.log({ level: 'warning', msg: 'workload purge failed', error: String(error) })), 600_000);
    purge.unref();
    closers.unshift(async () => clearInterval(purge));
    const metrics = createMetrics();
    const decisionLog = openDecisionLog(config.keystone_ts.decision_log);
    closers.unshift(decisionLog.close);
    // Keystone's rules and keystone-ts' own, read once: the engines, the metrics labels and the
    // ext_authz route map all work from them.
    const rules = loadPolicyRules();
    const { holder: policy, bundles } = await startPolicy(db, config, rules, options.configFiles ?? [], metrics, options.log, closers);
    const observedPolicy = observeDecisions(policy, {
      write: decisionLog.write,
      sampleRate: config.keystone_ts.decision_log_sample_rate,
      revision: () => policy.revision,
      metrics,
      knownActions: new Set(rules.map((rule) => rule.name)),
    });
    const schemas = createSchemaRegistry();
    const credentialsFor = createCredentialsBuilder((token) => tokens.isAdminProject(token));
    const authzApi = { policy: observedPolicy, tokens, schemas, credentialsFor };
    const restrictedTokens = createRestrictedTokenIssuer({
      restrictions: providers.tokenRestrictions,
      getProject: (id) => providers.resource.getProject(id),
      issue: (request) => tokens.issue(request),
      now,
    });
    // RFC 8693 token exchange, one handler per subject_token_type.
    const subjectTokenHandlers = new Map<string, SubjectTokenHandler>([
      [ACCESS_TOKEN_TYPE, keystoneTokenExchange({ validate: (text) => tokens.validate(text), issuer: restrictedTokens, restrictions: providers.tokenRestrictions, policy: observedPolicy, credentialsFor })],
      [JWT_TOKEN_TYPE, jwtSubjectTokenHandler({ workload, tokens })],
    ]);
    const routes: Route[] = [
      ...discoveryRoutes(),
      ...openApiRoutes(() => routes, schemas, packageVersion()),
      ...authzRoutes({ policy: observedPolicy }),
      ...opaDataRoutes(authzApi),
      ...authzenRoutes(authzApi),
      ...extAuthzRoutes({ policy: observedPolicy, operations: createOperationMatcher(rules) }),
      ...metricsRoutes({ metrics }),
      ...policyBundleRoutes({ bundles }),
      ...tokenRestrictionRoutes({ restrictions: providers.tokenRestrictions, issuer: restrictedTokens, tokens, getRoles: (ids) => providers.assignment.rolesByIds(ids) }),
      ...oauth2TokenRoutes({ handlers: subjectTokenHandlers, now }),
      ...serviceAccountRoutes({
        serviceAccounts: providers.serviceAccounts,
        projectDomain: async (id) => (await providers.resource.getProject(id))?.domain_id,
      }),
      ...apiKeyRoutes({
        apiKeys,
        serviceAccountOf: (userId) => providers.serviceAccounts.marker(userId),
        userDomain: async (userId) => (await providers.identity.getUser(userId))?.domain_id,
      }),
      ...revokeRoutes({ revoke: providers.revoke }),
      ...authRoutes({
        authenticator,
        tokens,
        identity: providers.identity,
        resource: providers.resource,
        assignments: providers.assignments,
        assignment: providers.assignment,
        catalog: providers.catalog,
        receipts: createReceiptReplies({ receipts, identity: providers.identity, resource: providers.resource, loadedMethods: config.auth.methods }),
      }),
      // Before the domain routes: /v3/domains/config/default is not a domain called "config".
      ...domainConfigRoutes({ configs: providers.domainConfig, resource: providers.resourceService }),
      ...domainRoutes({ resource: providers.resourceService, maxDbLimit: config.DEFAULT.max_db_limit }),
      ...projectRoutes({
        resource: providers.resourceService,
        maxDbLimit: config.DEFAULT.max_db_limit,
        schemas,
        projectIdsForUser: async (userId) =>
          new Set(await providers.assignments.projectIdsWithGrants(userId, await providers.identity.listGroupIds(userId))),
        defaultDomainId: config.identity.default_domain_id,
      }),
      ...userRoutes({
        identity: providers.identity,
        maxDbLimit: config.DEFAULT.max_db_limit,
        projectsForUser: async (userId) => {
          const ids = await providers.assignments.projectIdsWithGrants(userId, await providers.identity.listGroupIds(userId));
          const projects = await Promise.all(ids.map((id) => providers.resourceService.getAny(id).catch(() => undefined)));
          return projects.filter((p) => p !== undefined).sort((a, b) => a.id.localeCompare(b.id));
        },
        defaultDomainId: config.identity.default_domain_id,
      }),
      ...groupRoutes({ identity: providers.identity, defaultDomainId: config.identity.default_domain_id, maxDbLimit: config.DEFAULT.max_db_limit }),
      ...roleRoutes({ roles: providers.assignmentAdmin, listLimit: config.role.list_limit || config.DEFAULT.list_limit || null }),
      ...grantRoutes({
        assignments: providers.assignmentAdmin,
        getProject: (id) => providers.resourceService.getAny(id).catch(() => undefined),
        getDomain: (id) => providers.resourceService.getDomain(id).catch(() => undefined),
        getUser: providers.userRef,
        getGroup: (id) => providers.groups.getGroup(id),
      }),
      ...roleAssignmentRoutes({ assignments: providers.assignmentAdmin }),
      ...applicationCredentialRoutes({ applicationCredentials: providers.applicationCredentials, identity: providers.identity }),
      ...trustRoutes({
        trusts: providers.trusts,
        getRole: (id) => providers.assignments.getRole(id),
        allowApplicationCredentialTrusts: config.security_compliance.allow_insecure_application_credential_trust_escalation,
      }),
      ...catalogRoutes({ admin: providers.catalogAdmin, listLimit: config.catalog.list_limit || config.DEFAULT.list_limit || null }),
      ...endpointFilterRoutes({ admin: providers.catalogAdmin, resource: providers.resource }),
      ...policyRoutes({ policies: providers.endpointPolicy, listLimit: config.policy.list_limit || config.DEFAULT.list_limit || null }),
      ...federationRoutes({ federation: providers.federation }),
      ...workloadIdentityRoutes({ workload, tokens }),
      ...limitRoutes({
        limits: providers.limits,
        schemas,
        listLimit: config.unified_limit.list_limit || config.DEFAULT.list_limit || null,
        getProject: async (id) => {
          const project = await providers.resource.getProject(id);
          return project && { ...project.extra, id: project.id, name: project.name, domain_id: project.domain_id, description: project.description, enabled: project.enabled, parent_id: project.parent_id, is_domain: project.is_domain };
        },
        getDomain: async (id) => {
          const domain = await providers.resource.getDomain(id);
          return domain && { ...domain.extra, id: domain.id, name: domain.name, description: domain.description, enabled: domain.enabled };
        },
        projectIdsInDomain: (domainId) => providers.resource.projectIdsInDomain(domainId),
      }),
      ...credentialRoutes({
        credentials,
        isUnrestrictedAppCred: async (id) => (await providers.applicationCredentials.get(id).catch(() => undefined))?.record.unrestricted === true,
        policy: observedPolicy,
        getUser: (id) => providers.identity.getUser(id),
        getProject: (id) => providers.resource.getProject(id),
        tokens,
        ec2: createEc2Authenticator({
          credentials,
          getUser: (id) => providers.identity.getUser(id),
          getProject: (id) => providers.resource.getProject(id),
          getDomain: (id) => providers.resource.getDomain(id),
          issue: (userId, project) => tokens.issue({ userId, methods: [EC2_METHOD], scope: { project } }),
          authTtlMinutes: config.credential.auth_ttl,
          now,
        }),
      }),
      ...oauth1Routes({
        oauth1: providers.oauth1,
        getRole: (id) => providers.assignments.getRole(id),
        requestTokenDuration: config.oauth1.request_token_duration,
        accessTokenDuration: config.oauth1.access_token_duration,
      }),
    ];
    const app = createHttpApp({
      routes,
      tokens,
      policy: observedPolicy,
      schemas,
      credentialsFor,
      publicEndpoint: config.DEFAULT.public_endpoint,
      maxRequestBodySize: config.oslo_middleware.max_request_body_size,
      log: options.log,
      metrics,
      apiKeys,
    });
    return {
      app,
      routes,
      db,
      providers,
      keys,
      async close() {
        for (const close of closers) await close();
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}

/** Runs bootstrap with the services of `providers`; see bootstrap/bootstrap.ts. */
export function runBootstrap(providers: Providers, options: BootstrapOptions, log: (line: string) => void) {
  return bootstrap(
    {
      resource: providers.resource,
      identity: providers.identity,
      assignments: providers.assignments,
      catalog: providers.catalogStore,
      revoke: providers.revoke,
      log,
    },
    options,
  );
}

/**
 * The decision log's sink: nowhere, stdout, or a file appended to through a stream (buffered
 * and asynchronous, so a decision never waits for the disk).
 */
export function openDecisionLog(target: string): { write?: (line: string) => void; close: () => Promise<void> } {
  if (target === '') return { close: async () => undefined };
  if (target === 'stdout') return { write: (line) => process.stdout.write(`${line}\n`), close: async () => undefined };
  const stream = createWriteStream(target, { flags: 'a', mode: 0o600 });
  return {
    write: (line) => stream.write(`${line}\n`),
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}

/**
 * The policy in force: Keystone's defaults, the operator's policy file, then the newest bundle
 * stored in the database. It is rebuilt when the file changes or a new bundle is announced; a
 * rebuild that fails leaves the previous rules serving and says why in the log.
 */
async function startPolicy(
  db: Db,
  config: Config,
  rules: readonly PolicyRule[],
  configFiles: readonly string[],
  metrics: Metrics,
  log: Log,
  closers: (() => Promise<void>)[],
): Promise<{ holder: PolicyHolder; bundles: BundleService }> {
  const bundles = createBundleStore(db);
  const policyFile = findPolicyFile(config.oslo_policy.policy_file, configFiles, config.oslo_policy.policy_file === DEFAULT_POLICY_FILE);
  const policyFileOverrides = () => (policyFile && existsSync(policyFile) ? parsePolicyFile(readFileSync(policyFile, 'utf8'), policyFile) : {});
  const build = (bundle: PolicyBundle | undefined) => () =>
    buildPolicyEngine({
      kind: config.keystone_ts.policy_engine,
      rules,
      overrides: {
        ...policyFileOverrides(),
        ...(bundle ? parsePolicyFile(bundle.content, `bundle ${bundle.name} revision ${bundle.revision}.json`) : {}),
      },
      enforceScope: config.oslo_policy.enforce_scope,
      enforceNewDefaults: config.oslo_policy.enforce_new_defaults,
    });
  // At start a policy that does not build stops the service: serving Keystone's defaults in
  // place of an operator's tighter rules would be a silent widening.
  const initial = await bundles.latest();
  const holder = createPolicyHolder(await build(initial)(), initial?.revision ?? 0);
  metrics.setBundleRevision(holder.revision);
  const reload = async (reason: string) => {
    const bundle = await bundles.latest();
    const result = await holder.install(bundle?.revision ?? 0, build(bundle));
    if (result.ok) log({ level: 'info', msg: 'policy loaded', reason, revision: holder.revision });
    else log({ level: 'error', msg: 'policy refused; the previous rules keep serving', reason, revision: bundle?.revision, error: result.error });
    metrics.setBundleRevision(holder.revision);
  };
  const unlisten = await db.listen(POLICY_CHANNEL, () => void reload('new bundle').catch((error: unknown) => log({ level: 'error', msg: 'policy reload failed', error: String(error) })));
  // The database may already be closed by its owner (tests): nothing left to unsubscribe then.
  closers.unshift(() => unlisten().catch(() => undefined));
  if (policyFile) {
    const onChange = () => void reload('policy file changed').catch((error: unknown) => log({ level: 'error', msg: 'policy reload failed', error: String(error) }));
    watchFile(policyFile, { interval: 500, persistent: false }, onChange);
    closers.unshift(async () => unwatchFile(policyFile, onChange));
  }
  const service = createBundleService({
    store: bundles,
    rules,
    engine: config.keystone_ts.policy_engine,
    enforceScope: config.oslo_policy.enforce_scope,
    enforceNewDefaults: config.oslo_policy.enforce_new_defaults,
    policyFileOverrides,
  });
  return { holder, bundles: service };
}

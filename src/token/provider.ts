import { Forbidden, KeystoneError, NotFound, TokenNotFound, Unauthorized } from '../common/errors.js';
import { newAuditId } from '../common/ids.js';
import { pythonJson } from '../common/json.js';
import { keystoneIsoTime, naiveIsoTime } from '../common/time.js';
import type { AssignmentService } from '../assignment/service.js';
import type { RoleRef } from '../assignment/store.js';
import type { CatalogProvider, CatalogService } from '../catalog/catalog.js';
import type { IdentityService, User } from '../identity/service.js';
import type { DomainRef, ProjectRef, ResourceStore } from '../resource/store.js';
import type { RevocationService } from '../revoke/service.js';
import { keyedCacheUntilChange, type ChangeFeed } from '../common/change-feed.js';
import { type TokenData, type TokenFormatter } from './formatter.js';
import { tokenContent, type TokenRestrictionRef } from './payload.js';
import type { TokenRestrictionRecord } from '../token-restriction/store.js';

export type TokenScope =
  | { readonly kind: 'unscoped' }
  | { readonly kind: 'project'; readonly project: ProjectRef; readonly domain: DomainRef }
  | { readonly kind: 'domain'; readonly domain: DomainRef }
  | { readonly kind: 'system' };

/** A token that passed every validation step, with the state it was validated against. */
export interface ValidatedToken {
  readonly data: TokenData;
  readonly user: User;
  readonly userDomain: DomainRef;
  readonly scope: TokenScope;
  /** Effective roles, recomputed at every validation (tokens carry none, spec 5.1). */
  readonly roles: readonly RoleRef[];
  readonly auditId: string;
  readonly parentAuditId: string | null;
  /** The application credential of a payload-9 token, loaded at every validation. */
  readonly applicationCredential?: TokenApplicationCredential;
  /** OAuth1 tokens (payload 7): the access token and its consumer, looked up at validation. */
  readonly oauth1?: { readonly accessTokenId: string; readonly consumerId: string };
  /** Trust tokens (payload 3): the trust and its trustor, read again at every validation. */
  readonly trust?: TokenTrust;
  /** Restricted tokens (payload 11): the restriction as it is now, read again at every validation. */
  readonly restriction?: TokenRestrictionRecord;
  /**
   * Workload tokens: the claims their login's binding selected (src/workload). A Fernet payload
   * cannot carry them; they are stored by the audit id that starts the token's chain.
   */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** What validating and rendering a trust-scoped token need of the trust. */
export interface TokenTrustRecord {
  readonly id: string;
  readonly trustorUserId: string;
  /** The trustor at the start of a redelegation chain: the roles are checked against this user's. */
  readonly originalTrustorUserId: string;
  readonly trusteeUserId: string;
  readonly projectId: string | null;
  readonly impersonation: boolean;
  readonly roleIds: readonly string[];
  readonly expiresAt: Date | null;
}

export interface TokenTrust {
  readonly record: TokenTrustRecord;
  readonly trustor: User;
  readonly trustorDomain: DomainRef;
}

/** Trusts as token validation reads them: get throws TrustNotFound (404) for gone, expired or used-up trusts. */
export interface TrustLookup {
  get(id: string): Promise<TokenTrustRecord>;
}

/** What validating an OAuth1 token needs from OS-OAUTH1; undefined once the access token is gone. */
export interface OAuth1Delegations {
  delegation(accessTokenId: string): Promise<{ consumerId: string; roleIds: readonly string[] } | undefined>;
}

/** What validating and rendering an application-credential token need of the credential. */
export interface TokenApplicationCredential {
  readonly id: string;
  readonly name: string;
  readonly unrestricted: boolean | null;
  readonly expiresAt: Date | null;
  readonly roleIds: readonly string[];
  readonly accessRules: readonly { readonly id: string; readonly service: string | null; readonly path: string | null; readonly method: string | null }[];
}

/** keystonemiddleware's lowest access-rules version (ACCESS_RULES_MIN_VERSION). */
const ACCESS_RULES_MIN_VERSION = 1.0;

export interface TokenProviderOptions {
  /** [token] expiration, seconds. */
  readonly expiration: number;
  /** [token] allow_expired_window, seconds. */
  readonly allowExpiredWindow: number;
  /** [resource] admin_project_name / admin_project_domain_name: both set → is_admin_project. */
  readonly adminProject: { readonly name: string; readonly domainName: string } | null;
  /** Validated tokens kept in memory while nothing they depend on has changed. */
  readonly cacheSize: number;
}

export interface TokenProviderDeps {
  readonly formatter: TokenFormatter;
  /** The formatter's key source: a new key set (rotation) must invalidate cached validations. */
  readonly keys: { keys(): readonly Buffer[] };
  readonly identity: IdentityService;
  readonly resource: ResourceStore;
  readonly assignment: AssignmentService;
  readonly revoke: RevocationService;
  readonly catalog: CatalogProvider;
  /** Enabled OS-FEDERATION service providers, `{auth_url, id, sp_url}` each. */
  readonly serviceProviders: () => Promise<readonly { auth_url: string; id: string; sp_url: string }[]>;
  readonly changes: ChangeFeed;
  readonly now: () => Date;
  readonly options: TokenProviderOptions;
  /** Application credentials by id; without it, payload-9 tokens are not valid here. */
  readonly applicationCredentials?: { find(id: string): Promise<TokenApplicationCredential | undefined> };
  /** Without it OAuth1 tokens are not valid here. */
  readonly oauth1?: OAuth1Delegations;
  /** Without it trust-scoped tokens are not valid here. */
  readonly trusts?: TrustLookup;
  /** Token restrictions by id; without it restricted tokens are not valid here. */
  readonly restrictions?: { find(id: string): Promise<TokenRestrictionRecord | undefined> };
  /**
   * Attributes of tokens issued by a workload login, by the audit id that starts the chain;
   * read for tokens carrying `method`. Without it no token has attributes.
   */
  readonly tokenAttributes?: { readonly method: string; find(chainAuditId: string): Promise<Readonly<Record<string, unknown>> | undefined> };
}

export interface IssueRequest {
  readonly userId: string;
  readonly methods: readonly string[];
  readonly scope: { project?: ProjectRef; domain?: DomainRef; system?: boolean };
  /** Rescoping keeps the original expiry; otherwise now + [token] expiration. */
  readonly expiresAt?: Date;
  /** The audit chain: a rescoped token carries its ancestor's audit id as parent. */
  readonly parentAuditId?: string | null;
  /** An application-credential token (payload 9); its expiry caps the token's (CVE-2022-2447). */
  readonly applicationCredential?: { readonly id: string; readonly expiresAt: Date | null };
  /** OAuth1: the access token the project-scoped token is issued through. */
  readonly accessTokenId?: string;
  /** A trust-scoped token (payload 3): the project is the trust's. */
  readonly trustId?: string;
  /** A restricted token (payload 11), always project-scoped. */
  readonly restriction?: TokenRestrictionRef;
}

export type TokenProvider = ReturnType<typeof createTokenProvider>;

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** Unauthorized-family errors mean "this token is not valid"; on validate they become 404s. */
function asTokenNotFound(error: unknown): never {
  if (error instanceof Unauthorized) throw new TokenNotFound('Failed to validate token', error.detail);
  throw error;
}

export function createTokenProvider(deps: TokenProviderDeps) {
  const { options } = deps;

  // Valid results stay in memory until something they depend on changes (decision 0002).
  let knownKeys = deps.keys.keys();
  const rendered = new WeakMap<ValidatedToken, { withCatalog?: string; withoutCatalog?: string }>();
  const load = (tokenText: string) => check(parse(tokenText)).catch(asTokenNotFound);
  const validated = options.cacheSize > 0 ? keyedCacheUntilChange(deps.changes, options.cacheSize, load) : load;

  async function requireDomain(id: string): Promise<DomainRef> {
    const domain = await deps.resource.getDomain(id);
    if (!domain) throw NotFound.entity('domain', id);
    return domain;
  }

  /**
   * Keystone's "mint" checks, run on every validation in Keystone's order (spec 1.6 step 2):
   * project and its domain enabled, user exists and its domain enabled, then the scope must
   * yield at least one role.
   */
  async function mint(data: TokenData): Promise<Omit<ValidatedToken, 'data' | 'auditId' | 'parentAuditId'>> {
    if ((data.restriction && !deps.restrictions) || (data.trustId && !deps.trusts) || (data.appCredId && !deps.applicationCredentials) || (data.accessTokenId && !deps.oauth1) || data.federatedGroupIds || data.thumbprint) {
      // Federated tokens need their own store (the Identity API issue), and a deployment without
      // a delegation store cannot check its tokens: not valid here rather than half-checked.
      throw new TokenNotFound('Failed to validate token', 'token type not supported yet');
    }
    // OAuth1: the access token is looked up at every validation, so deleting it (or its
    // consumer) ends every token issued through it (token_model.access_token).
    let oauth1: { accessTokenId: string; consumerId: string; roleIds: readonly string[] } | undefined;
    if (data.accessTokenId) {
      const delegation = await deps.oauth1!.delegation(data.accessTokenId);
      if (!delegation) throw new TokenNotFound('Failed to validate token', `access token ${data.accessTokenId} not found`);
      oauth1 = { accessTokenId: data.accessTokenId, ...delegation };
    }
    let scope: TokenScope = { kind: 'unscoped' };
    if (data.projectId) {
      const project = await deps.resource.getProject(data.projectId);
      if (!project) throw NotFound.entity('project', data.projectId);
      if (!project.enabled) throw new NotFound(`Unable to validate token because project ${project.id} is disabled`);
      const domain = await requireDomain(project.domain_id);
      if (!domain.enabled) throw new NotFound(`Unable to validate token because domain ${domain.id} is disabled`);
      scope = { kind: 'project', project, domain };
    } else if (data.domainId) {
      scope = { kind: 'domain', domain: await requireDomain(data.domainId) };
    } else if (data.system) {
      scope = { kind: 'system' };
    }

    const user = await deps.identity.getUser(data.userId);
    if (!user) throw NotFound.entity('user', data.userId);
    const userDomain = await requireDomain(user.domain_id);
    if (!userDomain.enabled) throw new NotFound(`Unable to validate token because domain ${userDomain.id} is disabled`);

    const applicationCredential = data.appCredId ? await loadApplicationCredential(data.appCredId) : undefined;
    const trust = data.trustId ? await loadTrust(data.trustId, user) : undefined;
    const restriction = data.restriction ? await loadRestriction(data.restriction.id, user, scope) : undefined;
    let roles: readonly RoleRef[] = [];
    if (trust) {
      roles = await trustRoles(trust, scope);
    } else if (scope.kind !== 'unscoped') {
      const groupIds = await deps.identity.listGroupIds(user.id);
      if (scope.kind === 'project') roles = await deps.assignment.effectiveRolesOnProject(user.id, groupIds, scope.project.id);
      else if (scope.kind === 'domain') roles = await deps.assignment.effectiveRolesOnDomain(user.id, groupIds, scope.domain.id);
      else roles = await deps.assignment.effectiveRolesOnSystem(user.id, groupIds);
      if (applicationCredential && scope.kind === 'project') {
        // The credential's roles the user still holds: a revoked grant shrinks its tokens at once.
        const granted = new Set(applicationCredential.roleIds);
        roles = roles.filter((role) => granted.has(role.id));
      }
      // OAuth1 (_get_oauth_roles): the delegated roles and what they imply, that the user still has.
      if (oauth1) {
        const delegated = await deps.assignment.expandImplied(oauth1.roleIds);
        roles = roles.filter((role) => delegated.has(role.id));
      }
      // Restricted tokens: the restriction's roles (and what they imply) that the user holds
      // right now. A role the restriction names but the user lacks grants nothing (Keystone-NG
      // grants it; decision 0008), and a revoked grant shrinks the token at its next request.
      if (restriction) {
        const allowed = await deps.assignment.expandImplied(restriction.roleIds);
        roles = roles.filter((role) => allowed.has(role.id));
      }
      if (roles.length === 0) throw new Unauthorized(`User ${user.id} has no access to the ${scope.kind} of this token`);
    }
    return {
      user,
      userDomain,
      scope,
      roles,
      ...(applicationCredential ? { applicationCredential } : {}),
      ...(oauth1 ? { oauth1: { accessTokenId: oauth1.accessTokenId, consumerId: oauth1.consumerId } } : {}),
      ...(trust ? { trust } : {}),
      ...(restriction ? { restriction } : {}),
    };
  }

  /**
   * The restriction of a restricted token, which must still exist and still fit the token: its
   * user (when it names one) and its project (when it names one) and its domain, the project's.
   * Any mismatch means the restriction changed under the token: not valid any more.
   */
  async function loadRestriction(id: string, user: User, scope: TokenScope): Promise<TokenRestrictionRecord> {
    const record = await deps.restrictions!.find(id);
    if (!record) throw new TokenNotFound('Failed to validate token', `token restriction ${id} not found`);
    if (scope.kind !== 'project') throw new TokenNotFound('Failed to validate token', 'restricted token without a project');
    if ((record.userId !== null && record.userId !== user.id) || (record.projectId !== null && record.projectId !== scope.project.id) || record.domainId !== scope.domain.id) {
      throw new TokenNotFound('Failed to validate token', `token restriction ${id} no longer covers this token`);
    }
    return record;
  }

  /**
   * The trust checks of Keystone's token model (_validate_token_user): the token's user must be
   * the trustee, both users' domains enabled, and the trustor enabled.
   */
  async function loadTrust(trustId: string, user: User): Promise<TokenTrust> {
    const record = await deps.trusts!.get(trustId);
    if (user.id !== record.trusteeUserId) throw new Forbidden('User is not a trustee.');
    const trustor = await deps.identity.getUser(record.trustorUserId);
    if (!trustor) throw NotFound.entity('user', record.trustorUserId);
    const trustorDomain = await requireDomain(trustor.domain_id);
    if (!trustorDomain.enabled) throw new TokenNotFound('Trustor domain is disabled.');
    const trusteeDomain = await requireDomain(user.domain_id);
    if (!trusteeDomain.enabled) throw new TokenNotFound('Trustee domain is disabled.');
    if (!trustor.enabled) throw new Forbidden('Trustor is disabled.');
    return { record, trustor, trustorDomain };
  }

  /**
   * _get_trust_roles: every delegated role, implied ones included, must still be held on the
   * trust's project by the original trustor (the first link of a redelegation chain); only global
   * roles reach the token.
   */
  async function trustRoles(trust: TokenTrust, scope: TokenScope): Promise<RoleRef[]> {
    const delegated = await deps.assignment.expandImplied(trust.record.roleIds);
    const held = new Set<string>();
    if (scope.kind === 'project') {
      const trustorId = trust.record.originalTrustorUserId;
      const groupIds = await deps.identity.listGroupIds(trustorId);
      for (const id of await deps.assignment.trustorRoleIdsOnProject(trustorId, groupIds, scope.project.id)) held.add(id);
    }
    for (const id of delegated) if (!held.has(id)) throw new Forbidden('Trustee has no delegated roles.');
    const roles = await deps.assignment.rolesByIds([...delegated]);
    return roles.filter((role) => role.domain_id === null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Keystone reads the credential on every validation: a deleted one is its 404, not a 401. */
  async function loadApplicationCredential(id: string): Promise<TokenApplicationCredential> {
    const found = await deps.applicationCredentials!.find(id);
    if (!found) throw new NotFound(`Could not find Application Credential: ${id}.`);
    return found;
  }

  /**
   * Keystone refuses app-credential tokens with access rules to a validator that does not say it
   * enforces them (the OpenStack-Identity-Access-Rules header, spec 1.6 step 6).
   */
  function checkAccessRulesSupport(token: ValidatedToken, declared: string | null): void {
    if (!token.applicationCredential || token.applicationCredential.accessRules.length === 0) return;
    const version = declared === null ? Number.NaN : Number.parseFloat(declared);
    if (!(version >= ACCESS_RULES_MIN_VERSION)) throw new TokenNotFound('Failed to validate token', 'access rules not supported by the validator');
  }

  /** Everything but expiry, which depends on the request (allow_expired) and on the clock. */
  async function check(data: TokenData): Promise<ValidatedToken> {
    const minted = await mint(data);
    const auditIds = data.auditIds;
    const auditId = auditIds.length > 1 ? auditIds[auditIds.length - 2]! : auditIds[0] ?? '';
    const parentAuditId = auditIds.length > 1 ? auditIds[auditIds.length - 1]! : null;
    // A rescoped workload token keeps its login's attributes: the chain's first audit id names it.
    const attributes = deps.tokenAttributes && data.methods.includes(deps.tokenAttributes.method) ? await deps.tokenAttributes.find(parentAuditId ?? auditId) : undefined;
    const token: ValidatedToken = { ...minted, data, auditId, parentAuditId, ...(attributes ? { attributes } : {}) };
    await checkRevocation(token);
    if (!token.user.enabled) throw new Unauthorized(`User ${token.user.id} is disabled`);
    return token;
  }

  function checkExpiry(data: TokenData, allowExpired: boolean): void {
    const window = allowExpired ? options.allowExpiredWindow * 1000 : 0;
    if (deps.now().getTime() >= data.expiresAt.getTime() + window) throw new TokenNotFound('Failed to validate token', 'expired');
  }

  async function checkRevocation(token: ValidatedToken): Promise<void> {
    const scope = token.scope;
    const revoked = await deps.revoke.isRevoked({
      issued_at: token.data.issuedAt,
      expires_at: token.data.expiresAt,
      user_id: token.user.id,
      trustor_id: token.trust?.record.trustorUserId ?? null,
      trustee_id: token.trust?.record.trusteeUserId ?? null,
      project_id: scope.kind === 'project' ? scope.project.id : null,
      identity_domain_id: token.userDomain.id,
      assignment_domain_id: scope.kind === 'project' || scope.kind === 'domain' ? scope.domain.id : null,
      audit_id: token.auditId,
      audit_chain_id: token.parentAuditId,
      trust_id: token.trust?.record.id ?? null,
      consumer_id: token.oauth1?.consumerId ?? null,
      role_ids: token.roles.map((r) => r.id),
    });
    if (revoked) throw new TokenNotFound('Failed to validate token', 'revoked');
  }

  function parse(tokenText: string): TokenData {
    try {
      return deps.formatter.parse(tokenText);
    } catch (error) {
      if (error instanceof KeystoneError) throw error;
      throw new TokenNotFound('Could not recognize Fernet token', error instanceof Error ? error.message : 'invalid');
    }
  }

  return {
    /**
     * Validates a token as the subject of GET/HEAD/DELETE /v3/auth/tokens or as a caller's
     * X-Auth-Token. Failures are Keystone's: TokenNotFound (404, or 401 for a caller), or the
     * NotFound of a vanished user/project/domain.
     */
    async validate(
      tokenText: string,
      opts: {
        allowExpired?: boolean;
        /** OpenStack-Identity-Access-Rules of a subject token's request; absent for a caller's own token, which Keystone's middleware vouches for. */
        accessRulesVersion?: string | null;
      } = {},
    ): Promise<ValidatedToken> {
      if (!tokenText) throw new TokenNotFound('No token in the request');
      // The repository keeps the array's identity while its keys stay the same; a rotation
      // that purged a key must make tokens encrypted with it invalid at once.
      const keys = deps.keys.keys();
      if (keys !== knownKeys) {
        knownKeys = keys;
        deps.changes.bump();
      }
      const token = await validated(tokenText);
      checkExpiry(token.data, opts.allowExpired ?? false);
      // A cached validation outlives the trust's own expiry unless it is checked on every call.
      const trust = token.trust?.record;
      if (trust?.expiresAt && deps.now().getTime() >= trust.expiresAt.getTime()) throw new NotFound(`Could not find trust: ${trust.id}.`);
      if (opts.accessRulesVersion !== undefined) checkAccessRulesSupport(token, opts.accessRulesVersion);
      // A restriction's maximum lifetime, lowered after issue, shortens the tokens already out.
      const maxLifetime = token.restriction?.maxLifetime;
      if (maxLifetime != null && deps.now().getTime() >= token.data.issuedAt.getTime() + maxLifetime * 1000 && !opts.allowExpired) {
        throw new TokenNotFound('Failed to validate token', 'past the restriction maximum lifetime');
      }
      return token;
    },

    /**
     * Issues a token after authentication; the same mint checks run, so a scope without roles
     * is refused (401 at issue time, like Keystone).
     */
    async issue(request: IssueRequest): Promise<{ tokenText: string; token: ValidatedToken }> {
      const now = deps.now();
      let expiresAt = wholeSeconds(request.expiresAt ?? new Date(now.getTime() + options.expiration * 1000));
      const appCredExpiry = request.applicationCredential?.expiresAt;
      if (appCredExpiry && appCredExpiry.getTime() < expiresAt.getTime()) expiresAt = wholeSeconds(appCredExpiry);
      const auditIds = request.parentAuditId ? [newAuditId(), request.parentAuditId] : [newAuditId()];
      const { project, domain, system } = request.scope;
      const data = tokenContent({
        userId: request.userId,
        methods: [...new Set(request.methods)],
        auditIds,
        expiresAt,
        system: system ? 'all' : null,
        domainId: project ? null : domain?.id ?? null,
        projectId: project?.id ?? null,
        appCredId: request.applicationCredential?.id ?? null,
        accessTokenId: request.accessTokenId ?? null,
        trustId: request.trustId ?? null,
        restriction: request.restriction ?? null,
      });
      const tokenText = deps.formatter.create(data, { timestamp: Math.floor(now.getTime() / 1000) });
      const minted = await mint({ ...data, issuedAt: wholeSeconds(now) });
      if (project && minted.scope.kind === 'project' && !project.enabled) throw new Unauthorized('project disabled');
      return {
        tokenText,
        token: { ...minted, data: { ...data, issuedAt: wholeSeconds(now) }, auditId: auditIds[0]!, parentAuditId: auditIds[1] ?? null },
      };
    },

    /**
     * The validated token of a request authenticated by other means than a token (an API key):
     * every check a token gets at validation (scope enabled, roles held now, user enabled, not
     * revoked), with no token text made. Failures are those of validation (401 family, 404s).
     */
    async assume(request: { userId: string; methods: readonly string[]; projectId: string | null; expiresAt: Date }): Promise<ValidatedToken> {
      const now = deps.now();
      const data = tokenContent({
        userId: request.userId,
        methods: [...request.methods],
        auditIds: [newAuditId()],
        expiresAt: wholeSeconds(request.expiresAt),
        projectId: request.projectId,
      });
      return check({ ...data, issuedAt: wholeSeconds(now) });
    },

    /** DELETE /v3/auth/tokens: revokes this token only, by its audit id (spec 3.3). */
    async revoke(token: ValidatedToken): Promise<void> {
      await deps.revoke.revoke({ audit_id: token.auditId });
    },

    /**
     * The policy credential: false for domain tokens, true when no admin project is configured
     * (oslo.context's default, kept for compatibility), else whether this is the admin project.
     */
    isAdminProject(token: ValidatedToken): boolean {
      const ap = options.adminProject;
      if (token.scope.kind === 'domain') return false;
      if (ap === null) return true;
      return token.scope.kind === 'project' && token.scope.project.name === ap.name && token.scope.domain.name === ap.domainName;
    },

    /**
     * The validate response body as JSON text, kept per validated token: the token object is
     * replaced whenever anything it depends on (catalog included) changes, so the text is too.
     */
    async renderJson(token: ValidatedToken, opts: { includeCatalog: boolean }): Promise<string> {
      let texts = rendered.get(token);
      if (!texts) rendered.set(token, (texts = {}));
      const slot = opts.includeCatalog ? 'withCatalog' : 'withoutCatalog';
      return (texts[slot] ??= pythonJson(await this.render(token, opts)));
    },

    /** Keystone's token body (render_token_response_from_model), key order included. */
    async render(token: ValidatedToken, opts: { includeCatalog: boolean; methodsAsIssued?: readonly string[] }): Promise<{ token: Record<string, unknown> }> {
      const { user, userDomain, scope } = token;
      const body: Record<string, unknown> = {
        methods: opts.methodsAsIssued ?? token.data.methods,
        user: {
          domain: { id: userDomain.id, name: userDomain.name },
          id: user.id,
          name: user.name,
          password_expires_at: user.password_expires_at ? naiveIsoTime(user.password_expires_at) : null,
        },
        audit_ids: token.data.auditIds,
        expires_at: keystoneIsoTime(token.data.expiresAt),
        issued_at: keystoneIsoTime(token.data.issuedAt),
      };
      const roles = token.roles.map((r) => ({ id: r.id, name: r.name }));
      if (scope.kind === 'system') {
        body['roles'] = roles;
        body['system'] = { all: true };
      } else if (scope.kind === 'domain') {
        body['domain'] = { id: scope.domain.id, name: scope.domain.name };
        body['roles'] = roles;
      } else if (scope.kind === 'project' && token.trust) {
        const { record, trustor, trustorDomain } = token.trust;
        body['OS-TRUST:trust'] = { id: record.id, trustor_user: { id: record.trustorUserId }, trustee_user: { id: record.trusteeUserId }, impersonation: record.impersonation };
        body['project'] = { domain: { id: scope.domain.id, name: scope.domain.name }, id: scope.project.id, name: scope.project.name };
        // Impersonation shows the trustor in the user's place (its key keeps its position).
        if (record.impersonation) {
          body['user'] = {
            domain: { id: trustorDomain.id, name: trustorDomain.name },
            id: trustor.id,
            name: trustor.name,
            password_expires_at: trustor.password_expires_at ? naiveIsoTime(trustor.password_expires_at) : null,
          };
        }
        // Trust tokens carry full role dicts (render_token.py), other tokens {id, name}.
        body['roles'] = token.roles.map((r) => ({ id: r.id, name: r.name, domain_id: r.domain_id, description: r.description, options: { ...r.options } }));
      } else if (scope.kind === 'project') {
        body['project'] = { domain: { id: scope.domain.id, name: scope.domain.name }, id: scope.project.id, name: scope.project.name };
        body['is_domain'] = scope.project.is_domain;
        body['roles'] = roles;
        if (options.adminProject) body['is_admin_project'] = this.isAdminProject(token);
      }
      if (opts.includeCatalog && scope.kind !== 'unscoped') {
        const catalog: CatalogService[] = await deps.catalog.catalogFor({
          // A trust token's catalog is the trustor's.
          userId: token.trust?.trustor.id ?? user.id,
          projectId: scope.kind === 'project' ? scope.project.id : null,
        });
        body['catalog'] = catalog;
      }
      // Every token, scoped or not, with or without catalog, lists them (render_token.py).
      const serviceProviders = await deps.serviceProviders();
      if (serviceProviders.length > 0) body['service_providers'] = serviceProviders;
      if (token.oauth1) body['OS-OAUTH1'] = { access_token_id: token.oauth1.accessTokenId, consumer_id: token.oauth1.consumerId };
      const appCred = token.applicationCredential;
      if (appCred) {
        body['application_credential'] = {
          id: appCred.id,
          name: appCred.name,
          restricted: !appCred.unrestricted,
          ...(appCred.accessRules.length > 0 ? { access_rules: appCred.accessRules.map((r) => ({ id: r.id, service: r.service, path: r.path, method: r.method })) } : {}),
        };
      }
      return { token: body };
    },
  };
}

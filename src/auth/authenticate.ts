import { AuthMethodNotSupported, ForbiddenAction, NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import type { ApplicationCredentialRecord } from '../application-credential/store.js';
import type { IdentityService, User } from '../identity/service.js';
import type { DomainRef, ProjectRef, ResourceStore } from '../resource/store.js';
import type { AssignmentService } from '../assignment/service.js';
import type { TokenProvider, ValidatedToken } from '../token/provider.js';
import type { TokenRestrictionRef } from '../token/payload.js';
import type { OAuth1Service, SignedHttpRequest } from '../oauth1/service.js';
import type { ReceiptProvider } from '../receipt/provider.js';
import { InsufficientAuthMethods, mfaSatisfied } from './mfa.js';
import type { TotpVerifier } from './totp.js';

/**
 * POST /v3/auth/tokens, Keystone's authenticate_for_token as a list of small named steps:
 * check the request's shape, resolve the requested scope (before any credential is checked,
 * as Keystone does), run each method, agree on one user, default the scope, then issue.
 */

function expecting(attribute: string, target: string): ValidationError {
  return new ValidationError(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

/** Characters Keystone's `project_name_url_safe = strict` refuses in names (spec 3.1). */
const URL_UNSAFE = /[:/?#[\]@!$&'()*+,;=]/;

/** Methods that prove who the caller is; others are delegated credentials (Debian's backport). */
const PRIMARY_METHODS = new Set(['external', 'kerberos', 'mapped', 'openid', 'password', 'saml2', 'token', 'totp', 'x509']);

export interface AuthenticatorOptions {
  /** [auth] methods, in order: also the Fernet method bitmask order. */
  readonly methods: readonly string[];
  readonly allowRescopeScopedToken: boolean;
  readonly projectNameUrlSafe: 'off' | 'new' | 'strict';
  readonly domainNameUrlSafe: 'off' | 'new' | 'strict';
  readonly additionalPrimaryMethods: readonly string[];
}

export interface AuthenticatorDeps {
  readonly identity: IdentityService;
  readonly resource: ResourceStore;
  readonly assignment: AssignmentService;
  readonly tokens: TokenProvider;
  readonly options: AuthenticatorOptions;
  /** The application_credential method's credentials; the method is refused without them. */
  readonly applicationCredentials?: ApplicationCredentialAuth;
  /** The `oauth1` method: absent, that method is not supported. */
  readonly oauth1?: Pick<OAuth1Service, 'authenticate'>;
  /** The `totp` method's passcode check: absent, that method is not supported. */
  readonly totp?: TotpVerifier;
  /** Auth receipts (MFA continuation): absent, an `Openstack-Auth-Receipt` header is refused. */
  readonly receipts?: Pick<ReceiptProvider, 'validate'>;
  /** OS-TRUST: absent, trust-scoped requests are refused. */
  readonly trusts?: TrustScopeSource;
  /** Service accounts: refused every interactive method (password, TOTP, passkey). */
  readonly isServiceAccount?: (userId: string) => Promise<boolean>;
}

/** The trusts a trust-scoped request names, and the use each issued token consumes. */
export interface TrustScopeSource {
  /** Keystone's get_trust: a gone, expired or used-up trust throws TrustNotFound. */
  get(id: string): Promise<{ readonly id: string; readonly projectId: string | null }>;
  consumeUse(id: string): Promise<void>;
}

export interface ApplicationCredentialAuth {
  find(id: string): Promise<ApplicationCredentialRecord | undefined>;
  findByName(userId: string, name: string): Promise<ApplicationCredentialRecord[]>;
  /** Secret and expiry; throws Unauthorized. */
  authenticate(record: ApplicationCredentialRecord, secret: unknown): Promise<void>;
}

/** Keystone's ApplicationCredentialAuthError: an auth-plugin 401 whose text is shown, with `identity: {}`. */
class ApplicationCredentialAuthError extends Unauthorized {
  constructor(detail: string) {
    super(detail, { message: `Error authenticating with application credential: ${detail}`, extra: { identity: {} } });
  }
}

interface RequestedScope {
  project?: ProjectRef;
  domain?: DomainRef;
  system?: boolean;
  unscoped?: boolean;
  trustId?: string;
  any: boolean;
}

/** What a method contributes once it succeeded. */
interface MethodResult {
  readonly userId: string;
  readonly extraMethods?: readonly string[];
  readonly expiresAt?: Date;
  readonly parentAuditId?: string | null;
  readonly applicationCredential?: ApplicationCredentialRecord;
  /** OAuth1: the token is scoped to the access token's project, whatever the body asked. */
  readonly oauth1?: { readonly project: ProjectRef; readonly accessTokenId: string };
  /** A restricted token renewed or rescoped: the new token is restricted too, to this project. */
  readonly restricted?: { readonly project: ProjectRef; readonly restriction: TokenRestrictionRef };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

export function createAuthenticator(deps: AuthenticatorDeps) {
  const { options } = deps;
  const loaded = new Set(options.methods);
  const primary = new Set([...PRIMARY_METHODS, ...options.additionalPrimaryMethods]);

  async function lookupDomain(ref: Json): Promise<DomainRef> {
    const id = typeof ref['id'] === 'string' ? ref['id'] : undefined;
    const name = typeof ref['name'] === 'string' ? ref['name'] : undefined;
    if (id === undefined && name === undefined) throw expecting('id or name', 'domain');
    if (name !== undefined && id === undefined && options.domainNameUrlSafe === 'strict' && URL_UNSAFE.test(name)) {
      throw new Unauthorized('domain name is not URL safe');
    }
    const domain = id !== undefined ? await deps.resource.getDomain(id) : await deps.resource.findDomainByName(name!);
    if (!domain) throw new Unauthorized(`domain ${id ?? name} not found`);
    if (!domain.enabled) throw new Unauthorized(`domain ${domain.id} is disabled`);
    return domain;
  }

  async function lookupProject(ref: Json): Promise<ProjectRef> {
    const name = typeof ref['name'] === 'string' ? ref['name'] : undefined;
    let project: ProjectRef | undefined;
    if (name !== undefined) {
      if (options.projectNameUrlSafe === 'strict' && URL_UNSAFE.test(name)) throw new Unauthorized('project name is not URL safe');
      const domainRef = asObject(ref['domain']);
      if (!domainRef) throw expecting('domain', 'project');
      const domain = await lookupDomain(domainRef);
      project = await deps.resource.findProjectByName(name, domain.id);
    } else {
      const id = typeof ref['id'] === 'string' ? ref['id'] : undefined;
      if (id === undefined) throw expecting('id or name', 'project');
      project = await deps.resource.getProject(id);
      if (project) await lookupDomain({ id: project.domain_id });
    }
    if (!project) throw new Unauthorized('project not found');
    if (!project.enabled) throw new Unauthorized(`project ${project.id} is disabled`);
    return project;
  }

  /**
   * A trust scope is the trust's project (AuthInfo._lookup_trust). authenticate_for_token turns a
   * missing, expired or used-up trust into a 401.
   */
  async function trustScope(ref: Json): Promise<RequestedScope> {
    const id = typeof ref['id'] === 'string' && ref['id'] !== '' ? ref['id'] : undefined;
    if (id === undefined) throw expecting('trust_id', 'trust');
    if (!deps.trusts) throw new Unauthorized('trusts are not enabled');
    const trust = await deps.trusts.get(id).catch((error: unknown) => {
      if (error instanceof NotFound) throw new Unauthorized(error.message);
      throw error;
    });
    if (trust.projectId === null) return { trustId: trust.id, any: true };
    return { trustId: trust.id, project: await lookupProject({ id: trust.projectId }), any: true };
  }

  /** Exactly one scope kind, else Keystone's 400; unknown or disabled targets are 401. */
  async function resolveScope(scope: unknown): Promise<RequestedScope> {
    if (scope === undefined || scope === null) return { any: false };
    if (scope === 'unscoped') return { unscoped: true, any: false };
    const obj = asObject(scope);
    const keys = obj ? Object.keys(obj) : [];
    if (!obj || keys.length !== 1) throw expecting('system, project, domain, OS-TRUST:trust or unscoped', 'scope');
    if ('unscoped' in obj) return { unscoped: true, any: false };
    if ('system' in obj) return { system: true, any: true };
    if ('project' in obj) return { project: await lookupProject(asObject(obj['project']) ?? {}), any: true };
    if ('domain' in obj) return { domain: await lookupDomain(asObject(obj['domain']) ?? {}), any: true };
    if ('OS-TRUST:trust' in obj) return trustScope(asObject(obj['OS-TRUST:trust']) ?? {});
    throw expecting('system, project, domain, OS-TRUST:trust or unscoped', 'scope');
  }

  /** The password method's user lookup (UserAuthInfo): domain enabled, then user enabled. */
  async function lookupUser(payload: Json, method = 'password'): Promise<User> {
    const userRef = asObject(payload['user']);
    if (!userRef) throw expecting('user', method);
    const id = typeof userRef['id'] === 'string' && userRef['id'] !== '' ? userRef['id'] : undefined;
    const name = typeof userRef['name'] === 'string' && userRef['name'] !== '' ? userRef['name'] : undefined;
    if (id === undefined && name === undefined) throw expecting('id or name', 'user');
    let user: User | undefined;
    if (name !== undefined && id === undefined) {
      const domainRef = asObject(userRef['domain']);
      if (!domainRef) throw expecting('domain', 'user');
      const domain = await lookupDomain(domainRef);
      user = await deps.identity.findUserByName(name, domain.id);
    } else {
      user = await deps.identity.getUser(id!);
      if (user) {
        const domain = await deps.resource.getDomain(user.domain_id);
        if (!domain?.enabled) throw new Unauthorized(`domain ${user.domain_id} is disabled`);
      }
    }
    if (!user) throw new Unauthorized('user not found');
    if (!user.enabled) throw new Unauthorized(`user ${user.id} is disabled`);
    return user;
  }

  /**
   * A service account is a machine: it proves itself with an application credential, an API
   * key or its platform's token, never with something a person types. Checked before the
   * secret, so a refusal neither verifies a password nor counts toward lockout.
   */
  async function refuseServiceAccount(user: User, method: string): Promise<void> {
    if (deps.isServiceAccount && (await deps.isServiceAccount(user.id))) throw new Unauthorized(`user ${user.id} is a service account: ${method} login refused`);
  }

  async function passwordMethod(payload: Json): Promise<MethodResult> {
    const user = await lookupUser(payload);
    await refuseServiceAccount(user, 'password');
    const password = asObject(payload['user'])?.['password'];
    if (typeof password !== 'string') throw new Unauthorized('no password given');
    // The lockout counter is released only once the whole request succeeded (see below).
    await deps.identity.authenticatePassword(user.id, password, { keepAttemptClaimed: true });
    return { userId: user.id };
  }

  /**
   * The totp method (keystone/auth/plugins/totp.py): the user as for passwords, then a passcode
   * of one of the user's `totp` credentials. Failures count toward lockout (decision 0003).
   */
  async function totpMethod(payload: Json): Promise<MethodResult> {
    if (!deps.totp) throw new AuthMethodNotSupported(options.methods);
    const totp = deps.totp;
    const user = await lookupUser(payload, 'totp');
    await refuseServiceAccount(user, 'totp');
    const passcode = asObject(payload['user'])?.['passcode'];
    await deps.identity.authenticateWithSecondFactor(user.id, () => totp.verify(user.id, passcode), 'Invalid username or TOTP passcode');
    return { userId: user.id };
  }

  /** The token method: rescoping keeps expiry, user and audit chain (spec 3.1). */
  async function tokenMethod(payload: Json, requested: RequestedScope): Promise<MethodResult> {
    if (typeof payload['id'] !== 'string') throw expecting('id', 'token');
    const old: ValidatedToken = await deps.tokens.validate(payload['id']);
    const wantsProjectOrDomain = !!(requested.project || requested.domain);
    if (old.data.accessTokenId) throw new ForbiddenAction('Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead');
    if (old.data.trustId) throw new ForbiddenAction('Using trust-scoped token to create another token. Create a new trust-scoped token instead');
    if (old.scope.kind === 'system' && wantsProjectOrDomain) {
      throw new ForbiddenAction('Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.');
    }
    // A token from a narrow credential (app credential, OAuth1, EC2) must not be widened by
    // rescoping: Keystone's later fix, adopted here (an empty method list is delegated too).
    if (old.data.methods.length === 0 || old.data.methods.some((m) => !primary.has(m))) {
      throw new ForbiddenAction('Using a delegated token to create another token is not allowed.');
    }
    if (!options.allowRescopeScopedToken && (old.scope.kind === 'project' || old.scope.kind === 'domain')) {
      throw new ForbiddenAction('rescope a scoped token');
    }
    if (old.data.restriction) return restrictedTokenMethod(old, requested);
    return {
      userId: old.user.id,
      extraMethods: old.data.methods,
      expiresAt: old.data.expiresAt,
      parentAuditId: old.parentAuditId ?? old.auditId,
    };
  }

  /**
   * The token method with a restricted token: the same project is a renewal (allow_renew),
   * another project a rescope (allow_rescope, and only where the restriction reaches); any other
   * scope is refused. Either way the new token is restricted by the same restriction, with the
   * old token's expiry, so neither step ever widens or lengthens it. A flag holds only while
   * both the token and the restriction as it is now allow it.
   */
  async function restrictedTokenMethod(old: ValidatedToken, requested: RequestedScope): Promise<MethodResult> {
    const issued = old.data.restriction!;
    const current = old.restriction!;
    if (old.scope.kind !== 'project') throw new ForbiddenAction('A restricted token is project scoped.');
    if (requested.domain || requested.system || requested.unscoped || requested.trustId) {
      throw new ForbiddenAction('A restricted token can only be renewed or rescoped to a project.');
    }
    const project = requested.project ?? old.scope.project;
    if (project.id === old.scope.project.id) {
      if (!(issued.allowRenew && current.allowRenew)) throw new ForbiddenAction('Renewing this restricted token is not allowed by its restriction.');
    } else {
      if (!(issued.allowRescope && current.allowRescope)) throw new ForbiddenAction('Rescoping this restricted token is not allowed by its restriction.');
      if ((current.projectId !== null && current.projectId !== project.id) || project.domain_id !== current.domainId) {
        throw new ForbiddenAction('The restriction of this token does not permit that project.');
      }
    }
    return {
      userId: old.user.id,
      extraMethods: old.data.methods,
      expiresAt: old.data.expiresAt,
      parentAuditId: old.parentAuditId ?? old.auditId,
      restricted: { project, restriction: { id: current.id, allowRenew: issued.allowRenew, allowRescope: issued.allowRescope } },
    };
  }

  // ---- application_credential (keystone/auth/core.py _lookup_app_cred, plugins/application_credential.py)

  /**
   * The credential named in the request, found before any secret is checked (Keystone takes the
   * token's scope from it first): by id, or by name among the credentials of the given user.
   */
  async function lookupApplicationCredential(payload: Json): Promise<ApplicationCredentialRecord> {
    const appCreds = deps.applicationCredentials!;
    if (typeof payload['id'] === 'string' && payload['id'] !== '') {
      const found = await appCreds.find(payload['id']);
      // Keystone lets ApplicationCredentialNotFound through here: a 404, not a 401.
      if (!found) throw new NotFound(`Could not find Application Credential: ${payload['id']}.`);
      return found;
    }
    const name = payload['name'];
    if (typeof name !== 'string' || name === '') throw expecting('name or ID', 'application credential');
    const userRef = asObject(payload['user']);
    if (!userRef) throw expecting('user', 'application credential');
    let userId = typeof userRef['id'] === 'string' && userRef['id'] !== '' ? userRef['id'] : undefined;
    if (userId === undefined) {
      const domainRef = asObject(userRef['domain']);
      if (!domainRef) throw expecting('domain', 'user');
      const domain = await lookupDomain(domainRef);
      const userName = String(userRef['name'] ?? '');
      const user = await deps.identity.findUserByName(userName, domain.id);
      if (!user) throw NotFound.entity('user', userName);
      userId = user.id;
    }
    const matches = await appCreds.findByName(userId, name);
    if (matches.length !== 1) throw new Unauthorized(`Could not find application credential: ${name}`);
    return matches[0]!;
  }

  /**
   * The method itself: the owner must exist and be enabled (by id the owner is always the
   * credential's user, whatever `user` says: LP#2148477), then the secret and expiry.
   */
  async function applicationCredentialMethod(payload: Json, record: ApplicationCredentialRecord): Promise<MethodResult> {
    const byId = typeof payload['id'] === 'string' && payload['id'] !== '';
    const user = await lookupUser(byId ? { user: { id: record.userId } } : payload, 'application_credential');
    if (user.id !== record.userId) throw new Unauthorized('application credential belongs to another user');
    await deps.applicationCredentials!.authenticate(record, payload['secret']);
    return { userId: user.id, applicationCredential: record };
  }

  /** Application credentials choose no scope: the token is for the credential's project. */
  async function applicationCredentialScope(authObj: Json, payload: Json): Promise<{ requested: RequestedScope; record: ApplicationCredentialRecord }> {
    if ('scope' in authObj) throw new ApplicationCredentialAuthError('Application credentials cannot request a scope.');
    const record = await lookupApplicationCredential(payload);
    if (!record.projectId) throw new Unauthorized(`application credential ${record.id} has no project`);
    const project = await deps.resource.getProject(record.projectId);
    if (!project) throw NotFound.entity('project', record.projectId);
    return { requested: { project, any: true }, record };
  }

  /**
   * The oauth1 method (keystone/auth/plugins/oauth1.py): the request itself is signed with the
   * consumer's and the access token's secrets; the body's `oauth1` member carries nothing.
   */
  async function oauth1Method(request: SignedHttpRequest | undefined): Promise<MethodResult> {
    if (!deps.oauth1 || !request) throw new AuthMethodNotSupported(options.methods);
    const delegated = await deps.oauth1.authenticate(request);
    const user = await deps.identity.getUser(delegated.userId);
    if (!user) throw new Unauthorized('user of the access token not found');
    if (!user.enabled) throw new Unauthorized(`user ${user.id} is disabled`);
    const project = await lookupProject({ id: delegated.projectId });
    return { userId: user.id, oauth1: { project, accessTokenId: delegated.accessTokenId } };
  }

  /**
   * No scope and not explicitly unscoped: the user's default project, if it exists, is enabled
   * with its domain, and the user has a role there; otherwise silently unscoped.
   */
  async function defaultScope(userId: string): Promise<RequestedScope> {
    const user = await deps.identity.getUser(userId);
    if (!user) throw new Unauthorized('user vanished during authentication');
    if (!user.default_project_id) return { any: false };
    const project = await deps.resource.getProject(user.default_project_id);
    if (!project?.enabled) return { any: false };
    const domain = await deps.resource.getDomain(project.domain_id);
    if (!domain?.enabled) return { any: false };
    const roles = await deps.assignment.effectiveRolesOnProject(userId, await deps.identity.listGroupIds(userId), project.id);
    return roles.length > 0 ? { project, any: true } : { any: false };
  }

  // ---- multi-factor authentication (keystone/api/_shared/authentication.py, receipt/handlers.py)

  /**
   * The methods an auth receipt vouches for. Read after the methods ran, as Keystone does: a
   * receipt issued to another user is ReceiptNotFound, like an unreadable or expired one.
   */
  async function receiptMethods(text: string | undefined, userId: string): Promise<readonly string[]> {
    if (text === undefined || text === '') return [];
    if (!deps.receipts) throw new Unauthorized('auth receipts are not enabled');
    const data = deps.receipts.validate(text);
    if (data.userId !== userId) throw new Unauthorized(`auth receipt of user ${data.userId} presented for user ${userId}`);
    return data.methods;
  }

  async function assertMfaSatisfied(userId: string, methods: readonly string[]): Promise<void> {
    const user = await deps.identity.getUser(userId);
    if (!user) throw new Unauthorized('user vanished during authentication');
    if (!mfaSatisfied(user.options, new Set(methods), loaded)) throw new InsufficientAuthMethods(userId, methods);
  }

  return {
    /**
     * @param receipt the `Openstack-Auth-Receipt` header: methods that already succeeded for this user
     * @throws InsufficientAuthMethods when every method succeeded but the user's MFA rules want more
     */
    async authenticate(auth: unknown, request?: SignedHttpRequest, receipt?: string): Promise<{ tokenText: string; token: ValidatedToken; methods: string[] }> {
      const authObj = asObject(auth);
      if (!authObj) throw expecting('auth', 'request body');
      const identity = asObject(authObj['identity']);
      if (!identity) throw expecting('identity', 'auth');
      if (!Array.isArray(identity['methods'])) throw expecting('methods', 'identity');
      const methodNames = [...new Set(identity['methods'] as string[])];
      // Unsupported methods are refused before payloads are looked for (Keystone checks the other
      // way round): the 400 would echo whatever string the client sent as a method name.
      for (const name of methodNames) if (typeof name !== 'string' || !loaded.has(name)) throw new AuthMethodNotSupported(options.methods);
      for (const name of methodNames) if (!(name in identity)) throw expecting(name, 'identity');

      const appCredPayload = methodNames.includes('application_credential') ? asObject(identity['application_credential']) ?? {} : undefined;
      if (appCredPayload && !deps.applicationCredentials) throw new AuthMethodNotSupported(options.methods);
      const appCredScope = appCredPayload ? await applicationCredentialScope(authObj, appCredPayload) : undefined;
      const requested = appCredScope ? appCredScope.requested : await resolveScope(authObj['scope']);

      const results: MethodResult[] = [];
      for (const name of methodNames) {
        const payload = asObject(identity[name]) ?? {};
        if (name === 'password') results.push(await passwordMethod(payload));
        else if (name === 'token') results.push(await tokenMethod(payload, requested));
        else if (name === 'application_credential' && appCredScope) results.push(await applicationCredentialMethod(payload, appCredScope.record));
        else if (name === 'oauth1') results.push(await oauth1Method(request));
        else if (name === 'totp') results.push(await totpMethod(payload));
        else throw new AuthMethodNotSupported(options.methods);
      }
      if (results.length === 0) throw new Unauthorized('User not found by auth plugin; authentication failed');
      const userId = results[0]!.userId;
      // Every method must have authenticated the same user (MFA with two proofs of one identity).
      if (results.some((r) => r.userId !== userId)) throw new Unauthorized('methods disagree on the user');

      const delegation = results.find((r) => r.oauth1)?.oauth1;
      const restricted = results.find((r) => r.restricted)?.restricted;
      const scope: RequestedScope = delegation
        ? { project: delegation.project, any: true }
        : restricted
          ? { project: restricted.project, any: true }
          : requested.any || requested.unscoped
            ? requested
            : await defaultScope(userId);
      const methods = [...new Set([...methodNames, ...results.flatMap((r) => r.extraMethods ?? []), ...(await receiptMethods(receipt, userId))])];
      await assertMfaSatisfied(userId, methods);
      const expiries = results.map((r) => r.expiresAt).filter((d): d is Date => d !== undefined);
      const expiresAt = expiries.length > 0 ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : undefined;
      const parentAuditId = results.find((r) => r.parentAuditId)?.parentAuditId ?? null;
      const appCred = results.find((r) => r.applicationCredential)?.applicationCredential;

      const issued = await deps.tokens
        .issue({
          userId,
          methods,
          scope: { project: scope.project, domain: scope.domain, system: scope.system },
          expiresAt,
          parentAuditId,
          ...(appCred ? { applicationCredential: { id: appCred.id, expiresAt: appCred.expiresAt } } : {}),
          accessTokenId: delegation?.accessTokenId,
          ...(scope.trustId ? { trustId: scope.trustId } : {}),
          ...(restricted ? { restriction: restricted.restriction } : {}),
        })
        .catch((error: unknown) => {
          // A concurrent request took the trust's last use after the scope was read: the trust
          // is gone for this one too, a 401 as at the scope step (not the validator's 404).
          if (scope.trustId && error instanceof NotFound) throw new Unauthorized(error.message);
          throw error;
        });
      // A use is consumed only once the token exists (authenticate_for_token).
      if (scope.trustId) await deps.trusts!.consumeUse(scope.trustId);
      await deps.identity.releaseAuthAttempts(userId);
      return { ...issued, methods };
    },
  };
}

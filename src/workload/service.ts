import { createPublicKey } from 'node:crypto';
import { Conflict, NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { keyedCacheUntilChange, type ChangeFeed } from '../common/change-feed.js';
import type { DomainRef, ProjectRef } from '../resource/store.js';
import type { ValidatedToken } from '../token/provider.js';
import { claimAt, evaluateBinding, selectAttributes, type BindingRule, type ClaimCondition } from './bindings.js';
import { PRESETS, SUPPORTED_ALGORITHMS } from './presets.js';
import { isUniqueViolation, type BindingRecord, type IssuerRecord, type WorkloadStore } from './store.js';
import { JwtRefused, outboundUrlProblem, type JwtVerifier } from './verify.js';

/** The auth method a workload token carries: Keystone's federated method, in the default `[auth] methods`. */
export const WORKLOAD_METHOD = 'mapped';

export interface WorkloadServiceDeps {
  readonly store: WorkloadStore;
  readonly verifier: JwtVerifier;
  readonly changes: ChangeFeed;
  readonly getDomain: (id: string) => Promise<DomainRef | undefined>;
  readonly getUser: (id: string) => Promise<WorkloadUser | undefined>;
  readonly findUserByName: (name: string, domainId: string) => Promise<WorkloadUser | undefined>;
  readonly getGroup: (id: string) => Promise<{ id: string; domain_id: string } | undefined>;
  /** Creates a user without a password, marked as the shadow of `issuerId`, in `groupId`. */
  readonly createShadowUser: (name: string, domainId: string, issuerId: string, groupId: string) => Promise<WorkloadUser>;
  readonly getProject: (id: string) => Promise<ProjectRef | undefined>;
  /** Issues the login's token: a restricted one (payload 11) when the binding names a restriction. */
  readonly issue: (userId: string, project: ProjectRef, restrictionId: string | null) => Promise<{ tokenText: string; token: ValidatedToken }>;
  /** A token restriction, for checking a binding that names one. */
  readonly getRestriction: (id: string) => Promise<{ id: string; domainId: string; userId: string | null; projectId: string | null } | undefined>;
  readonly now: () => Date;
  /** Seconds a token stays presentable after expiry ([token] allow_expired_window): its attributes live as long. */
  readonly allowExpiredWindow: number;
  /** Seconds of leeway the verifier allows on `exp`: a used `jti` is kept that much longer. */
  readonly clockLeeway: number;
}

export interface WorkloadUser {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly enabled: boolean;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** The `extra` attribute that marks a shadow user with the issuer it belongs to. */
export const SHADOW_USER_MARK = 'workload_identity_provider_id';

/** What a login would issue, or did. */
export interface LoginOutcome {
  readonly issuer: IssuerRecord;
  readonly binding: BindingRecord;
  readonly user: { id: string; name: string; domain_id: string };
  /** A shadow user that this login creates (a dry run only says so). */
  readonly createsShadowUser: boolean;
  readonly project: ProjectRef;
  readonly attributes: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
}

const ISSUER_FIELDS = [
  'preset', 'bound_issuer', 'oidc_discovery_url', 'jwks_url', 'jwks', 'jwt_validation_pubkeys', 'allowed_algorithms',
  'bound_audiences', 'max_token_age', 'default_mapping_name',
] as const;

type Body = Record<string, unknown>;

/** Keystone-NG's wire shape: absent optional fields are left out, not null. */
export function renderIssuer(issuer: IssuerRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { id: issuer.id, name: issuer.name, domain_id: issuer.domain_id, enabled: issuer.enabled };
  for (const field of ISSUER_FIELDS) if (issuer[field] !== null) out[field] = issuer[field];
  return out;
}

export function renderBinding(binding: BindingRecord, issuer: IssuerRecord): Record<string, unknown> {
  const { rule } = binding;
  const out: Record<string, unknown> = {
    id: binding.id,
    name: binding.name,
    idp_id: binding.issuer_id,
    domain_id: issuer.domain_id,
    type: 'jwt',
    enabled: binding.enabled,
    position: binding.position,
    bound_claims: rule.bound_claims,
    token_project_id: rule.token_project_id,
  };
  if (rule.token_user_id !== null) out['token_user_id'] = rule.token_user_id;
  if (rule.shadow_user !== null) out['shadow_user'] = rule.shadow_user;
  if (rule.bound_audiences !== null) out['bound_audiences'] = rule.bound_audiences;
  if (rule.bound_subject !== null) out['bound_subject'] = rule.bound_subject;
  if (rule.token_restriction_id !== null) out['token_restriction_id'] = rule.token_restriction_id;
  if (rule.attribute_claims !== null) out['attribute_claims'] = rule.attribute_claims;
  return out;
}

function refused(reason: string): Unauthorized {
  return new Unauthorized(`workload login refused: ${reason}`);
}

export function createWorkloadService(deps: WorkloadServiceDeps) {
  const { store } = deps;
  // Read on every login, written rarely: kept until the change feed reports a write anywhere.
  const issuerById = keyedCacheUntilChange(deps.changes, 1000, (id: string) => store.getIssuer(id));
  const bindingsOf = keyedCacheUntilChange(deps.changes, 1000, (issuerId: string) => store.listBindings({ issuer_id: issuerId }));
  // The bound users and projects too: a login writes nothing that moves the change feed, and
  // disabling either moves it, so the next login sees the change.
  const boundUser = keyedCacheUntilChange(deps.changes, 1000, deps.getUser);
  const boundProject = keyedCacheUntilChange(deps.changes, 1000, deps.getProject);

  async function requireIssuer(id: string): Promise<IssuerRecord> {
    const issuer = await store.getIssuer(id);
    if (!issuer) throw NotFound.entity('identity provider', id);
    return issuer;
  }

  async function checkIssuer(issuer: IssuerRecord): Promise<IssuerRecord> {
    const preset = issuer.preset === null ? undefined : PRESETS[issuer.preset];
    if (issuer.preset !== null && !preset) throw new ValidationError(`Unknown preset ${issuer.preset}; known: ${Object.keys(PRESETS).join(', ')}.`);
    const filled: IssuerRecord = {
      ...issuer,
      bound_issuer: issuer.bound_issuer ?? preset?.issuer ?? null,
      allowed_algorithms: issuer.allowed_algorithms.length > 0 ? issuer.allowed_algorithms : preset?.algorithms ?? ['RS256', 'ES256'],
      max_token_age: issuer.max_token_age ?? preset?.maxTokenAge ?? null,
    };
    // A platform with a fixed issuer publishes discovery beside it (GitHub, GitLab).
    if (!filled.oidc_discovery_url && !filled.jwks_url && !filled.jwks && !filled.jwt_validation_pubkeys && preset?.issuer && filled.bound_issuer) {
      (filled as { oidc_discovery_url: string }).oidc_discovery_url = `${filled.bound_issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    }
    if (!(await deps.getDomain(filled.domain_id))) throw new ValidationError(`Could not find domain: ${filled.domain_id}.`);
    const sources = [filled.jwks, filled.jwt_validation_pubkeys, filled.jwks_url].filter((s) => s !== null).length;
    if (sources === 0 && !filled.oidc_discovery_url) throw new ValidationError('An identity provider needs keys: oidc_discovery_url, jwks_url, jwks or jwt_validation_pubkeys.');
    if (sources > 1) throw new ValidationError('Give one of jwks_url, jwks and jwt_validation_pubkeys.');
    if (!filled.bound_issuer && !filled.oidc_discovery_url) throw new ValidationError('bound_issuer is required without oidc_discovery_url.');
    for (const field of ['oidc_discovery_url', 'jwks_url'] as const) {
      const value = filled[field];
      const problem = value === null ? null : outboundUrlProblem(value);
      if (problem) throw new ValidationError(`${field} ${problem}.`);
    }
    for (const alg of filled.allowed_algorithms) {
      // `none` and HMAC would let anyone holding the (public) key mint tokens.
      if (!SUPPORTED_ALGORITHMS.includes(alg)) throw new ValidationError(`Algorithm ${alg} is not allowed; allowed: ${SUPPORTED_ALGORITHMS.join(', ')}.`);
    }
    if (filled.bound_audiences.length === 0) throw new ValidationError('bound_audiences must name at least one audience: a token minted for another service must not log in here.');
    for (const key of filled.jwks?.keys ?? []) {
      if (key['kty'] === 'oct' || 'd' in key || 'k' in key) throw new ValidationError('jwks must hold public keys only.');
    }
    for (const pem of filled.jwt_validation_pubkeys ?? []) {
      try {
        if (createPublicKey(pem).asymmetricKeyType === undefined) throw new Error('not asymmetric');
      } catch {
        throw new ValidationError('jwt_validation_pubkeys must be PEM public keys.');
      }
    }
    return filled;
  }

  function issuerFromBody(body: Body, base: IssuerRecord | undefined): IssuerRecord {
    const pick = <T>(field: string, fallback: T): T => (Object.hasOwn(body, field) ? (body[field] as T) : fallback);
    return {
      id: base?.id ?? newId(),
      name: pick('name', base?.name ?? ''),
      domain_id: base?.domain_id ?? (body['domain_id'] as string),
      enabled: pick('enabled', base?.enabled ?? true),
      preset: pick('preset', base?.preset ?? null),
      bound_issuer: pick('bound_issuer', base?.bound_issuer ?? null),
      oidc_discovery_url: pick('oidc_discovery_url', base?.oidc_discovery_url ?? null),
      jwks_url: pick('jwks_url', base?.jwks_url ?? null),
      jwks: pick('jwks', base?.jwks ?? null),
      jwt_validation_pubkeys: pick('jwt_validation_pubkeys', base?.jwt_validation_pubkeys ?? null),
      allowed_algorithms: pick('allowed_algorithms', base?.allowed_algorithms ?? null) ?? [],
      bound_audiences: pick('bound_audiences', base?.bound_audiences ?? null) ?? [],
      max_token_age: pick('max_token_age', base?.max_token_age ?? null),
      default_mapping_name: pick('default_mapping_name', base?.default_mapping_name ?? null),
    };
  }

  async function checkBinding(binding: BindingRecord, issuer: IssuerRecord): Promise<void> {
    const { rule } = binding;
    if ((rule.token_user_id === null) === (rule.shadow_user === null)) throw new ValidationError('Give either token_user_id or shadow_user.');
    if (rule.token_restriction_id !== null) {
      // The restriction must fit every token the binding issues (the exchange checks the same).
      const restriction = await deps.getRestriction(rule.token_restriction_id);
      if (!restriction) throw new ValidationError(`Could not find token restriction: ${rule.token_restriction_id}.`);
      if (restriction.domainId !== issuer.domain_id) throw new ValidationError(`Token restriction ${restriction.id} belongs to another domain than the identity provider.`);
      if (restriction.projectId !== null && restriction.projectId !== rule.token_project_id) {
        throw new ValidationError(`Token restriction ${restriction.id} is for another project than token_project_id.`);
      }
      if (restriction.userId !== null && restriction.userId !== rule.token_user_id) throw new ValidationError(`Token restriction ${restriction.id} names another user.`);
    }
    const project = await deps.getProject(rule.token_project_id);
    if (!project) throw new ValidationError(`Could not find project: ${rule.token_project_id}.`);
    // An issuer belongs to a domain: its tokens may only become that domain's users (and groups)
    // in that domain's projects, so a domain's administrator cannot reach into another domain.
    if (rule.token_user_id !== null) {
      const user = await deps.getUser(rule.token_user_id);
      if (!user) throw new ValidationError(`Could not find user: ${rule.token_user_id}.`);
      if (user.domain_id !== issuer.domain_id) throw new ValidationError(`User ${user.id} is not in the identity provider's domain ${issuer.domain_id}.`);
    } else {
      const group = await deps.getGroup(rule.shadow_user!.group_id);
      if (!group) throw new ValidationError(`Could not find group: ${rule.shadow_user!.group_id}.`);
      if (group.domain_id !== issuer.domain_id) throw new ValidationError(`Group ${group.id} is not in the identity provider's domain ${issuer.domain_id}.`);
    }
    if (project.domain_id !== issuer.domain_id) throw new ValidationError(`Project ${project.id} is not in the identity provider's domain ${issuer.domain_id}.`);
  }

  function ruleFromBody(body: Body, base: BindingRule | undefined): BindingRule {
    const pick = <T>(field: string, fallback: T): T => (Object.hasOwn(body, field) ? (body[field] as T) : fallback);
    return {
      bound_audiences: pick('bound_audiences', base?.bound_audiences ?? null),
      bound_subject: pick<ClaimCondition | null>('bound_subject', base?.bound_subject ?? null),
      bound_claims: pick('bound_claims', base?.bound_claims ?? {}) ?? {},
      token_user_id: pick('token_user_id', base?.token_user_id ?? null),
      shadow_user: ((shadow: { name_claim?: string; group_id: string } | null) => (shadow ? { name_claim: shadow.name_claim ?? 'sub', group_id: shadow.group_id } : null))(
        pick('shadow_user', base?.shadow_user ?? null),
      ),
      token_project_id: pick('token_project_id', base?.token_project_id ?? ''),
      token_restriction_id: pick('token_restriction_id', base?.token_restriction_id ?? null),
      attribute_claims: pick('attribute_claims', base?.attribute_claims ?? null),
    };
  }

  function attributePaths(issuer: IssuerRecord, rule: BindingRule): readonly string[] {
    if (rule.attribute_claims) return rule.attribute_claims;
    const preset = issuer.preset ? PRESETS[issuer.preset] : undefined;
    return preset ? preset.attributeClaims : ['sub', ...Object.keys(rule.bound_claims)];
  }

  /** The claims of a token this issuer accepts (signature, times, audience, platform shape). */
  async function verifiedClaims(issuer: IssuerRecord, jwt: string): Promise<Record<string, unknown>> {
    let claims: Record<string, unknown>;
    try {
      claims = (await deps.verifier.verify(issuer, jwt)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof JwtRefused) throw refused(error.reason);
      throw error;
    }
    const shape = issuer.preset ? PRESETS[issuer.preset]?.shapeFailure(claims) : null;
    if (shape) throw refused(`not a ${issuer.preset!} token: ${shape}`);
    return claims;
  }

  interface Selection {
    readonly chosen: BindingRecord | undefined;
    readonly evaluations: { binding: BindingRecord; matched: boolean; reasons: readonly string[] }[];
    readonly refusal: string | undefined;
  }

  function select(issuer: IssuerRecord, bindings: readonly BindingRecord[], claims: Record<string, unknown>, mappingName: string | undefined): Selection {
    const evaluations = bindings.map((binding) => {
      const result = evaluateBinding(binding.rule, claims);
      const reasons = [...(binding.enabled ? [] : ['binding is disabled']), ...result.reasons];
      return { binding, matched: reasons.length === 0, reasons };
    });
    const named = mappingName ?? issuer.default_mapping_name ?? undefined;
    if (named !== undefined) {
      const wanted = evaluations.find((e) => e.binding.name === named);
      if (!wanted) return { chosen: undefined, evaluations, refusal: `no binding named ${named}` };
      return { chosen: wanted.matched ? wanted.binding : undefined, evaluations, refusal: wanted.matched ? undefined : `binding ${named}: ${wanted.reasons.join('; ')}` };
    }
    const first = evaluations.find((e) => e.matched);
    return { chosen: first?.binding, evaluations, refusal: first ? undefined : 'no binding matches' };
  }

  /**
   * The shadow user a token names, if it exists. A user of that name that is not this issuer's
   * shadow (a local user, another issuer's) is never taken over: the claim value is the token
   * holder's choice, the name of an existing account must not be.
   */
  async function shadowUser(issuer: IssuerRecord, shadow: NonNullable<BindingRule['shadow_user']>, claims: Record<string, unknown>) {
    const value = claimAt(claims, shadow.name_claim);
    if (typeof value !== 'string' || value === '' || value.length > 200) throw refused(`claim ${shadow.name_claim} cannot name a shadow user`);
    const name = `${issuer.name}/${value}`;
    const user = await deps.findUserByName(name, issuer.domain_id);
    if (user && user.extra[SHADOW_USER_MARK] !== issuer.id) throw refused(`user ${name} exists and is not a shadow user of this identity provider`);
    return { name, user };
  }

  /** The identity and scope a chosen binding yields, checked as a login would check them. */
  async function outcome(issuer: IssuerRecord, binding: BindingRecord, claims: Record<string, unknown>): Promise<LoginOutcome> {
    const { rule } = binding;
    let user: Pick<WorkloadUser, 'id' | 'name' | 'domain_id' | 'enabled'> | undefined;
    let createsShadowUser = false;
    if (rule.shadow_user) {
      const shadow = await shadowUser(issuer, rule.shadow_user, claims);
      createsShadowUser = !shadow.user;
      user = shadow.user ?? { id: '', name: shadow.name, domain_id: issuer.domain_id, enabled: true };
    } else {
      user = await boundUser(rule.token_user_id!);
    }
    if (!user || !user.enabled) throw refused(`user ${rule.token_user_id ?? user?.name ?? ''} is missing or disabled`);
    const project = await boundProject(rule.token_project_id);
    if (!project || !project.enabled) throw refused(`project ${rule.token_project_id} is missing or disabled`);
    const attributes = selectAttributes(attributePaths(issuer, rule), claims);
    return { issuer, binding, user: { id: user.id, name: user.name, domain_id: user.domain_id }, createsShadowUser, project, attributes, claims };
  }

  /** Creates the shadow user of a login; a concurrent first login may have created it already. */
  async function createShadow(result: LoginOutcome): Promise<LoginOutcome['user']> {
    const shadow = result.binding.rule.shadow_user!;
    try {
      const created = await deps.createShadowUser(result.user.name, result.issuer.domain_id, result.issuer.id, shadow.group_id);
      return { id: created.id, name: created.name, domain_id: created.domain_id };
    } catch (error) {
      const again = await shadowUser(result.issuer, shadow, result.claims).catch(() => undefined);
      if (again?.user) return { id: again.user.id, name: again.user.name, domain_id: again.user.domain_id };
      throw error;
    }
  }

  return {
    listIssuers: (filter: { domain_id?: string; name?: string }) => store.listIssuers(filter),
    getIssuer: requireIssuer,
    async createIssuer(body: Body): Promise<IssuerRecord> {
      const issuer = await checkIssuer(issuerFromBody(body, undefined));
      try {
        await store.createIssuer(issuer);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Conflict('identity_provider', `Duplicate entry found with name ${issuer.name} at domain ID ${issuer.domain_id}`);
        throw error;
      }
      return issuer;
    },
    async updateIssuer(id: string, body: Body): Promise<IssuerRecord> {
      if (Object.hasOwn(body, 'domain_id')) throw new ValidationError('domain_id of an identity provider cannot change.');
      const issuer = await checkIssuer(issuerFromBody(body, await requireIssuer(id)));
      try {
        await store.updateIssuer(issuer);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Conflict('identity_provider', `Duplicate entry found with name ${issuer.name} at domain ID ${issuer.domain_id}`);
        throw error;
      }
      return issuer;
    },
    async deleteIssuer(id: string): Promise<void> {
      if (!(await store.deleteIssuer(id))) throw NotFound.entity('identity provider', id);
    },

    async listBindings(filter: { issuer_id?: string; name?: string }) {
      const bindings = await store.listBindings(filter);
      const issuers = new Map((await store.listIssuers()).map((i) => [i.id, i]));
      return bindings.map((binding) => ({ binding, issuer: issuers.get(binding.issuer_id)! }));
    },
    async getBinding(id: string) {
      const binding = await store.getBinding(id);
      if (!binding) throw NotFound.entity('mapping', id);
      return { binding, issuer: await requireIssuer(binding.issuer_id) };
    },
    async createBinding(body: Body) {
      const issuer = await store.getIssuer(body['idp_id'] as string);
      if (!issuer) throw new ValidationError(`Could not find identity provider: ${String(body['idp_id'])}.`);
      const binding: BindingRecord = {
        id: newId(),
        issuer_id: issuer.id,
        name: body['name'] as string,
        enabled: (body['enabled'] as boolean | undefined) ?? true,
        position: (body['position'] as number | undefined) ?? (await store.nextBindingPosition(issuer.id)),
        rule: ruleFromBody(body, undefined),
      };
      await checkBinding(binding, issuer);
      try {
        await store.createBinding(binding);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Conflict('mapping', `Duplicate entry found with name ${binding.name} for identity provider ${issuer.id}`);
        throw error;
      }
      return { binding, issuer };
    },
    async updateBinding(id: string, body: Body) {
      const existing = await store.getBinding(id);
      if (!existing) throw NotFound.entity('mapping', id);
      if (Object.hasOwn(body, 'idp_id') && body['idp_id'] !== existing.issuer_id) throw new ValidationError('idp_id of a mapping cannot change.');
      const issuer = await requireIssuer(existing.issuer_id);
      const binding: BindingRecord = {
        ...existing,
        name: (body['name'] as string | undefined) ?? existing.name,
        enabled: (body['enabled'] as boolean | undefined) ?? existing.enabled,
        position: (body['position'] as number | undefined) ?? existing.position,
        rule: ruleFromBody(body, existing.rule),
      };
      await checkBinding(binding, issuer);
      try {
        await store.updateBinding(binding);
      } catch (error) {
        if (isUniqueViolation(error)) throw new Conflict('mapping', `Duplicate entry found with name ${binding.name} for identity provider ${issuer.id}`);
        throw error;
      }
      return { binding, issuer };
    },
    async deleteBinding(id: string): Promise<void> {
      if (!(await store.deleteBinding(id))) throw NotFound.entity('mapping', id);
    },

    /**
     * Exchanges a workload JWT for a Keystone token: verify, choose the binding, check the user
     * and project, issue, and only then spend the `jti` (a refused login leaves it unspent, a
     * replay finds it spent in any process) and record the attributes under the token's audit id.
     * Every refusal is a 401 whose reason reaches the log only.
     */
    async login(issuerId: string, jwt: string, mappingName: string | undefined): Promise<{ tokenText: string; token: ValidatedToken; outcome: LoginOutcome }> {
      const issuer = await issuerById(issuerId);
      if (!issuer || !issuer.enabled) throw refused(`identity provider ${issuerId} is missing or disabled`);
      const claims = await verifiedClaims(issuer, jwt);
      const selection = select(issuer, await bindingsOf(issuer.id), claims, mappingName);
      if (!selection.chosen) throw refused(selection.refusal!);
      let result = await outcome(issuer, selection.chosen, claims);
      if (result.createsShadowUser) result = { ...result, user: await createShadow(result), createsShadowUser: false };
      const issued = await deps.issue(result.user.id, result.project, selection.chosen.rule.token_restriction_id).catch((error: unknown) => {
        throw error instanceof Unauthorized ? error : refused(`token not issued: ${error instanceof Error ? error.message : String(error)}`);
      });
      const spent = await store.spendJti(
        { issuerId: issuer.id, jti: claims['jti'] as string, expiresAt: new Date((claims['exp'] as number) * 1000 + deps.clockLeeway * 1000), now: deps.now() },
        { auditId: issued.token.auditId, values: result.attributes, expiresAt: new Date(issued.token.data.expiresAt.getTime() + deps.allowExpiredWindow * 1000) },
      );
      if (!spent) throw refused(`jti ${String(claims['jti'])} was already used`);
      return { ...issued, outcome: result };
    },

    /**
     * The dry run: what a login with this JWT (verified, nothing spent) or these claims (taken as
     * given) would do, and why every other binding would not match.
     */
    async simulate(issuerId: string, input: { jwt?: string; claims?: Record<string, unknown>; mapping_name?: string }) {
      const issuer = await requireIssuer(issuerId);
      let claims: Record<string, unknown>;
      let verification: Record<string, unknown>;
      if (input.jwt !== undefined) {
        try {
          claims = await verifiedClaims(issuer, input.jwt);
          verification = { verified: true };
        } catch (error) {
          if (!(error instanceof Unauthorized)) throw error;
          return { verified: false, reason: error.detail ?? error.message, matched: null, bindings: [] };
        }
      } else {
        claims = input.claims ?? {};
        verification = { verified: false, reason: 'claims given, not a token: signature, issuer, audience and times not checked' };
      }
      const selection = select(issuer, await store.listBindings({ issuer_id: issuer.id }), claims, input.mapping_name);
      let would: Record<string, unknown> | null = null;
      let refusal = selection.refusal ?? null;
      if (selection.chosen) {
        try {
          const result = await outcome(issuer, selection.chosen, claims);
          would = {
            user: result.createsShadowUser ? { name: result.user.name, domain_id: result.user.domain_id, created: true } : result.user,
            project: { id: result.project.id, name: result.project.name, domain_id: result.project.domain_id },
            methods: [WORKLOAD_METHOD],
            attributes: result.attributes,
          };
        } catch (error) {
          if (!(error instanceof Unauthorized)) throw error;
          refusal = error.detail ?? error.message;
        }
      }
      return {
        ...verification,
        matched: selection.chosen && would ? selection.chosen.name : null,
        ...(refusal ? { refusal } : {}),
        would_issue: would,
        bindings: selection.evaluations.map((e) => ({ id: e.binding.id, name: e.binding.name, matched: e.matched, reasons: e.reasons })),
      };
    },

    /** The attributes of a workload token, by the audit id of the login that started its chain. */
    attributesOf: (auditId: string) => store.getAttributes(auditId),
    purgeExpired: () => store.purgeExpired(deps.now()),
    /** For the token exchange: the enabled issuers that claim this `iss`. */
    async issuersFor(iss: string): Promise<IssuerRecord[]> {
      return (await store.listIssuers()).filter((issuer) => issuer.enabled && issuer.bound_issuer === iss);
    },
  };
}

export type WorkloadService = ReturnType<typeof createWorkloadService>;

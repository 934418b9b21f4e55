import { randomBytes } from 'node:crypto';
import { Conflict, ForbiddenNotSecurity, KeystoneError, NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { naiveIsoTime } from '../common/time.js';
import { dateFromEpochMicros, epochMicros } from '../db/values.js';
import type { RoleRef } from '../assignment/store.js';
import { hashPassword, verifyPassword, type PasswordHashOptions } from '../identity/password-hash.js';
import {
  DuplicateApplicationCredential,
  UnknownAccessRule,
  type AccessRuleRecord,
  type AccessRuleRequest,
  type ApplicationCredentialRecord,
  type ApplicationCredentialStore,
} from './store.js';

/** Keystone's ApplicationCredentialValidationError (a 400 whose detail is shown). */
export class ApplicationCredentialValidationError extends ValidationError {
  constructor(detail: string) {
    super(`Invalid application credential: ${detail}`);
  }
}

export function applicationCredentialNotFound(id: string): NotFound {
  return new NotFound(`Could not find Application Credential: ${id}.`);
}

export function accessRuleNotFound(id: string): NotFound {
  return new NotFound(`Could not find Access Rule: ${id}.`);
}

/** Keystone's ValidationTimeStampError and ValidationExpirationError (400, not ValidationError upstream). */
export class BadExpiry extends KeystoneError {
  constructor(problem: 'format' | 'past') {
    const text = problem === 'format' ? 'Timestamp not in expected format.' : "The 'expires_at' must not be before now.";
    super(400, 'Bad Request', `${text} The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);
  }
}

/**
 * oslo's parse_isotime after Keystone appended a `Z` to a zoneless value (parse_expiration_date):
 * ISO 8601 date and time, optional fraction (kept to the microsecond), `Z` or an offset.
 */
export function parseExpiration(text: string): Date {
  const value = text.endsWith('Z') ? text : `${text}Z`;
  const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?(Z|[+-]\d{2}:?\d{2})Z?$/.exec(value);
  if (!match) throw new BadExpiry('format');
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const micros = Number((fraction ?? '').padEnd(6, '0'));
  let millis = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'));
  const check = new Date(millis);
  if (Number.isNaN(millis) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) {
    throw new BadExpiry('format');
  }
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const digits = zone!.slice(1).replace(':', '');
    millis -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  // Microseconds ride on the Date for the DateTimeInt column and the naive rendering. The column
  // holds them as BIGINT; beyond 2^53 (the year 2255) a JavaScript number would round them.
  const total = millis * 1000 + micros;
  if (!Number.isSafeInteger(total)) throw new BadExpiry('format');
  return dateFromEpochMicros(total);
}

/** `expires_at` as the API shows it: naive, microseconds, no `Z` (spec 5.10, observed). */
export function renderExpiry(date: Date | null): string | null {
  if (date === null) return null;
  const micros = epochMicros(date);
  return naiveIsoTime(date, ((micros % 1_000_000) + 1_000_000) % 1_000_000);
}

/** The secret Keystone generates: 64 random bytes, urlsafe base64, `=` stripped (86 characters). */
export function generateSecret(): string {
  return randomBytes(64).toString('base64url');
}

export interface ApplicationCredentialServiceDeps {
  readonly store: ApplicationCredentialStore;
  readonly getRole: (id: string) => Promise<RoleRef | undefined>;
  readonly findGlobalRoleByName: (name: string) => Promise<RoleRef | undefined>;
  /** The role ids and every role they imply, transitively. */
  readonly expandImplied: (roleIds: readonly string[]) => Promise<Set<string>>;
  /** The user's effective role ids on the project (direct, group, inherited, implied). */
  readonly userRoleIdsOnProject: (userId: string, projectId: string) => Promise<Set<string>>;
  readonly passwordHashing: PasswordHashOptions;
  /** [application_credential] user_limit; negative means unlimited. */
  readonly userLimit: number;
  readonly now: () => Date;
}

/** The create request after schema validation (schemas/application-credential-create.json). */
export interface CreateRequest {
  readonly name: string;
  readonly id?: string;
  readonly secret?: string | null;
  readonly description?: string | null;
  readonly expires_at?: string | null;
  readonly unrestricted?: boolean | null;
  readonly roles?: readonly ({ id: string } | { name: string })[];
  readonly access_rules?: readonly { id?: string; service?: string; path?: string; method?: string }[];
}

/** The caller's token, as far as creation needs it. */
export interface Creator {
  readonly userId: string;
  readonly projectId: string | null;
  readonly tokenRoleIds: readonly string[];
}

export interface ApplicationCredentialView {
  readonly record: ApplicationCredentialRecord;
  readonly roles: readonly RoleRef[];
}

export type ApplicationCredentialService = ReturnType<typeof createApplicationCredentialService>;

export function createApplicationCredentialService(deps: ApplicationCredentialServiceDeps) {
  const { store } = deps;

  async function view(record: ApplicationCredentialRecord): Promise<ApplicationCredentialView> {
    const roles = await Promise.all(record.roleIds.map((id) => deps.getRole(id)));
    return { record, roles: roles.filter((r): r is RoleRef => r !== undefined) };
  }

  /**
   * Keystone's _get_roles: named roles resolved, implied roles added, and every one of them must
   * be in the caller's token, so a credential never carries more than its creator could use.
   */
  async function requestedRoleIds(request: CreateRequest, creator: Creator): Promise<string[]> {
    if (!request.roles || request.roles.length === 0) return [...creator.tokenRoleIds];
    const ids: string[] = [];
    for (const role of request.roles) {
      if ('id' in role && role.id) {
        ids.push(role.id);
        continue;
      }
      const name = (role as { name: string }).name;
      const found = await deps.findGlobalRoleByName(name);
      if (!found) throw new NotFound(`Could not find role: ${name}.`);
      ids.push(found.id);
    }
    const expanded = [...(await deps.expandImplied(ids))];
    const tokenRoles = new Set(creator.tokenRoleIds);
    if (expanded.some((id) => !tokenRoles.has(id))) throw new ApplicationCredentialValidationError('Cannot create an application credential with unassigned role');
    return expanded;
  }

  function accessRuleRequests(request: CreateRequest): AccessRuleRequest[] {
    return (request.access_rules ?? []).map((rule) => ({
      id: rule.id ?? newId(),
      byIdOnly: rule.id !== undefined && rule.service === undefined && rule.path === undefined && rule.method === undefined,
      ...(rule.service === undefined ? {} : { service: rule.service }),
      ...(rule.path === undefined ? {} : { path: rule.path }),
      ...(rule.method === undefined ? {} : { method: rule.method }),
    }));
  }

  return {
    /**
     * POST /v3/users/{user_id}/application_credentials after policy: Keystone's order of checks
     * (roles, expiry, limit, the user still holding the roles, then the unique name). The secret
     * is returned once, here, and stored only as a password hash.
     */
    async create(request: CreateRequest, creator: Creator): Promise<ApplicationCredentialView & { secret: string }> {
      const secret = request.secret ? request.secret : generateSecret();
      const roleIds = await requestedRoleIds(request, creator);
      const expiresAt = request.expires_at ? parseExpiration(request.expires_at) : null;
      if (expiresAt && expiresAt.getTime() <= deps.now().getTime()) throw new BadExpiry('past');
      if (deps.userLimit >= 0 && (await store.countForUser(creator.userId)) >= deps.userLimit) {
        throw new ForbiddenNotSecurity(`Unable to create additional application credentials, maximum of ${deps.userLimit} already exceeded for user.`);
      }
      if (creator.projectId) {
        const held = await deps.userRoleIdsOnProject(creator.userId, creator.projectId);
        const missing = roleIds.find((id) => !held.has(id));
        if (missing !== undefined) {
          throw new ApplicationCredentialValidationError(
            `Could not find role assignment with role: ${missing}, user or group: ${creator.userId}, project, domain, or system: ${creator.projectId}.`,
          );
        }
      }
      let record: ApplicationCredentialRecord;
      try {
        record = await store.create(
          {
            id: request.id ?? newId(),
            name: request.name,
            secretHash: await hashPassword(secret, deps.passwordHashing),
            description: request.description ?? null,
            userId: creator.userId,
            projectId: creator.projectId,
            expiresAt,
            unrestricted: request.unrestricted ?? null,
            roleIds,
          },
          accessRuleRequests(request),
        );
      } catch (error) {
        if (error instanceof DuplicateApplicationCredential) throw new Conflict('application_credential', `Duplicate entry found with name ${request.name}`);
        if (error instanceof UnknownAccessRule) throw accessRuleNotFound(error.accessRuleId);
        throw error;
      }
      return { ...(await view(record)), secret };
    },

    async get(id: string): Promise<ApplicationCredentialView> {
      const record = await store.get(id);
      if (!record) throw applicationCredentialNotFound(id);
      return view(record);
    },

    /** The stored record, or undefined: for policy targets and token validation. */
    find: (id: string) => store.get(id),

    /** The user's credentials called `name` (exactly one is expected by the auth method). */
    findByName: (userId: string, name: string) => store.listForUser(userId, { name }),

    async list(userId: string, filter: { name?: string } = {}): Promise<ApplicationCredentialView[]> {
      return Promise.all((await store.listForUser(userId, filter)).map(view));
    },

    async delete(id: string): Promise<void> {
      if (!(await store.delete(id))) throw applicationCredentialNotFound(id);
    },

    /**
     * The application_credential auth method's check (backends/sql.py authenticate): the secret
     * against the stored hash (the hash library compares in constant time), then expiry. Every
     * failure is the same generic 401; the reason goes to the log only.
     */
    async authenticate(record: ApplicationCredentialRecord, secret: unknown): Promise<void> {
      if (typeof secret !== 'string' || !(await verifyPassword(secret, record.secretHash, deps.passwordHashing).catch(() => false))) {
        throw new Unauthorized(`Invalid application credential ID or secret (${record.id})`);
      }
      if (record.expiresAt && deps.now().getTime() >= record.expiresAt.getTime()) throw new Unauthorized(`application credential ${record.id} expired`);
    },

    async getAccessRule(userId: string, id: string): Promise<AccessRuleRecord> {
      const rule = await store.getAccessRule(userId, id);
      if (!rule) throw accessRuleNotFound(id);
      return rule;
    },

    listAccessRules: (userId: string) => store.listAccessRules(userId),

    async deleteAccessRule(userId: string, id: string): Promise<void> {
      const outcome = await store.deleteAccessRule(userId, id);
      if (outcome === 'missing') throw accessRuleNotFound(id);
      // Keystone's ForbiddenNotSecurity: the rule is still named by an application credential.
      if (outcome === 'in-use') throw new ForbiddenNotSecurity('May not delete access rule in use');
    },
  };
}

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { BlockList } from 'node:net';
import { allowList, parseCidr, sourceAllowed } from '../common/cidr.js';
import { Conflict, KeystoneError, NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import type { ChangeFeed } from '../common/change-feed.js';
import { hashPassword, verifyPassword, type PasswordHashOptions } from '../identity/password-hash.js';
import type { ValidatedToken } from '../token/provider.js';
import type { ApiKeyChanges, ApiKeyRecord, ApiKeyStore } from './store.js';

/**
 * API keys (issue 6, /v4/api-keys): long-lived bearer secrets owned by a user or a service
 * account, scoped to one project (or unscoped), limited by expiry and source CIDRs.
 *
 * A key reads `kts_<prefix>_<secret>`: the prefix (12 base62 characters) is not secret, is
 * stored in clear and finds the row; the secret (43 base62 characters, 256 bits) is stored as a
 * slow hash (bcrypt, as passwords, hashed and verified off the event loop). The full key is
 * returned once, by create, and never again. See docs/decisions/0010-service-accounts.md.
 *
 * Verifying bcrypt on every request would cost milliseconds of CPU each: a successful
 * verification is kept, keyed by the SHA-256 of the full key, for a short time and only while
 * the change feed stands still, so a revoked, disabled or deleted key (or a changed owner or
 * role) stops working at the next request in every process.
 */

export const API_KEY_PREFIX = 'kts_';
/** The method a request authenticated by an API key shows to policy (credentials.methods). */
export const API_KEY_METHOD = 'api_key';
const PREFIX_LENGTH = 12;
const SECRET_LENGTH = 43;
const KEY_PATTERN = /^kts_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})$/;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const MAX_ALLOWED_IPS = 100;

/** Uniform base62 text (rejection sampling: 248 = 4 × 62, so no character is favoured). */
function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export interface ApiKeyCreate {
  readonly userId: string;
  readonly projectId: string | null;
  readonly description: string | null;
  readonly expiresAt: string;
  readonly allowedIps: readonly string[] | null;
}

export interface ApiKeyServiceDeps {
  readonly store: ApiKeyStore;
  readonly passwordHashing: PasswordHashOptions;
  /** A token-less validation of the owner with the key's scope (TokenProvider.assume). */
  readonly assume: (request: { userId: string; methods: readonly string[]; projectId: string | null; expiresAt: Date }) => Promise<ValidatedToken>;
  /** Whether the owner holds any role on the project now (a key scoped where it has none would never work). */
  readonly hasRoleOnProject: (userId: string, projectId: string) => Promise<boolean>;
  readonly userExists: (userId: string) => Promise<boolean>;
  readonly changes: ChangeFeed;
  readonly now: () => Date;
  readonly options: {
    /** How long a successful verification is reused, seconds. */
    readonly cacheTtlSeconds: number;
    readonly cacheSize: number;
    /**
     * Failed verifications (each costs a bcrypt run) allowed per source address and window;
     * beyond that the source's keys are refused without verifying until the window ends.
     */
    readonly maxFailuresPerSource?: number;
    readonly failureWindowSeconds?: number;
  };
  /** Fire-and-forget bookkeeping failures (last_used_at) go here. */
  readonly log?: (record: Record<string, unknown>) => void;
}

interface Verified {
  readonly generation: number;
  readonly at: number;
  readonly digest: Buffer;
  readonly record: ApiKeyRecord;
  readonly allowList: BlockList | null;
  readonly token: ValidatedToken;
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

export function createApiKeyService(deps: ApiKeyServiceDeps) {
  const { store, options } = deps;
  const verified = new Map<string, Verified>();
  // A hash of a random secret, verified against when no key matches, so that an unknown prefix
  // costs what a known one does and response times do not tell which prefixes exist.
  let dummyHash: Promise<string> | undefined;
  const dummy = () => (dummyHash ??= hashPassword(base62(SECRET_LENGTH), deps.passwordHashing));

  const notFound = (id: string) => NotFound.entity('api key', id);

  // Failed verifications per source: a guessing client pays bcrypt's cost only so many times
  // (the thread pool it would otherwise keep busy serves every login and key of the service).
  const maxFailures = options.maxFailuresPerSource ?? 30;
  const failureWindowMs = (options.failureWindowSeconds ?? 60) * 1000;
  const failures = new Map<string, { count: number; since: number }>();
  const MAX_TRACKED_SOURCES = 10_000;

  function assertNotThrottled(source: string, now: number): void {
    const entry = failures.get(source);
    if (!entry) return;
    if (now - entry.since >= failureWindowMs) failures.delete(source);
    else if (entry.count >= maxFailures) throw new Unauthorized(`too many failed api key verifications from ${source}`);
  }

  function countFailure(source: string, now: number): void {
    const entry = failures.get(source);
    if (entry && now - entry.since < failureWindowMs) {
      entry.count += 1;
      return;
    }
    failures.delete(source);
    if (failures.size >= MAX_TRACKED_SOURCES) failures.delete(failures.keys().next().value!);
    failures.set(source, { count: 1, since: now });
  }

  function validateAllowedIps(cidrs: readonly string[] | null): string[] | null {
    if (cidrs === null) return null;
    if (cidrs.length > MAX_ALLOWED_IPS) throw new ValidationError(`allowed_ips has more than ${MAX_ALLOWED_IPS} entries.`);
    return cidrs.map((cidr) => {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new ValidationError(`Invalid CIDR in allowed_ips: ${JSON.stringify(cidr).slice(0, 80)}.`);
      return `${parsed.address}/${parsed.prefix}`;
    });
  }

  async function require(id: string): Promise<ApiKeyRecord> {
    const record = await store.get(id);
    if (!record) throw notFound(id);
    return record;
  }

  function active(record: ApiKeyRecord, now: Date): boolean {
    return record.enabled && record.revokedAt === null && record.expiresAt.getTime() > now.getTime();
  }

  /** The slow path: find by prefix, check the record, verify the secret, then the owner and scope. */
  async function verify(prefix: string, secret: string, digest: Buffer, generation: number): Promise<Verified> {
    const record = await store.findByPrefix(prefix);
    const now = deps.now();
    if (!record || !active(record, now)) {
      await verifyPassword(secret, await dummy(), deps.passwordHashing);
      throw new Unauthorized(record ? `api key ${record.id} is disabled, revoked or expired` : 'no api key with this prefix');
    }
    if (!(await verifyPassword(secret, record.secretHash, deps.passwordHashing))) throw new Unauthorized(`api key ${record.id}: wrong secret`);
    let token: ValidatedToken;
    try {
      token = await deps.assume({ userId: record.userId, methods: [API_KEY_METHOD], projectId: record.projectId, expiresAt: record.expiresAt });
    } catch (error) {
      // The owner is gone or disabled, the project disabled, the roles revoked: the key does
      // not authenticate, which for the caller is one answer, 401.
      if (error instanceof KeystoneError && error.status < 500) throw new Unauthorized(`api key ${record.id}: ${error.detail ?? error.message}`);
      throw error;
    }
    store.touch(record.id, now).catch((error: unknown) => deps.log?.({ level: 'warning', msg: 'api key last_used_at not recorded', id: record.id, error: String(error) }));
    return { generation, at: now.getTime(), digest, record, allowList: record.allowedIps && record.allowedIps.length > 0 ? allowList(record.allowedIps) : null, token };
  }

  function remember(key: string, entry: Verified): void {
    if (deps.changes.generation !== entry.generation || options.cacheSize <= 0) return;
    verified.delete(key);
    if (verified.size >= options.cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(key, entry);
  }

  return {
    /** Whether a bearer value is meant as an API key (others are left to the token path). */
    recognizes: (text: string) => text.startsWith(API_KEY_PREFIX),

    /**
     * Authenticates a request by its API key from `source`. Every failure (malformed, unknown,
     * wrong secret, expired, revoked, disabled, outside the source ranges, owner or scope no
     * longer valid) is the same 401; the reason goes to the log only.
     */
    async authenticate(keyText: string, source: string | undefined): Promise<ValidatedToken> {
      const match = KEY_PATTERN.exec(keyText);
      if (!match) throw new Unauthorized('malformed api key');
      const digest = sha256(keyText);
      const cacheKey = digest.toString('hex');
      const generation = deps.changes.generation;
      let entry = verified.get(cacheKey);
      const now = deps.now().getTime();
      if (!entry || entry.generation !== generation || now - entry.at >= options.cacheTtlSeconds * 1000 || !timingSafeEqual(entry.digest, digest)) {
        verified.delete(cacheKey);
        const from = source ?? 'unknown';
        assertNotThrottled(from, now);
        try {
          entry = await verify(match[1]!, match[2]!, digest, generation);
        } catch (error) {
          if (error instanceof Unauthorized) countFailure(from, now);
          throw error;
        }
        remember(cacheKey, entry);
      }
      // Checked on every request, cached or not: the clock moves and each request has its own source.
      if (entry.record.expiresAt.getTime() <= now) throw new Unauthorized(`api key ${entry.record.id} expired`);
      if (!sourceAllowed(entry.allowList, source)) throw new Unauthorized(`api key ${entry.record.id}: source ${source ?? 'unknown'} not allowed`);
      return entry.token;
    },

    /** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
    async create(request: ApiKeyCreate): Promise<{ record: ApiKeyRecord; key: string }> {
      const now = deps.now();
      const expiresAt = new Date(request.expiresAt);
      if (!/^\d{4}-\d\d-\d\dT/.test(request.expiresAt) || Number.isNaN(expiresAt.getTime())) throw new ValidationError(`Invalid expires_at: ${request.expiresAt.slice(0, 64)}.`);
      if (expiresAt.getTime() <= now.getTime()) throw new ValidationError('expires_at must be in the future.');
      const allowedIps = validateAllowedIps(request.allowedIps);
      if (!(await deps.userExists(request.userId))) throw new ValidationError(`Could not find user: ${request.userId}.`);
      if (request.projectId !== null && !(await deps.hasRoleOnProject(request.userId, request.projectId))) {
        throw new ValidationError(`User ${request.userId} has no role on project ${request.projectId}; a key scoped there could not authenticate.`);
      }
      const prefix = base62(PREFIX_LENGTH);
      const secret = base62(SECRET_LENGTH);
      const record: ApiKeyRecord = {
        id: randomUUID(),
        prefix,
        secretHash: await hashPassword(secret, deps.passwordHashing),
        userId: request.userId,
        projectId: request.projectId,
        description: request.description,
        allowedIps,
        enabled: true,
        // Whole seconds, as the token the key stands for.
        expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000),
        createdAt: new Date(Math.floor(now.getTime() / 1000) * 1000),
        lastUsedAt: null,
        revokedAt: null,
        revokedBy: null,
      };
      await store.insert(record);
      return { record: (await store.get(record.id))!, key: `${API_KEY_PREFIX}${prefix}_${secret}` };
    },

    get: require,

    list: (query: { userId?: string; enabled?: boolean }) => store.list(query),

    async update(id: string, changes: ApiKeyChanges): Promise<ApiKeyRecord> {
      const record = await require(id);
      // As Keystone-NG: a revoked key stays revoked (its description and ranges may still change).
      if (record.revokedAt !== null && changes.enabled === true) throw new Conflict('api key', `api key ${id} is revoked and cannot be enabled again`);
      await store.update(id, { ...changes, ...(changes.allowedIps !== undefined ? { allowedIps: validateAllowedIps(changes.allowedIps) } : {}) });
      return require(id);
    },

    /**
     * Idempotent, as Keystone-NG's (a retried revoke succeeds); unlike NG the first revocation's
     * time and author are kept rather than overwritten, so the record says when it really ended.
     */
    async revoke(id: string, by: string): Promise<ApiKeyRecord> {
      await require(id);
      await store.revoke(id, deps.now(), by);
      return require(id);
    },

    async delete(id: string): Promise<void> {
      if (!(await store.delete(id))) throw notFound(id);
    },
  };
}

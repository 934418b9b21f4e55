import { PasswordExpired, Unauthorized } from '../common/errors.js';
import { hashPassword, verifyPassword, type PasswordHashOptions } from './password-hash.js';
import type { IdentityStore, UserRecord } from './store.js';

export interface SecurityCompliance {
  readonly lockout_failure_attempts: number | null;
  readonly lockout_duration: number | null;
  readonly password_expires_days: number | null;
  readonly change_password_upon_first_use: boolean;
  readonly disable_user_account_days_inactive: number | null;
}

export interface IdentityServiceDeps {
  readonly store: IdentityStore;
  readonly passwordHashing: PasswordHashOptions;
  readonly compliance: SecurityCompliance;
  readonly now: () => Date;
}

/** A user as the API and tokens see it: inactivity applied to `enabled`, no credentials. */
export interface User extends Omit<UserRecord, 'local'> {
  readonly password_expires_at: Date | null;
}

const DAY_MS = 86_400_000;

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export type IdentityService = ReturnType<typeof createIdentityService>;

export function createIdentityService(deps: IdentityServiceDeps) {
  const { store, compliance } = deps;

  /** disable_user_account_days_inactive: computed on read, exempt with ignore_user_inactivity. */
  function isInactive(record: UserRecord, now: Date): boolean {
    const days = compliance.disable_user_account_days_inactive;
    if (!days || record.options.ignore_user_inactivity === true) return false;
    const lastActive = record.last_active_at ?? (record.created_at ? isoDate(record.created_at) : null);
    if (!lastActive) return false;
    return Date.parse(`${lastActive}T00:00:00Z`) + days * DAY_MS <= Date.parse(`${isoDate(now)}T00:00:00Z`);
  }

  function toUser(record: UserRecord, now: Date): User {
    const { local, ...rest } = record;
    return { ...rest, enabled: record.enabled && !isInactive(record, now), password_expires_at: local?.password_expires_at ?? null };
  }

  function passwordExpiry(now: Date, record: { options: UserRecord['options'] } | null, adminSet: boolean): Date | null {
    if (adminSet && compliance.change_password_upon_first_use && record?.options.ignore_change_password_upon_first_use !== true) {
      return now;
    }
    if (compliance.password_expires_days && record?.options.ignore_password_expiry !== true) {
      // Keystone sets microseconds to zero on computed expiry times.
      return new Date(Math.floor((now.getTime() + compliance.password_expires_days * DAY_MS) / 1000) * 1000);
    }
    return null;
  }

  return {
    async getUser(id: string): Promise<User | undefined> {
      const record = await store.getUser(id);
      return record && toUser(record, deps.now());
    },

    async findUserByName(name: string, domainId: string): Promise<User | undefined> {
      const record = await store.findUserByName(name, domainId);
      return record && toUser(record, deps.now());
    },

    /**
     * Checks a password in Keystone's order (spec 5.5): lockout, password, enabled, expiry, then
     * success resets the failure counter. Every failure is the generic 401; the reason stays in
     * the log detail only. The caller has already checked the user's domain and enabled flag.
     */
    async authenticatePassword(userId: string, password: string): Promise<User> {
      const now = deps.now();
      const record = await store.getUser(userId);
      const local = record?.local;
      if (!record || !local) throw new Unauthorized('Invalid user / password');

      const lockoutApplies = !!compliance.lockout_failure_attempts && record.options.ignore_lockout_failure_attempts !== true;
      if (lockoutApplies) {
        const allowed = await store.claimAuthAttempt(local.local_user_id, compliance.lockout_failure_attempts!, compliance.lockout_duration ?? 0, now);
        if (!allowed) throw new Unauthorized(`The account is locked for user: ${userId}`);
      }
      const ok = local.password_hash !== null && (await verifyPassword(password, local.password_hash, deps.passwordHashing));
      if (!ok) {
        if (!lockoutApplies) await store.recordFailedAuth(local.local_user_id, now);
        throw new Unauthorized('Invalid user / password');
      }
      const user = toUser(record, now);
      if (!user.enabled) throw new Unauthorized(`User ${userId} is disabled`);
      if (local.password_expires_at && record.options.ignore_password_expiry !== true && now >= local.password_expires_at) {
        throw new PasswordExpired(userId);
      }
      if (lockoutApplies || local.failed_auth_count) await store.resetFailedAuth(local.local_user_id);
      if (compliance.disable_user_account_days_inactive) await store.touchLastActive(userId, isoDate(now));
      return user;
    },

    /** Creates a local user; an admin-set password honours change_password_upon_first_use. */
    async createUser(input: { name: string; domain_id: string; password?: string; enabled?: boolean; default_project_id?: string | null }): Promise<User> {
      const now = deps.now();
      const password = input.password === undefined
        ? undefined
        : { hash: await hashPassword(input.password, deps.passwordHashing), now, expiresAt: passwordExpiry(now, null, true) };
      const id = await store.createUser({ ...input, password });
      return (await this.getUser(id))!;
    },

    /** Admin password reset (bootstrap, PATCH user): a new password row, not self-service. */
    async resetPassword(userId: string, password: string): Promise<void> {
      const now = deps.now();
      const record = await store.getUser(userId);
      if (!record?.local) throw new Error(`user ${userId} has no local credentials`);
      const hash = await hashPassword(password, deps.passwordHashing);
      await store.setPassword(record.local.local_user_id, hash, now, passwordExpiry(now, record, true), false);
    },

    /** True when `password` matches the user's current password (bootstrap's idempotence). */
    async passwordMatches(userId: string, password: string): Promise<boolean> {
      const record = await store.getUser(userId);
      const hash = record?.local?.password_hash;
      return !!hash && verifyPassword(password, hash, deps.passwordHashing);
    },

    setEnabled: (userId: string, enabled: boolean) => store.setEnabled(userId, enabled),
    listGroupIds: (userId: string) => store.listGroupIds(userId, deps.now()),
  };
}

import { sql, type Kysely, type Transaction } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import { newId, parseExtra } from '../common/ids.js';

/** Keystone's user option ids (keystone/identity/backends/resource_options.py). */
export const USER_OPTION_IDS = {
  ignore_change_password_upon_first_use: '1000',
  ignore_password_expiry: '1001',
  ignore_lockout_failure_attempts: '1002',
  lock_password: '1003',
  ignore_user_inactivity: '1004',
  multi_factor_auth_rules: 'MFAR',
  multi_factor_auth_enabled: 'MFAE',
} as const;

export type UserOptionName = keyof typeof USER_OPTION_IDS;
const OPTION_NAME_BY_ID = new Map<string, UserOptionName>(Object.entries(USER_OPTION_IDS).map(([name, id]) => [id, name as UserOptionName]));

export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  /** The stored flag; inactivity is applied by the identity service, not here. */
  readonly enabled: boolean;
  readonly default_project_id: string | null;
  readonly created_at: Date | null;
  readonly last_active_at: string | null;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly options: Readonly<Partial<Record<UserOptionName, unknown>>>;
  /** Present for users with a local password (local_user row). */
  readonly local: LocalCredentials | null;
}

/** A `federated_user` row: the user's identity at an identity provider. */
export interface FederatedObject {
  readonly idp_id: string;
  readonly protocol_id: string;
  readonly unique_id: string;
}

/**
 * The SQL side of Keystone's user list hints: exact and case-insensitive filters the database
 * answers (spec 5.4); the rest is filtered on the rendered users.
 */
export interface UserListQuery {
  readonly domainId?: string;
  readonly enabled?: boolean;
  readonly name?: string;
  readonly nameIlike?: readonly string[];
  readonly idpId?: string;
  readonly protocolId?: string;
  readonly uniqueId?: string;
  readonly passwordExpires?: readonly { readonly op: '<' | '<=' | '>' | '>=' | '=' | '<>'; readonly at: Date }[];
  /** Members of this group only (list_users_in_group). */
  readonly groupId?: string;
  /**
   * Leave `created_at` unread (null in the records). Only the inactivity rule reads it, and
   * parsing 10,000 timestamps is a fifth of a 10,000-user list's time in this process.
   */
  readonly skipCreatedAt?: boolean;
}

/** The changes of an update, in Keystone's model terms; absent members stay as stored. */
export interface UserChanges {
  readonly name?: string;
  readonly enabled: boolean;
  readonly default_project_id?: string | null;
  readonly extra: Record<string, unknown>;
  /** Option id → value; null deletes the option. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Keystone's enabled setter: re-enabling resets the lockout counter. */
  readonly resetFailedAuth: boolean;
  readonly lastActiveAt?: string;
}

export interface NewPassword {
  readonly hash: string | null;
  readonly now: Date;
  readonly expiresAt: Date | null;
  readonly selfService: boolean;
  /** How many earlier rows to keep besides the new one (Keystone's unique_last_password_count, at least 1). */
  readonly keep: number;
}

/** A unique constraint refused the write (Keystone's DBDuplicateEntry → 409). */
export class DuplicateUser extends Error {}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export interface LocalCredentials {
  readonly local_user_id: number;
  readonly failed_auth_count: number;
  readonly failed_auth_at: Date | null;
  readonly password_hash: string | null;
  readonly password_created_at: Date | null;
  readonly password_expires_at: Date | null;
  readonly self_service: boolean;
}

/** Keystone writes both the DATETIME and the µs BIGINT; readers prefer the BIGINT (spec 6). */
function preferInt(datetime: Date | null, micros: number | null): Date | null {
  if (micros) return new Date(Math.floor(micros / 1000));
  return datetime;
}

/** `column = ANY($1)`: one array parameter however many values (an IN list is one parameter each). */
function anyOf(column: string, values: readonly string[] | readonly number[], type: 'text' | 'int') {
  return sql<boolean>`${sql.ref(column)} = ANY(${values}::${sql.raw(type)}[])`;
}

export type IdentityStore = ReturnType<typeof createIdentityStore>;

export function createIdentityStore(db: Kysely<KeystoneDatabase>) {
  const baseUsers = (options: { skipCreatedAt?: boolean } = {}) =>
    db
      .selectFrom('user')
      .leftJoin('local_user', 'local_user.user_id', 'user.id')
      .leftJoin('nonlocal_user', 'nonlocal_user.user_id', 'user.id')
      .select([
        'user.id as id',
        'user.domain_id as domain_id',
        'user.enabled as enabled',
        'user.default_project_id as default_project_id',
        options.skipCreatedAt ? sql<Date | null>`NULL::timestamp`.as('created_at') : 'user.created_at as created_at',
        'user.last_active_at as last_active_at',
        'user.extra as extra',
        'local_user.id as local_user_id',
        'local_user.name as local_name',
        'local_user.failed_auth_count as failed_auth_count',
        'local_user.failed_auth_at as failed_auth_at',
        'nonlocal_user.name as nonlocal_name',
      ]);
  type BaseRow = Awaited<ReturnType<ReturnType<typeof baseUsers>['executeTakeFirstOrThrow']>>;

  /**
   * Completes base rows into records with three more queries whatever their number (the current
   * password of each local user, the options, the federated names of users with no other name),
   * so listing 10,000 users is a handful of round trips, not forty thousand.
   */
  async function complete(rows: readonly BaseRow[]): Promise<UserRecord[]> {
    if (rows.length === 0) return [];
    const localIds = rows.map((r) => r.local_user_id).filter((id): id is number => id != null);
    const userIds = rows.map((r) => r.id);
    const unnamed = rows.filter((r) => r.local_name == null && r.nonlocal_name == null).map((r) => r.id);
    const [passwords, options, federated] = await Promise.all([
      localIds.length === 0
        ? []
        : db
            .selectFrom('password')
            .select(['local_user_id', 'password_hash', 'created_at', 'created_at_int', 'expires_at', 'expires_at_int', 'self_service'])
            .where(anyOf('local_user_id', localIds, 'int'))
            // The newest row of each local user first; the first seen per user is its current password.
            .orderBy('local_user_id')
            .orderBy('created_at_int', 'desc')
            .orderBy('id', 'desc')
            .execute(),
      db.selectFrom('user_option').select(['user_id', 'option_id', 'option_value']).where(anyOf('user_id', userIds, 'text')).execute(),
      unnamed.length === 0
        ? []
        : db.selectFrom('federated_user').select(['user_id', 'display_name', 'unique_id']).where(anyOf('user_id', unnamed, 'text')).orderBy('id').execute(),
    ]);
    const passwordOf = new Map<number, (typeof passwords)[number]>();
    for (const p of passwords) if (!passwordOf.has(p.local_user_id)) passwordOf.set(p.local_user_id, p);
    const optionsOf = new Map<string, Partial<Record<UserOptionName, unknown>>>();
    for (const option of options) {
      const name = OPTION_NAME_BY_ID.get(option.option_id);
      if (!name) continue;
      const opts = optionsOf.get(option.user_id) ?? optionsOf.set(option.user_id, {}).get(option.user_id)!;
      opts[name] = option.option_value == null ? null : JSON.parse(option.option_value);
    }
    const federatedOf = new Map<string, (typeof federated)[number]>();
    for (const f of federated) if (!federatedOf.has(f.user_id)) federatedOf.set(f.user_id, f);
    return rows.map((row) => {
      const password = row.local_user_id == null ? undefined : passwordOf.get(row.local_user_id);
      const fed = federatedOf.get(row.id);
      return {
        id: row.id,
        name: row.local_name ?? row.nonlocal_name ?? fed?.display_name ?? fed?.unique_id ?? '',
        domain_id: row.domain_id,
        enabled: row.enabled !== false,
        default_project_id: row.default_project_id,
        created_at: row.created_at,
        last_active_at: row.last_active_at,
        extra: parseExtra(row.extra),
        options: optionsOf.get(row.id) ?? {},
        local:
          row.local_user_id == null
            ? null
            : {
                local_user_id: row.local_user_id,
                failed_auth_count: row.failed_auth_count ?? 0,
                failed_auth_at: row.failed_auth_at,
                password_hash: password?.password_hash ?? null,
                password_created_at: password ? preferInt(password.created_at, password.created_at_int) : null,
                password_expires_at: password ? preferInt(password.expires_at, password.expires_at_int) : null,
                self_service: password?.self_service ?? false,
              },
      };
    });
  }

  async function load(where: { id: string } | { name: string; domainId: string }): Promise<UserRecord | undefined> {
    const query = 'id' in where
      ? baseUsers().where('user.id', '=', where.id)
      : baseUsers().where('local_user.name', '=', where.name).where('local_user.domain_id', '=', where.domainId);
    const row = await query.executeTakeFirst();
    return row ? (await complete([row]))[0] : undefined;
  }

  /** The users with these ids, in that order (missing ones left out). */
  async function loadMany(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const rows = await baseUsers().where(anyOf('user.id', ids, 'text')).execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    return complete(ids.map((id) => byId.get(id)).filter((row): row is BaseRow => row !== undefined));
  }

  return {
    getUser: (id: string) => load({ id }),
    getUsers: loadMany,
    findUserByName: (name: string, domainId: string) => load({ name, domainId }),

    /** Creates a local user with an optional password hash, in one transaction. */
    async createUser(input: {
      id?: string;
      name: string;
      domain_id: string;
      enabled?: boolean;
      default_project_id?: string | null;
      extra?: Record<string, unknown>;
      password?: { hash: string; expiresAt: Date | null; now: Date };
    }): Promise<string> {
      const id = input.id ?? newId();
      const now = input.password?.now ?? new Date();
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('user')
          .values({
            id,
            domain_id: input.domain_id,
            enabled: input.enabled ?? true,
            default_project_id: input.default_project_id ?? null,
            created_at: now,
            last_active_at: null,
            extra: JSON.stringify(input.extra ?? {}),
          })
          .execute();
        const local = await trx
          .insertInto('local_user')
          .values({ user_id: id, domain_id: input.domain_id, name: input.name, failed_auth_count: 0, failed_auth_at: null })
          .returning('id')
          .executeTakeFirstOrThrow();
        if (input.password) await insertPassword(trx, local.id, input.password.hash, input.password.now, input.password.expiresAt, false);
      });
      return id;
    },

    /** Adds a password row (the newest row is the current password). */
    async setPassword(localUserId: number, hash: string, now: Date, expiresAt: Date | null, selfService: boolean): Promise<void> {
      await insertPassword(db, localUserId, hash, now, expiresAt, selfService);
    },

    async setEnabled(userId: string, enabled: boolean): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('user').set({ enabled }).where('id', '=', userId).execute();
        // Keystone resets the lockout counter when an admin re-enables a user (spec 5.5).
        if (enabled) await trx.updateTable('local_user').set({ failed_auth_count: 0, failed_auth_at: null }).where('user_id', '=', userId).execute();
      });
    },

    /**
     * Counts a failed password in one atomic statement, so the lockout holds when several
     * server processes share the database (no read-modify-write race).
     */
    async recordFailedAuth(localUserId: number, now: Date): Promise<void> {
      await db
        .updateTable('local_user')
        .set((eb) => ({ failed_auth_count: eb(eb.fn.coalesce('failed_auth_count', eb.lit(0)), '+', 1), failed_auth_at: now }))
        .where('id', '=', localUserId)
        .execute();
    },

    /**
     * Takes one authentication attempt against the lockout budget, atomically: the counter is
     * raised before the password is checked (and reset on success), so concurrent guesses
     * through several server processes can never exceed `maxAttempts`. A lock older than
     * `durationSeconds` expires (0 = locked until an admin re-enables the user). Returns false
     * when the account is locked.
     */
    async claimAuthAttempt(localUserId: number, maxAttempts: number, durationSeconds: number, now: Date): Promise<boolean> {
      const expiredBefore = new Date(now.getTime() - durationSeconds * 1000);
      const result = await db
        .updateTable('local_user')
        .set((eb) => ({
          failed_auth_count: eb
            .case()
            .when(eb.and([eb.lit(durationSeconds > 0), eb('failed_auth_at', '<=', expiredBefore)]))
            .then(1)
            .else(eb(eb.fn.coalesce('failed_auth_count', eb.lit(0)), '+', 1))
            .end(),
          failed_auth_at: now,
        }))
        .where('id', '=', localUserId)
        .where((eb) =>
          eb.or([
            eb(eb.fn.coalesce('failed_auth_count', eb.lit(0)), '<', maxAttempts),
            eb.and([eb.lit(durationSeconds > 0), eb('failed_auth_at', '<=', expiredBefore)]),
          ]),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async resetFailedAuth(localUserId: number): Promise<void> {
      await db
        .updateTable('local_user')
        .set({ failed_auth_count: 0, failed_auth_at: null })
        .where('id', '=', localUserId)
        .where('failed_auth_count', '!=', 0)
        .execute();
    },

    /** resetFailedAuth by user id: a no-op for a user with no failures or no local credentials. */
    async resetFailedAuthOfUser(userId: string): Promise<void> {
      await db
        .updateTable('local_user')
        .set({ failed_auth_count: 0, failed_auth_at: null })
        .where('user_id', '=', userId)
        .where('failed_auth_count', '!=', 0)
        .execute();
    },

    async touchLastActive(userId: string, today: string): Promise<void> {
      await db.updateTable('user').set({ last_active_at: today }).where('id', '=', userId).where((eb) =>
        eb.or([eb('last_active_at', 'is', null), eb('last_active_at', '!=', today)]),
      ).execute();
    },

    /** The user's federated identities, grouped as Keystone's federated_objects_to_list. */
    async listFederatedObjects(userId: string): Promise<FederatedObject[]> {
      return db.selectFrom('federated_user').select(['idp_id', 'protocol_id', 'unique_id']).where('user_id', '=', userId).orderBy('id').execute();
    },

    async identityProviderExists(idpId: string): Promise<boolean> {
      return (await db.selectFrom('identity_provider').select('id').where('id', '=', idpId).executeTakeFirst()) !== undefined;
    },

    async protocolExists(idpId: string, protocolId: string): Promise<boolean> {
      const row = await db.selectFrom('federation_protocol').select('id').where('idp_id', '=', idpId).where('id', '=', protocolId).executeTakeFirst();
      return row !== undefined;
    },

    /**
     * The users matching the SQL part of a list query, ordered by id, at most `limit` of them,
     * those after `afterId` only (a page's marker).
     * The joins are one-to-one (local_user and nonlocal_user are unique per user), so no row repeats.
     */
    async listUsers(query: UserListQuery, limit?: number, afterId?: string | null): Promise<UserRecord[]> {
      let q = baseUsers({ skipCreatedAt: query.skipCreatedAt === true });
      if (afterId) q = q.where('user.id', '>', afterId);
      if (query.domainId !== undefined) q = q.where('user.domain_id', '=', query.domainId);
      if (query.enabled !== undefined) q = q.where('user.enabled', '=', query.enabled);
      if (query.groupId !== undefined) {
        const groupId = query.groupId;
        q = q.where('user.id', 'in', db.selectFrom('user_group_membership').select('user_id').where('group_id', '=', groupId));
      }
      const federated = query.idpId !== undefined || query.protocolId !== undefined || query.uniqueId !== undefined;
      if (federated) {
        // Keystone answers federated attribute filters from the shadow users alone.
        let fed = db.selectFrom('federated_user').select('user_id');
        if (query.idpId !== undefined) fed = fed.where('idp_id', '=', query.idpId);
        if (query.protocolId !== undefined) fed = fed.where('protocol_id', '=', query.protocolId);
        if (query.uniqueId !== undefined) fed = fed.where('unique_id', '=', query.uniqueId);
        if (query.name !== undefined) fed = fed.where('display_name', '=', query.name);
        q = q.where('user.id', 'in', fed);
      } else if (query.name !== undefined) {
        // The local name, plus federated users by display name (Keystone adds the shadow users).
        const name = query.name;
        q = q.where((eb) =>
          eb.or([
            eb('local_user.name', '=', name),
            eb('user.id', 'in', db.selectFrom('federated_user').select('user_id').where('display_name', '=', name)),
          ]),
        );
      }
      for (const pattern of query.nameIlike ?? []) q = q.where(sql<boolean>`local_user.name ILIKE ${pattern}`);
      for (const { op, at } of query.passwordExpires ?? []) {
        // Any password row of the user, as Keystone's join of password (old rows included).
        q = q.where('local_user.id', 'in', db.selectFrom('password').select('local_user_id').where('expires_at', op, at));
      }
      q = q.orderBy('user.id');
      return complete(await (limit === undefined ? q : q.limit(limit)).execute());
    },

    /** The newest `count` password hashes, newest first (the current one included). */
    async recentPasswordHashes(localUserId: number, count: number): Promise<(string | null)[]> {
      const rows = await db
        .selectFrom('password')
        .select('password_hash')
        .where('local_user_id', '=', localUserId)
        .orderBy('created_at_int', 'desc')
        .orderBy('id', 'desc')
        .limit(count)
        .execute();
      return rows.map((r) => r.password_hash);
    },

    /**
     * Keystone's password setter: history cut to the last `keep` rows, every earlier password
     * that has not expired yet expires now, then the new row becomes the current password.
     */
    async replacePassword(localUserId: number, password: NewPassword): Promise<void> {
      await db.transaction().execute((trx) => replacePasswordRows(trx, localUserId, password));
    },

    /** Creates a local user with its options and optional password, in one transaction. */
    async insertUser(input: {
      id: string;
      name: string;
      domain_id: string;
      enabled: boolean;
      default_project_id: string | null;
      extra: Record<string, unknown>;
      options: Readonly<Record<string, unknown>>;
      now: Date;
      password: NewPassword | null;
      federated: readonly FederatedObject[];
    }): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('user')
            .values({
              id: input.id,
              domain_id: input.domain_id,
              enabled: input.enabled,
              default_project_id: input.default_project_id,
              created_at: input.now,
              last_active_at: null,
              extra: JSON.stringify(input.extra),
            })
            .execute();
          const local = await trx
            .insertInto('local_user')
            .values({ user_id: input.id, domain_id: input.domain_id, name: input.name, failed_auth_count: 0, failed_auth_at: null })
            .returning('id')
            .executeTakeFirstOrThrow();
          await writeOptions(trx, input.id, input.options);
          if (input.password) await replacePasswordRows(trx, local.id, input.password);
          await writeFederated(trx, input.id, input.name, input.federated);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateUser();
        throw error;
      }
    },

    /** Applies an update (and an admin password reset) in one transaction. */
    async updateUser(userId: string, changes: UserChanges, password: NewPassword | null, federated?: readonly FederatedObject[]): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .updateTable('user')
            .set({
              enabled: changes.enabled,
              extra: JSON.stringify(changes.extra),
              ...(changes.default_project_id !== undefined ? { default_project_id: changes.default_project_id } : {}),
              ...(changes.lastActiveAt !== undefined ? { last_active_at: changes.lastActiveAt } : {}),
            })
            .where('id', '=', userId)
            .execute();
          if (changes.name !== undefined) {
            const renamed = await trx.updateTable('local_user').set({ name: changes.name }).where('user_id', '=', userId).executeTakeFirst();
            // A user without a local row is a shadow user: its name is the federated display name.
            if (Number(renamed.numUpdatedRows) === 0) {
              await trx.updateTable('federated_user').set({ display_name: changes.name }).where('user_id', '=', userId).execute();
            }
          }
          if (changes.resetFailedAuth) {
            await trx.updateTable('local_user').set({ failed_auth_count: 0, failed_auth_at: null }).where('user_id', '=', userId).execute();
          }
          await writeOptions(trx, userId, changes.options);
          if (federated) {
            // A new list replaces the user's federated objects (Keystone's update_user).
            const named = await trx.selectFrom('local_user').select('name').where('user_id', '=', userId).executeTakeFirst();
            await trx.deleteFrom('federated_user').where('user_id', '=', userId).execute();
            await writeFederated(trx, userId, changes.name ?? named?.name ?? null, federated);
          }
          if (password) {
            // Shadow (federated or nonlocal) users have no local_user row to hold a password.
            const local = await trx.selectFrom('local_user').select('id').where('user_id', '=', userId).executeTakeFirst();
            if (local) await replacePasswordRows(trx, local.id, password);
          }
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateUser();
        throw error;
      }
    },

    /**
     * Deletes a user with what refers to it, as Keystone's delete_user and its deleted-user
     * callbacks do: group memberships, role assignments (system ones too), credentials,
     * application credentials, and trusts it is party to (soft-deleted; their ids returned so
     * their tokens can be revoked). local_user, password, nonlocal/federated_user and
     * user_option follow by ON DELETE CASCADE.
     */
    async deleteUser(userId: string, now: Date): Promise<{ trustIds: string[] }> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('user_group_membership').where('user_id', '=', userId).execute();
        await trx.deleteFrom('expiring_user_group_membership').where('user_id', '=', userId).execute();
        await trx.deleteFrom('assignment').where('actor_id', '=', userId).where('type', 'in', ['UserProject', 'UserDomain']).execute();
        await trx.deleteFrom('system_assignment').where('actor_id', '=', userId).where('type', '=', 'UserSystem').execute();
        await trx.deleteFrom('credential').where('user_id', '=', userId).execute();
        await trx.deleteFrom('application_credential').where('user_id', '=', userId).execute();
        // The application credential manager's user-deleted callback also drops the access rules.
        await trx.deleteFrom('access_rule').where('user_id', '=', userId).execute();
        const trusts = await trx
          .updateTable('trust')
          .set({ deleted_at: now })
          .where((eb) => eb.or([eb('trustor_user_id', '=', userId), eb('trustee_user_id', '=', userId)]))
          .where('deleted_at', 'is', null)
          .returning('id')
          .execute();
        await trx.deleteFrom('user').where('id', '=', userId).execute();
        return { trustIds: trusts.map((t) => t.id) };
      });
    },

    async listGroupIds(userId: string, now: Date): Promise<string[]> {
      const [direct, expiring] = await Promise.all([
        db.selectFrom('user_group_membership').select('group_id').where('user_id', '=', userId).execute(),
        db.selectFrom('expiring_user_group_membership').select(['group_id', 'last_verified', 'idp_id']).where('user_id', '=', userId).execute(),
      ]);
      const ids = new Set(direct.map((r) => r.group_id));
      if (expiring.length > 0) {
        const ttls = await groupMembershipTtls(expiring.map((r) => r.idp_id));
        for (const row of expiring) {
          const ttlMinutes = ttls.get(row.idp_id) ?? 0;
          if (row.last_verified.getTime() + ttlMinutes * 60_000 > now.getTime()) ids.add(row.group_id);
        }
      }
      return [...ids];
    },
  };

  async function groupMembershipTtls(idpIds: string[]): Promise<Map<string, number>> {
    const rows = await db.selectFrom('identity_provider').select(['id', 'authorization_ttl']).where('id', 'in', idpIds).execute();
    return new Map(rows.map((r) => [r.id, r.authorization_ttl ?? 0]));
  }
}

async function insertPassword(
  db: Kysely<KeystoneDatabase>,
  localUserId: number,
  hash: string | null,
  now: Date,
  expiresAt: Date | null,
  selfService: boolean,
): Promise<void> {
  await db
    .insertInto('password')
    .values({
      local_user_id: localUserId,
      password_hash: hash,
      created_at: now,
      created_at_int: now.getTime() * 1000,
      expires_at: expiresAt,
      expires_at_int: expiresAt ? expiresAt.getTime() * 1000 : null,
      self_service: selfService,
    })
    .execute();
}

async function replacePasswordRows(trx: Transaction<KeystoneDatabase>, localUserId: number, password: NewPassword): Promise<void> {
  const kept = await trx
    .selectFrom('password')
    .select('id')
    .where('local_user_id', '=', localUserId)
    .orderBy('created_at_int', 'desc')
    .orderBy('id', 'desc')
    .limit(password.keep)
    .execute();
  let stale = trx.deleteFrom('password').where('local_user_id', '=', localUserId);
  if (kept.length > 0) stale = stale.where('id', 'not in', kept.map((r) => r.id));
  await stale.execute();
  await trx
    .updateTable('password')
    .set({ expires_at: password.now, expires_at_int: password.now.getTime() * 1000 })
    .where('local_user_id', '=', localUserId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', password.now)]))
    .execute();
  await insertPassword(trx, localUserId, password.hash, password.now, password.expiresAt, password.selfService);
}

/** Keystone's resource_options_ref_to_mapper: null deletes an option, unregistered ids are dropped. */
async function writeOptions(trx: Transaction<KeystoneDatabase>, userId: string, options: Readonly<Record<string, unknown>>): Promise<void> {
  const registered = Object.values(USER_OPTION_IDS) as string[];
  await trx.deleteFrom('user_option').where('user_id', '=', userId).where('option_id', 'not in', registered).execute();
  for (const [optionId, value] of Object.entries(options)) {
    await trx.deleteFrom('user_option').where('user_id', '=', userId).where('option_id', '=', optionId).execute();
    if (value !== null && value !== undefined) {
      await trx.insertInto('user_option').values({ user_id: userId, option_id: optionId, option_value: JSON.stringify(value) }).execute();
    }
  }
}

async function writeFederated(trx: Transaction<KeystoneDatabase>, userId: string, displayName: string | null, objects: readonly FederatedObject[]): Promise<void> {
  for (const object of objects) {
    await trx
      .insertInto('federated_user')
      .values({ user_id: userId, idp_id: object.idp_id, protocol_id: object.protocol_id, unique_id: object.unique_id, display_name: displayName })
      .execute();
  }
}

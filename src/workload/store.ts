import { sql, type Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';
import type { BindingRule } from './bindings.js';

/**
 * SQL for workload identity federation (migration 0007): trusted issuers, their binding rules,
 * the `jti` of every exchanged token and the attributes of the tokens issued. Rules about what
 * is valid live in service.ts; this module only reads and writes rows.
 */

export interface IssuerRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly enabled: boolean;
  readonly preset: string | null;
  readonly bound_issuer: string | null;
  readonly oidc_discovery_url: string | null;
  readonly jwks_url: string | null;
  /** An inline JWKS. */
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] } | null;
  /** PEM (SPKI) public keys, Keystone-NG's `jwt_validation_pubkeys`. */
  readonly jwt_validation_pubkeys: readonly string[] | null;
  readonly allowed_algorithms: readonly string[];
  readonly bound_audiences: readonly string[];
  /** Seconds since `iat` after which a token is refused even when `exp` is later. */
  readonly max_token_age: number | null;
  readonly default_mapping_name: string | null;
}

export interface BindingRecord {
  readonly id: string;
  readonly issuer_id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Evaluation order when the login names no binding. */
  readonly position: number;
  readonly rule: BindingRule;
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

type IssuerRow = KeystoneDatabase['keystone_ts_workload_issuer'];

function issuerFromRow(row: Omit<IssuerRow, 'created_at'>): IssuerRecord {
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    enabled: row.enabled,
    preset: row.preset,
    bound_issuer: row.bound_issuer,
    oidc_discovery_url: row.oidc_discovery_url,
    jwks_url: row.jwks_url,
    jwks: row.jwks ? (JSON.parse(row.jwks) as IssuerRecord['jwks']) : null,
    jwt_validation_pubkeys: row.jwt_validation_pubkeys ? (JSON.parse(row.jwt_validation_pubkeys) as string[]) : null,
    allowed_algorithms: JSON.parse(row.allowed_algorithms) as string[],
    bound_audiences: JSON.parse(row.bound_audiences) as string[],
    max_token_age: row.max_token_age,
    default_mapping_name: row.default_mapping_name,
  };
}

function issuerToRow(record: IssuerRecord): Omit<IssuerRow, 'created_at'> {
  return {
    ...record,
    jwks: json(record.jwks),
    jwt_validation_pubkeys: json(record.jwt_validation_pubkeys),
    allowed_algorithms: JSON.stringify(record.allowed_algorithms),
    bound_audiences: JSON.stringify(record.bound_audiences),
  };
}

const ISSUER_COLUMNS = [
  'id', 'name', 'domain_id', 'enabled', 'preset', 'bound_issuer', 'oidc_discovery_url', 'jwks_url', 'jwks',
  'jwt_validation_pubkeys', 'allowed_algorithms', 'bound_audiences', 'max_token_age', 'default_mapping_name',
] as const;

/**
 * @param tracked writes announce a change (issuers and bindings are cached until one);
 * @param untracked writes that no cache depends on (`jti`, attributes), so a login does not
 *   drop every process's validated tokens.
 */
export function createWorkloadStore(tracked: Kysely<KeystoneDatabase>, untracked: Kysely<KeystoneDatabase>) {
  return {
    async listIssuers(filter: { domain_id?: string; name?: string } = {}): Promise<IssuerRecord[]> {
      let query = tracked.selectFrom('keystone_ts_workload_issuer').select(ISSUER_COLUMNS).orderBy('id');
      if (filter.domain_id !== undefined) query = query.where('domain_id', '=', filter.domain_id);
      if (filter.name !== undefined) query = query.where('name', '=', filter.name);
      return (await query.execute()).map(issuerFromRow);
    },
    async getIssuer(id: string): Promise<IssuerRecord | undefined> {
      const row = await tracked.selectFrom('keystone_ts_workload_issuer').select(ISSUER_COLUMNS).where('id', '=', id).executeTakeFirst();
      return row && issuerFromRow(row);
    },
    async createIssuer(record: IssuerRecord): Promise<void> {
      await tracked.insertInto('keystone_ts_workload_issuer').values(issuerToRow(record)).execute();
    },
    async updateIssuer(record: IssuerRecord): Promise<void> {
      const { id, ...rest } = issuerToRow(record);
      await tracked.updateTable('keystone_ts_workload_issuer').set(rest).where('id', '=', id).execute();
    },
    async deleteIssuer(id: string): Promise<boolean> {
      // Bindings go first rather than by the cascade, so one statement per table is announced.
      await tracked.deleteFrom('keystone_ts_workload_binding').where('issuer_id', '=', id).execute();
      const result = await tracked.deleteFrom('keystone_ts_workload_issuer').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async listBindings(filter: { issuer_id?: string; name?: string } = {}): Promise<BindingRecord[]> {
      let query = tracked.selectFrom('keystone_ts_workload_binding').select(['id', 'issuer_id', 'name', 'enabled', 'position', 'rule']).orderBy('position').orderBy('id');
      if (filter.issuer_id !== undefined) query = query.where('issuer_id', '=', filter.issuer_id);
      if (filter.name !== undefined) query = query.where('name', '=', filter.name);
      return (await query.execute()).map((row) => ({ ...row, rule: JSON.parse(row.rule) as BindingRule }));
    },
    async getBinding(id: string): Promise<BindingRecord | undefined> {
      const row = await tracked.selectFrom('keystone_ts_workload_binding').select(['id', 'issuer_id', 'name', 'enabled', 'position', 'rule']).where('id', '=', id).executeTakeFirst();
      return row && { ...row, rule: JSON.parse(row.rule) as BindingRule };
    },
    async nextBindingPosition(issuerId: string): Promise<number> {
      const row = await tracked
        .selectFrom('keystone_ts_workload_binding')
        .select((eb) => eb.fn.max('position').as('top'))
        .where('issuer_id', '=', issuerId)
        .executeTakeFirst();
      return row?.top === null || row?.top === undefined ? 0 : Number(row.top) + 1;
    },
    async createBinding(record: BindingRecord): Promise<void> {
      await tracked.insertInto('keystone_ts_workload_binding').values({ ...record, rule: JSON.stringify(record.rule) }).execute();
    },
    async updateBinding(record: BindingRecord): Promise<void> {
      const { id, ...rest } = record;
      await tracked.updateTable('keystone_ts_workload_binding').set({ ...rest, rule: JSON.stringify(rest.rule) }).where('id', '=', id).execute();
    },
    async deleteBinding(id: string): Promise<boolean> {
      const result = await tracked.deleteFrom('keystone_ts_workload_binding').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    /**
     * Spends a `jti` until `jtiExpiresAt` and records the issued token's attributes, in one
     * statement (one round trip, one commit). False, with nothing recorded, when the `jti` is
     * already spent: the primary key makes the first of two concurrent logins (in any process)
     * the only winner. A row left over from an expired token with the same id is taken over.
     */
    async spendJti(
      spend: { issuerId: string; jti: string; expiresAt: Date; now: Date },
      attributes: { auditId: string; values: Record<string, unknown>; expiresAt: Date },
    ): Promise<boolean> {
      const result = await sql<{ jti: string }>`
        WITH spent AS (
          INSERT INTO keystone_ts_workload_jti (issuer_id, jti, expires_at) VALUES (${spend.issuerId}, ${spend.jti}, ${spend.expiresAt})
          ON CONFLICT (issuer_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
            WHERE keystone_ts_workload_jti.expires_at <= ${spend.now}
          RETURNING jti
        ), saved AS (
          INSERT INTO keystone_ts_token_attributes (audit_id, attributes, expires_at)
          SELECT ${attributes.auditId}, ${JSON.stringify(attributes.values)}, ${attributes.expiresAt} FROM spent
          RETURNING audit_id
        )
        SELECT spent.jti FROM spent, saved`.execute(untracked);
      return result.rows.length === 1;
    },
    async getAttributes(auditId: string): Promise<Record<string, unknown> | undefined> {
      const row = await untracked.selectFrom('keystone_ts_token_attributes').select('attributes').where('audit_id', '=', auditId).executeTakeFirst();
      return row && (JSON.parse(row.attributes) as Record<string, unknown>);
    },
    /** Drops used `jti`s and attributes whose tokens can no longer be presented. */
    async purgeExpired(before: Date): Promise<number> {
      const jtis = await untracked.deleteFrom('keystone_ts_workload_jti').where('expires_at', '<=', before).executeTakeFirst();
      const attributes = await untracked.deleteFrom('keystone_ts_token_attributes').where('expires_at', '<=', before).executeTakeFirst();
      return Number(jtis.numDeletedRows + attributes.numDeletedRows);
    },
  };
}

export type WorkloadStore = ReturnType<typeof createWorkloadStore>;

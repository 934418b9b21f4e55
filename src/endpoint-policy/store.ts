import type { ExpressionBuilder, Kysely } from 'kysely';
import { newId, parseExtra } from '../common/ids.js';
import type { KeystoneDatabase } from '../db/schema.js';

/** A /v3/policies blob: opaque to Keystone, stored for other services to fetch. */
export interface PolicyRow {
  readonly id: string;
  readonly type: string;
  /** Keystone stores the `blob` string JSON-encoded (a JsonBlob column). */
  readonly blob: unknown;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** One OS-ENDPOINT-POLICY association: an endpoint, a service, or a service in a region. */
export interface AssociationTarget {
  readonly endpoint_id: string | null;
  readonly service_id: string | null;
  readonly region_id: string | null;
}

export interface Association extends AssociationTarget {
  readonly policy_id: string;
}

function toPolicy(row: { id: string; type: string; blob: string; extra: string | null }): PolicyRow {
  let blob: unknown;
  try {
    blob = JSON.parse(row.blob);
  } catch {
    // A row another tool wrote as plain text is still served as it is.
    blob = row.blob;
  }
  return { id: row.id, type: row.type, blob, extra: parseExtra(row.extra) };
}

export type EndpointPolicyStore = ReturnType<typeof createEndpointPolicyStore>;

export function createEndpointPolicyStore(db: Kysely<KeystoneDatabase>) {
  /** `column = value`, or `column IS NULL` for null, as SQLAlchemy's filter_by(x=None) does. */
  const matching = (target: AssociationTarget) => (eb: ExpressionBuilder<KeystoneDatabase, 'policy_association'>) =>
    eb.and(
      (['endpoint_id', 'service_id', 'region_id'] as const).map((column) =>
        target[column] === null ? eb(column, 'is', null) : eb(column, '=', target[column]),
      ),
    );

  return {
    async listPolicies(): Promise<PolicyRow[]> {
      return (await db.selectFrom('policy').selectAll().orderBy('id').execute()).map(toPolicy);
    },

    async getPolicy(id: string): Promise<PolicyRow | undefined> {
      const row = await db.selectFrom('policy').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toPolicy(row) : undefined;
    },

    async insertPolicy(policy: PolicyRow): Promise<void> {
      await db
        .insertInto('policy')
        .values({ id: policy.id, type: policy.type, blob: JSON.stringify(policy.blob), extra: JSON.stringify(policy.extra) })
        .execute();
    },

    async updatePolicy(policy: PolicyRow): Promise<void> {
      await db
        .updateTable('policy')
        .set({ type: policy.type, blob: JSON.stringify(policy.blob), extra: JSON.stringify(policy.extra) })
        .where('id', '=', policy.id)
        .execute();
    },

    /** Deletes the policy and its associations; false when it did not exist. */
    async deletePolicy(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('policy_association').where('policy_id', '=', id).execute();
        const result = await trx.deleteFrom('policy').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      });
    },

    /** Keystone keeps one association per target: associating again moves it to this policy. */
    async associate(policyId: string, target: AssociationTarget): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('policy_association').select('id').where(matching(target)).executeTakeFirst();
        if (existing) {
          await trx.updateTable('policy_association').set({ policy_id: policyId }).where('id', '=', existing.id).execute();
        } else {
          await trx.insertInto('policy_association').values({ id: newId(), policy_id: policyId, ...target }).execute();
        }
      });
    },

    async isAssociated(policyId: string, target: AssociationTarget): Promise<boolean> {
      const row = await db.selectFrom('policy_association').select('id').where('policy_id', '=', policyId).where(matching(target)).executeTakeFirst();
      return row !== undefined;
    },

    async dissociate(policyId: string, target: AssociationTarget): Promise<void> {
      await db.deleteFrom('policy_association').where('policy_id', '=', policyId).where(matching(target)).execute();
    },

    /** The policy associated with exactly this target, if any. */
    async policyIdFor(target: AssociationTarget): Promise<string | undefined> {
      const row = await db.selectFrom('policy_association').select('policy_id').where(matching(target)).executeTakeFirst();
      return row?.policy_id;
    },

    async associationsOf(policyId: string): Promise<Association[]> {
      return db
        .selectFrom('policy_association')
        .select(['policy_id', 'endpoint_id', 'service_id', 'region_id'])
        .where('policy_id', '=', policyId)
        .orderBy('id')
        .execute();
    },
  };
}

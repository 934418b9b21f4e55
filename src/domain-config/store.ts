import type { Kysely } from 'kysely';
import type { KeystoneDatabase } from '../db/schema.js';

/** One stored option; `sensitive` options live in their own table and are never served. */
export interface ConfigOption {
  readonly group: string;
  readonly option: string;
  readonly value: unknown;
  readonly sensitive: boolean;
}

const table = (sensitive: boolean) => (sensitive ? 'sensitive_config' : 'whitelisted_config');

export type DomainConfigStore = ReturnType<typeof createDomainConfigStore>;

/** Keystone's resource/config_backends/sql.py over the same two tables (values JSON-encoded). */
export function createDomainConfigStore(db: Kysely<KeystoneDatabase>) {
  return {
    async list(domainId: string, sensitive: boolean, group?: string, option?: string): Promise<ConfigOption[]> {
      let query = db.selectFrom(table(sensitive)).select(['group', 'option', 'value']).where('domain_id', '=', domainId);
      if (group) {
        query = query.where('group', '=', group);
        if (option) query = query.where('option', '=', option);
      }
      const rows = await query.orderBy('group').orderBy('option').execute();
      return rows.map((row) => ({ group: row.group, option: row.option, value: JSON.parse(row.value) as unknown, sensitive }));
    },

    /** Create replaces the domain's whole configuration (Keystone raises no conflict). */
    async replace(domainId: string, options: readonly ConfigOption[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        for (const sensitive of [false, true]) await trx.deleteFrom(table(sensitive)).where('domain_id', '=', domainId).execute();
        for (const o of options) {
          await trx.insertInto(table(o.sensitive)).values({ domain_id: domainId, group: o.group, option: o.option, value: JSON.stringify(o.value) }).execute();
        }
      });
    },

    /** Update merges: each option is written over whatever was there, in either table. */
    async merge(domainId: string, options: readonly ConfigOption[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        for (const o of options) {
          for (const sensitive of [false, true]) {
            await trx.deleteFrom(table(sensitive)).where('domain_id', '=', domainId).where('group', '=', o.group).where('option', '=', o.option).execute();
          }
          await trx.insertInto(table(o.sensitive)).values({ domain_id: domainId, group: o.group, option: o.option, value: JSON.stringify(o.value) }).execute();
        }
      });
    },

    async remove(domainId: string, group?: string, option?: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        for (const sensitive of [false, true]) {
          let query = trx.deleteFrom(table(sensitive)).where('domain_id', '=', domainId);
          if (group) {
            query = query.where('group', '=', group);
            if (option) query = query.where('option', '=', option);
          }
          await query.execute();
        }
      });
    },
  };
}

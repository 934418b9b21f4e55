import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Decision, PolicyEngine, PolicyInput } from './pdp.js';

/** Processes learn of a new bundle revision on this channel (payload `<name>:<revision>`). */
export const POLICY_CHANNEL = 'keystone_ts_policy';
export const DEFAULT_BUNDLE = 'default';

export interface PolicyBundle {
  readonly name: string;
  readonly revision: number;
  /** `oslo`: a JSON object of rule name → check string, applied over Keystone's defaults. */
  readonly kind: 'oslo';
  readonly content: string;
}

export type BundleStore = ReturnType<typeof createBundleStore>;

export function createBundleStore(db: Db) {
  return {
    async latest(name = DEFAULT_BUNDLE): Promise<PolicyBundle | undefined> {
      const row = await db.kysely
        .selectFrom('keystone_ts_policy_bundle')
        .select(['name', 'revision', 'kind', 'content'])
        .where('name', '=', name)
        .orderBy('revision', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && { ...row, kind: 'oslo' };
    },

    /**
     * Stores a new revision and announces it, in one transaction: the NOTIFY is delivered at
     * commit, so no process can hear of a revision it cannot read yet. The advisory lock
     * serializes concurrent uploads so revisions never collide.
     */
    async publish(name: string, kind: PolicyBundle['kind'], content: string): Promise<number> {
      return db.kysely.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`keystone_ts_policy:${name}`}))`.execute(trx);
        const last = await trx
          .selectFrom('keystone_ts_policy_bundle')
          .select((eb) => eb.fn.max('revision').as('revision'))
          .where('name', '=', name)
          .executeTakeFirst();
        const revision = (last?.revision ?? 0) + 1;
        await trx
          .insertInto('keystone_ts_policy_bundle')
          .values({ name, revision, kind, content, sha256: createHash('sha256').update(content).digest('hex') })
          .execute();
        await sql`SELECT pg_notify(${POLICY_CHANNEL}, ${`${name}:${revision}`})`.execute(trx);
        return revision;
      });
    },
  };
}

/**
 * The engine in force. A new one is built aside and swapped in only if the build succeeds, so a
 * bundle that fails to load or validate is refused and the previous rules keep serving; a
 * decision is synchronous, so each one runs wholly on one engine. Builds are serialized: a slow
 * build of an older revision can never replace a newer one.
 */
export interface PolicyHolder extends PolicyEngine {
  readonly revision: number;
  install(revision: number, build: () => Promise<PolicyEngine>): Promise<{ ok: true } | { ok: false; error: string }>;
}

export function createPolicyHolder(engine: PolicyEngine, revision: number): PolicyHolder {
  let current = { engine, revision };
  let queue: Promise<unknown> = Promise.resolve();
  return {
    get revision() {
      return current.revision;
    },
    decide(action: string, input: PolicyInput): Decision {
      return current.engine.decide(action, input);
    },
    install(nextRevision, build) {
      const run = queue.then(async (): Promise<{ ok: true } | { ok: false; error: string }> => {
        try {
          current = { engine: await build(), revision: nextRevision };
          return { ok: true };
        } catch (error) {
          return { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      });
      queue = run;
      return run;
    },
  };
}

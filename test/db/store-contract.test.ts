import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ConfigError } from '../../src/common/errors.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { dateFromEpochMicros, epochMicros } from '../../src/db/values.js';
import { describeEachDatabase } from '../support/databases.js';

/** A Keystone DATETIME value as upstream writes it (spec §6, observed after bootstrap). */
const KEYSTONE_CREATED_AT = '2026-11-22 18:21:31.135872';
const KEYSTONE_CREATED_AT_INT = 1795371691135872;

/** Runs `fn` with the process in a zone far from UTC, so local-time parsing would show. */
async function inTimeZone<T>(zone: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TZ;
  process.env.TZ = zone;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

async function insertUser(db: Db, id: string, values: { created_at?: Date; last_active_at?: string } = {}): Promise<void> {
  await db.kysely
    .insertInto('user')
    .values({ id, domain_id: 'default', enabled: true, extra: '{}', ...values })
    .execute();
}

describeEachDatabase('store contract', (ctx) => {
  describe('type normalisation', () => {
    it('reads Keystone DATETIME as UTC, keeping microseconds on the Date', () =>
      inTimeZone('America/New_York', async () => {
        const db = ctx.db();
        await sql`INSERT INTO "user" (id, domain_id, created_at) VALUES ('u-keystone', 'default', ${KEYSTONE_CREATED_AT}::timestamp)`.execute(db.kysely);
        const row = await db.kysely.selectFrom('user').select('created_at').where('id', '=', 'u-keystone').executeTakeFirstOrThrow();
        assert.ok(row.created_at instanceof Date);
        assert.equal(row.created_at.toISOString(), '2026-11-22T18:21:31.135Z');
        assert.equal(epochMicros(row.created_at), KEYSTONE_CREATED_AT_INT);
        // A plain Date of the same millisecond still compares equal.
        assert.deepEqual(row.created_at, new Date('2026-11-22T18:21:31.135Z'));
      }));

    it('writes a Date as UTC and round-trips microseconds', () =>
      inTimeZone('Asia/Kolkata', async () => {
        const db = ctx.db();
        await insertUser(db, 'u-micro', { created_at: dateFromEpochMicros(KEYSTONE_CREATED_AT_INT) });
        const stored = await sql<{ text: string }>`SELECT created_at::text AS text FROM "user" WHERE id = 'u-micro'`.execute(db.kysely);
        assert.equal(stored.rows[0]?.text, KEYSTONE_CREATED_AT);

        // Read it and write it back: no microsecond lost on the way.
        const row = await db.kysely.selectFrom('user').select('created_at').where('id', '=', 'u-micro').executeTakeFirstOrThrow();
        assert.ok(row.created_at);
        await insertUser(db, 'u-copy', { created_at: row.created_at });
        const copy = await sql<{ text: string }>`SELECT created_at::text AS text FROM "user" WHERE id = 'u-copy'`.execute(db.kysely);
        assert.equal(copy.rows[0]?.text, KEYSTONE_CREATED_AT);

        const plain = new Date('2030-01-02T03:04:05.678Z');
        await insertUser(db, 'u-plain', { created_at: plain });
        const back = await db.kysely.selectFrom('user').select('created_at').where('id', '=', 'u-plain').executeTakeFirstOrThrow();
        assert.deepEqual(back.created_at, plain);
        assert.equal(epochMicros(plain), plain.getTime() * 1000);
      }));

    it('honours the offset of timestamptz and compares naive columns in UTC', async () => {
      const db = ctx.db();
      const result = await sql<{ tz: Date; local: Date; zone: string }>`
        SELECT '2026-01-01 12:00:00.5+02'::timestamptz AS tz,
               ('2026-01-01 12:00:00+02'::timestamptz AT TIME ZONE 'UTC') AS local,
               current_setting('TimeZone') AS zone`.execute(db.kysely);
      const row = result.rows[0];
      assert.ok(row);
      assert.equal(row.tz.toISOString(), '2026-01-01T10:00:00.500Z');
      assert.equal(row.local.toISOString(), '2026-01-01T10:00:00.000Z');
      assert.equal(row.zone, 'UTC');
    });

    it('reads BIGINT as a number and refuses values a number cannot hold', async () => {
      const db = ctx.db();
      const localUser = await db.kysely
        .insertInto('local_user')
        .values({ user_id: 'u-micro', domain_id: 'default', name: 'micro' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.kysely
        .insertInto('password')
        .values({
          local_user_id: localUser.id,
          password_hash: '$2b$12$x',
          created_at: dateFromEpochMicros(KEYSTONE_CREATED_AT_INT),
          created_at_int: KEYSTONE_CREATED_AT_INT,
          expires_at_int: null,
        })
        .execute();
      const row = await db.kysely
        .selectFrom('password')
        .select(['created_at_int', 'expires_at_int', 'self_service'])
        .where('local_user_id', '=', localUser.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { created_at_int: KEYSTONE_CREATED_AT_INT, expires_at_int: null, self_service: false });

      const count = await db.kysely.selectFrom('password').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(count.n, 1);
      await assert.rejects(sql`SELECT 9007199254740993::bigint AS big`.execute(db.kysely), /beyond Number.MAX_SAFE_INTEGER/);
      // The session is still usable after the refused row.
      assert.deepEqual((await sql<{ one: number }>`SELECT 1::bigint AS one`.execute(db.kysely)).rows, [{ one: 1 }]);
    });

    it('reads booleans as booleans and DATE as a YYYY-MM-DD string', () =>
      inTimeZone('Pacific/Kiritimati', async () => {
        const db = ctx.db();
        await insertUser(db, 'u-date', { last_active_at: '2026-11-22' });
        await db.kysely.updateTable('user').set({ enabled: false }).where('id', '=', 'u-date').execute();
        const row = await db.kysely
          .selectFrom('user')
          .select(['enabled', 'last_active_at'])
          .where('id', '=', 'u-date')
          .executeTakeFirstOrThrow();
        assert.deepEqual(row, { enabled: false, last_active_at: '2026-11-22' });
        // A Date bound to a DATE column is its UTC calendar day (here local time is already the 23rd).
        await db.kysely
          .updateTable('user')
          .set({ last_active_at: sql<string>`${new Date('2026-11-22T23:30:00Z')}` })
          .where('id', '=', 'u-date')
          .execute();
        const again = await db.kysely.selectFrom('user').select('last_active_at').where('id', '=', 'u-date').executeTakeFirstOrThrow();
        assert.equal(again.last_active_at, '2026-11-22');
        const bools = await sql<{ t: boolean; f: boolean; n: boolean | null }>`SELECT true AS t, false AS f, NULL::boolean AS n`.execute(db.kysely);
        assert.deepEqual(bools.rows, [{ t: true, f: false, n: null }]);
      }));

    it('parses arrays of bigint, date and timestamp the same way', async () => {
      const db = ctx.db();
      const result = await sql<{ ints: (number | null)[]; days: string[]; times: Date[] }>`
        SELECT ARRAY[1, NULL, 1795371691135872]::bigint[] AS ints,
               ARRAY['2026-11-22']::date[] AS days,
               ARRAY[${KEYSTONE_CREATED_AT}::timestamp] AS times`.execute(db.kysely);
      const row = result.rows[0];
      assert.ok(row);
      assert.deepEqual(row.ints, [1, null, 1795371691135872]);
      assert.deepEqual(row.days, ['2026-11-22']);
      assert.equal(row.times.length, 1);
      assert.equal(epochMicros(row.times[0] ?? new Date(Number.NaN)), KEYSTONE_CREATED_AT_INT);
    });

    it('keeps enum values as strings', async () => {
      const db = ctx.db();
      await db.kysely
        .insertInto('assignment')
        .values({ type: 'UserProject', actor_id: 'u', target_id: 'p', role_id: 'r', inherited: false })
        .execute();
      const row = await db.kysely.selectFrom('assignment').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual(row, { type: 'UserProject', actor_id: 'u', target_id: 'p', role_id: 'r', inherited: false });
      const updated = await db.kysely.updateTable('assignment').set({ inherited: true }).where('actor_id', '=', 'u').executeTakeFirst();
      assert.equal(updated.numUpdatedRows, 1n);
    });
  });

  describe('transactions', () => {
    it('roll back everything when the callback throws', async () => {
      const db = ctx.db();
      await assert.rejects(
        db.kysely.transaction().execute(async (trx) => {
          await trx.insertInto('role').values({ id: 'r-rollback', name: 'rollback' }).execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      const rows = await db.kysely.selectFrom('role').select('id').where('id', '=', 'r-rollback').execute();
      assert.deepEqual(rows, []);
    });

    it('roll back on a SQL error and leave the connection usable', async () => {
      const db = ctx.db();
      await db.kysely.insertInto('role').values({ id: 'r-unique', name: 'unique' }).execute();
      await assert.rejects(
        db.kysely.transaction().execute(async (trx) => {
          await trx.insertInto('role').values({ id: 'r-unique-2', name: 'unique-2' }).execute();
          // Same (name, domain_id) → ixu_role_name_domain_id violation.
          await trx.insertInto('role').values({ id: 'r-unique-3', name: 'unique' }).execute();
        }),
        /ixu_role_name_domain_id/,
      );
      const rows = await db.kysely.selectFrom('role').select('id').where('id', 'like', 'r-unique%').orderBy('id').execute();
      assert.deepEqual(rows, [{ id: 'r-unique' }]);
    });

    it('keep concurrent read-modify-write transactions consistent (row locks)', async () => {
      const db = ctx.db();
      await db.kysely.insertInto('keystone_ts_meta').values({ key: 'counter', value: '0' }).execute();
      await Promise.all(
        Array.from({ length: 8 }, () =>
          db.kysely.transaction().execute(async (trx) => {
            const row = await trx
              .selectFrom('keystone_ts_meta')
              .select('value')
              .where('key', '=', 'counter')
              .forUpdate()
              .executeTakeFirstOrThrow();
            await sleep(5);
            await trx
              .updateTable('keystone_ts_meta')
              .set({ value: String(Number(row.value) + 1) })
              .where('key', '=', 'counter')
              .execute();
          }),
        ),
      );
      const row = await db.kysely.selectFrom('keystone_ts_meta').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
      assert.equal(row.value, '8');
    });

    it('run one at a time on PGlite instead of interleaving in its single session', async function () {
      if (ctx.kind !== 'pglite') this.skip(); // PostgreSQL runs them on separate connections.
      const db = ctx.db();
      const events: string[] = [];
      const transaction = (n: number): Promise<void> =>
        db.kysely.transaction().execute(async (trx) => {
          events.push(`begin ${n}`);
          await trx.insertInto('role').values({ id: `r-serial-${n}`, name: `serial-${n}` }).execute();
          await sleep(10);
          if (n === 2) throw new Error('roll me back');
          events.push(`commit ${n}`);
        });
      // A plain query issued while transaction 0 is open must not see its uncommitted row.
      const outsider = (async () => {
        await sleep(2);
        const rows = await db.kysely.selectFrom('role').select('id').where('id', '=', 'r-serial-0').execute();
        events.push(`outsider sees ${rows.length}`);
      })();
      const results = await Promise.allSettled([0, 1, 2, 3].map(transaction).concat(outsider));
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
      assert.deepEqual(events, [
        'begin 0', 'commit 0', 'begin 1', 'commit 1', 'begin 2', 'begin 3', 'commit 3', 'outsider sees 1',
      ]);
      const rows = await db.kysely.selectFrom('role').select('id').where('id', 'like', 'r-serial-%').orderBy('id').execute();
      assert.deepEqual(rows.map((r) => r.id), ['r-serial-0', 'r-serial-1', 'r-serial-3']);
    });
  });

  describe('listen', () => {
    it('delivers NOTIFY payloads until unsubscribed, and nothing from a rolled-back transaction', async () => {
      const db = ctx.db();
      // On PostgreSQL the sender is another Db, as another keystone-ts process would be.
      const sender = ctx.kind === 'postgres' ? await openDatabase(ctx.url(), { poolSize: 1 }) : db;
      try {
        const received: string[] = [];
        const stop = await db.listen('keystone_ts.test-Channel', (payload) => received.push(payload));
        const notify = (payload: string): Promise<unknown> =>
          sql`SELECT pg_notify('keystone_ts.test-Channel', ${payload})`.execute(sender.kysely);
        await notify('one');
        await assert.rejects(
          sender.kysely.transaction().execute(async (trx) => {
            await sql`SELECT pg_notify('keystone_ts.test-Channel', 'rolled back')`.execute(trx);
            throw new Error('rollback');
          }),
        );
        await notify('two');
        await waitFor(() => received.length >= 2);
        await stop();
        await notify('three');
        await sleep(100);
        assert.deepEqual(received, ['one', 'two']);
      } finally {
        if (sender !== db) await sender.close();
      }
    });

    it('refuses channel names that would need escaping', async () => {
      await assert.rejects(ctx.db().listen('bad"name', () => undefined), /invalid LISTEN channel name/);
    });

    it('listens again after the listening connection is killed (PostgreSQL)', async function () {
      if (ctx.kind !== 'postgres') this.skip(); // PGlite has no connection to lose.
      const errors: Error[] = [];
      const db = await openDatabase(ctx.url(), { poolSize: 1, onError: (error) => errors.push(error) });
      try {
        const received: string[] = [];
        let reconnects = 0;
        db.onListenerReconnect(() => (reconnects += 1));
        const stop = await db.listen('reconnect_test', (payload) => received.push(payload));
        const killed = await sql<{ n: number }>`
          SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'LISTEN "reconnect_test"'`.execute(db.kysely);
        assert.equal(killed.rows[0]?.n, 1);
        await waitFor(() => reconnects > 0, 10_000);
        await sql`SELECT pg_notify('reconnect_test', 'after')`.execute(db.kysely);
        await waitFor(() => received.length > 0);
        assert.deepEqual(received, ['after']);
        assert.match(errors.map((e) => e.message).join('\n'), /terminat/);
        await stop();
      } finally {
        await db.close();
      }
    });
  });
});

describe('openDatabase', () => {
  it('rejects other URL schemes with a ConfigError naming the scheme', async () => {
    await assert.rejects(openDatabase('mysql+pymysql://keystone@db/keystone', {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /unsupported URL scheme "mysql\+pymysql:"/);
      return true;
    });
    await assert.rejects(openDatabase('sqlite:///keystone.db', {}), /"sqlite:"/);
  });

  it('rejects a relative PGlite directory', async () => {
    await assert.rejects(openDatabase('pglite://data/keystone', {}), (error: unknown) => error instanceof ConfigError);
  });

  it('creates a pglite:///dir data directory and keeps the data across reopening', async function () {
    this.timeout(60_000);
    const parent = mkdtempSync(path.join(os.tmpdir(), 'kts-pglite-'));
    const dir = path.join(parent, 'nested', 'data');
    try {
      const first = await openDatabase(`pglite://${dir}`, {});
      await sql`CREATE TABLE keystone_ts_persist (v text)`.execute(first.kysely);
      await sql`INSERT INTO keystone_ts_persist VALUES ('kept')`.execute(first.kysely);
      await first.close();
      assert.ok(existsSync(path.join(dir, 'PG_VERSION')));
      const second = await openDatabase(`pglite://${dir}`, {});
      const rows = await sql<{ v: string }>`SELECT v FROM keystone_ts_persist`.execute(second.kysely);
      await second.close();
      assert.deepEqual(rows.rows, [{ v: 'kept' }]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

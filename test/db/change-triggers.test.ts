import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ensureChangeTriggers } from '../../src/db/change-triggers.js';
import { CHANGE_CHANNEL } from '../../src/common/change-feed.js';
import { describeEachDatabase } from '../support/databases.js';

describeEachDatabase('change notifications', (ctx) => {
  it('announces a committed write on the change channel, with the table name', async () => {
    const payloads: string[] = [];
    const unlisten = await ctx.db().listen(CHANGE_CHANNEL, (payload) => payloads.push(payload));
    try {
      await ctx.db().kysely.insertInto('region').values({ id: 'notify-region', description: '', parent_region_id: null, extra: '{}' }).execute();
      const deadline = Date.now() + 2000;
      while (!payloads.includes('region') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(payloads.includes('region'), `got ${JSON.stringify(payloads)}`);
    } finally {
      await unlisten();
    }
  });

  it('restores a trigger that an upstream table rebuild dropped', async () => {
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), []);
    await sql`DROP TRIGGER keystone_ts_changes ON "user"`.execute(ctx.db().kysely);
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), ['user']);
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), []);
  });
});

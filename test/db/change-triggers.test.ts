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

  it('does not announce login bookkeeping (lockout counters, last activity), but does announce a rename', async () => {
    const db = ctx.db().kysely;
    await db.insertInto('user').values({ id: 'u-notify', domain_id: 'default', enabled: true, extra: '{}', default_project_id: null, created_at: new Date(), last_active_at: null }).execute();
    await db.insertInto('local_user').values({ user_id: 'u-notify', domain_id: 'default', name: 'notify-me', failed_auth_count: 0, failed_auth_at: null }).execute();
    const payloads: string[] = [];
    const unlisten = await ctx.db().listen(CHANGE_CHANNEL, (payload) => payloads.push(payload));
    try {
      await db.updateTable('local_user').set({ failed_auth_count: 3, failed_auth_at: new Date() }).where('user_id', '=', 'u-notify').execute();
      await db.updateTable('user').set({ last_active_at: '2026-11-23' }).where('id', '=', 'u-notify').execute();
      await db.updateTable('local_user').set({ name: 'renamed' }).where('user_id', '=', 'u-notify').execute();
      const deadline = Date.now() + 2000;
      while (!payloads.includes('local_user') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // Notifications arrive in commit order: the rename's is the first and only one.
      assert.deepEqual(payloads, ['local_user']);
    } finally {
      await unlisten();
    }
  });

  it('restores a trigger that an upstream table rebuild dropped', async () => {
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), []);
    await sql`DROP TRIGGER keystone_ts_changes ON "user"`.execute(ctx.db().kysely);
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), ['user.keystone_ts_changes']);
    assert.deepEqual(await ensureChangeTriggers(ctx.db()), []);
  });
});

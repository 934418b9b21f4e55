import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PGlite } from '@electric-sql/pglite';
import { PGlitePool } from '../../src/db/pglite-pool.js';

describe('PGlitePool', () => {
  // connect/release never touch PGlite itself, so a stand-in is enough here.
  const closed: string[] = [];
  const fakePGlite = { close: async () => void closed.push('closed') } as unknown as PGlite;

  it('hands out its one connection in turn and warns about a caller stuck waiting', async () => {
    const stalls: Error[] = [];
    const pool = new PGlitePool(fakePGlite, (error) => stalls.push(error), 30);
    const first = await pool.connect();
    let secondGotIt = false;
    const second = pool.connect().then((client) => {
      secondGotIt = true;
      return client;
    });
    await sleep(60);
    assert.equal(secondGotIt, false);
    assert.equal(stalls.length, 1);
    assert.match(stalls[0]?.message ?? '', /inside a transaction that holds it/);
    first.release();
    const client = await second;
    assert.equal(client, first);
    let thirdGotIt = false;
    void pool.connect().then(() => (thirdGotIt = true), () => undefined);
    await sleep(10);
    assert.equal(thirdGotIt, false);
    client.release();
    await sleep(1);
    assert.equal(thirdGotIt, true);
  });

  it('closes after the current holder and refuses later callers', async () => {
    const pool = new PGlitePool(fakePGlite, () => undefined);
    const holder = await pool.connect();
    const ending = pool.end();
    const late = pool.connect();
    assert.equal(closed.length, 0);
    holder.release();
    await ending;
    await assert.rejects(late, /closed/);
    await assert.rejects(pool.connect(), /closed/);
    assert.deepEqual(closed, ['closed']);
    await pool.end(); // idempotent
  });
});

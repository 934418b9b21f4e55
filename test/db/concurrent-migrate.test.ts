import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MIGRATIONS } from '../../migrations/index.js';
import { openDatabase } from '../../src/db/database.js';
import type { MigrateResult } from '../../src/db/migrate.js';
import { acquirePostgres, type PostgresDatabase } from '../support/postgres.js';

const execFileAsync = promisify(execFile);
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'migrate-child.js');

describe('migrating one PostgreSQL database from several processes at once', function () {
  this.timeout(120_000);
  let database: PostgresDatabase | undefined;

  before(async function () {
    const postgres = await acquirePostgres();
    if ('skip' in postgres) this.skip();
    database = postgres;
  });

  after(async () => {
    await database?.drop();
  });

  it('succeeds in every process; one creates the schema, the others find it', async () => {
    assert.ok(database);
    // Each process opens its connection first, then all migrate at the same instant.
    const startAt = String(Date.now() + 2500);
    const runs = await Promise.all(
      [1, 2, 3].map(() => execFileAsync(process.execPath, [child, database?.url ?? '', startAt], { timeout: 60_000 })),
    );
    const results = runs.map((run) => JSON.parse(run.stdout) as MigrateResult);
    const created = results.filter((result) => result.keystoneSchema === 'created');
    assert.equal(created.length, 1, JSON.stringify(results));
    assert.deepEqual(created[0]?.applied, MIGRATIONS.map(([name]) => name));
    for (const result of results.filter((r) => r.keystoneSchema !== 'created')) {
      assert.deepEqual(result, { keystoneSchema: 'existing-2026', applied: [], alembicHeads: created[0]?.alembicHeads, warnings: [] });
    }

    const db = await openDatabase(database.url, { poolSize: 1 });
    try {
      const recorded = await db.kysely.selectFrom('keystone_ts_migration').select('name').orderBy('name').execute();
      assert.deepEqual(recorded.map((row) => row.name), MIGRATIONS.map(([name]) => name));
      const projects = await db.kysely.selectFrom('project').select('id').execute();
      assert.deepEqual(projects, [{ id: '<<keystone.domain.root>>' }]);
    } finally {
      await db.close();
    }
  });
});

/**
 * Store contract tests run unchanged on both databases we support: the embedded PGlite and a real
 * PostgreSQL. `describeEachDatabase` defines the suite twice; each copy gets a fresh database,
 * opened (and by default migrated) in `before` and closed (and dropped) in `after`.
 *
 *   describeEachDatabase('role store', (ctx) => {
 *     it('creates a role', async () => {
 *       const store = createRoleStore({ db: ctx.db() });
 *       ...
 *     });
 *   });
 *
 * The PostgreSQL copy is skipped (its tests show as skipped) when no PostgreSQL is available,
 * except under CI=true where that fails (see postgres.ts).
 */
import { openDatabase, type Db, type DatabaseKind } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { acquirePostgres } from './postgres.js';

export interface DatabaseContext {
  readonly kind: DatabaseKind;
  /** The suite's database; only valid inside tests and hooks (after the suite's `before`). */
  db(): Db;
  /**
   * The URL `db()` was opened with. For PostgreSQL, a database of the suite's own, so another
   * Db or a child process can open it too. For PGlite always `pglite://memory`, which opens a
   * *different* database.
   */
  url(): string;
}

export interface DescribeEachDatabaseOptions {
  /** Run migrateToLatest before the tests (default true). False gives an empty database. */
  migrate?: boolean;
}

export function describeEachDatabase(
  title: string,
  body: (ctx: DatabaseContext) => void,
  options: DescribeEachDatabaseOptions = {},
): void {
  const migrate = options.migrate ?? true;
  for (const kind of ['pglite', 'postgres'] as const) {
    describe(`${title} [${kind}]`, function () {
      let db: Db | undefined;
      let url: string | undefined;
      let drop: (() => Promise<void>) | undefined;

      before(async function () {
        this.timeout(180_000);
        if (kind === 'pglite') {
          url = 'pglite://memory';
          db = await openDatabase(url, { pgliteLoadDataDir: await pgliteTemplate(migrate) });
          return;
        }
        const postgres = await acquirePostgres();
        if ('skip' in postgres) {
          noteSkip(postgres.skip);
          this.skip();
        }
        url = postgres.url;
        drop = postgres.drop;
        db = await openDatabase(url, { poolSize: 5 });
        if (migrate) await migrateToLatest(db);
      });

      after(async function () {
        this.timeout(60_000);
        await db?.close();
        await drop?.();
        db = undefined;
      });

      body({
        kind,
        db: () => {
          if (!db) throw new Error(`the ${kind} database of "${title}" is not open (used outside a test or hook?)`);
          return db;
        },
        url: () => {
          if (url === undefined) throw new Error(`the ${kind} database of "${title}" is not open`);
          return url;
        },
      });
    });
  }
}

/**
 * Starting PGlite from scratch runs initdb in WebAssembly (seconds); loading a tarball of a data
 * directory takes a fraction of that. So the first suite of the process builds the data directory
 * (empty, or migrated) and every suite starts from a copy of it: still a fresh database each.
 */
const pgliteTemplates = new Map<boolean, Promise<Blob>>();

function pgliteTemplate(migrated: boolean): Promise<Blob> {
  let template = pgliteTemplates.get(migrated);
  if (!template) {
    template = (async () => {
      const db = await openDatabase('pglite://memory');
      try {
        if (migrated) await migrateToLatest(db);
        if (!db.dumpDataDir) throw new Error('PGlite Db without dumpDataDir');
        return await db.dumpDataDir();
      } finally {
        await db.close();
      }
    })();
    template.catch(() => pgliteTemplates.delete(migrated));
    pgliteTemplates.set(migrated, template);
  }
  return template;
}

const notedSkips = new Set<string>();

function noteSkip(reason: string): void {
  if (notedSkips.has(reason)) return;
  notedSkips.add(reason);
  console.log(`      PostgreSQL suites skipped: ${reason}`);
}

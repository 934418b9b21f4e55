/**
 * The `keystone-ts` command line, run as operators run it: the compiled CLI in a child process,
 * with an explicit environment (nothing inherited), temporary directories and real HTTP.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KEYSTONE_2026_HEADS } from '../../src/db/index.js';
import { VECTOR_KEYS, copyVectorKeys, readJson, type Vectors } from '../token/fixtures.js';
import { describeResult, killChildren, runCli, startServe, tempDirs, type RunResult, type ServeProcess } from '../support/cli.js';
import { http, passwordAuth } from '../support/server.js';

/** Runs `tasks` with at most `limit` in flight (the CLI starts a Node process each). */
async function inBatches<T>(tasks: (() => Promise<T>)[], limit = 4): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

/** Key file names of a repository, as numbers, ascending. */
function keyIds(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

function keyContents(dir: string): Record<string, string> {
  return Object.fromEntries(keyIds(dir).map((id) => [String(id), readFileSync(path.join(dir, String(id)), 'utf8')]));
}

function writeConf(dir: string, name: string, sections: Record<string, Record<string, string | number>>): string {
  const text = Object.entries(sections)
    .map(([section, options]) => `[${section}]\n${Object.entries(options).map(([k, v]) => `${k} = ${v}\n`).join('')}`)
    .join('\n');
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function login(base: string, password: string, scope: unknown = { project: { name: 'admin', domain: { id: 'default' } } }) {
  return http(base, 'POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', domain: { id: 'default' } }, password, scope) });
}

function assertExit(result: RunResult, code: number): void {
  assert.equal(result.code, code, describeResult(result));
}

describe('keystone-ts command line', function () {
  const temps = tempDirs();

  after(async function () {
    this.timeout(30_000);
    await killChildren();
    temps.cleanup();
  });

  describe('--help and usage errors', () => {
    const COMMANDS = ['serve', 'db', 'bootstrap', 'fernet', 'credential', 'token'];

    it('--help and -h at the top level print the usage naming every command and exit 0', async () => {
      for (const flag of ['--help', '-h']) {
        const result = await runCli([flag], { cwd: temps.make() });
        assertExit(result, 0);
        assert.match(result.stdout, /^Usage: keystone-ts /);
        for (const command of COMMANDS) assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `${command} listed`);
        assert.equal(result.stderr, '');
      }
    });

    it('--help after every command (and subcommand) prints that command’s help, exits 0 and does nothing', async () => {
      const cwd = temps.make();
      const data = path.join(cwd, 'data');
      const invocations = [
        ...COMMANDS.map((command) => [command, '--help']),
        // After a subcommand and its options too: help must win over acting.
        ['db', 'sync', '--help'],
        ['fernet', 'rotate', '--help'],
        ['bootstrap', '--bootstrap-password', 'x', '--help'],
        ['serve', '--bind', '127.0.0.1:1', '-h'],
      ];
      const results = await inBatches(invocations.map((args) => () => runCli(args, { cwd, env: { KEYSTONE_TS_DATA: data } })));
      invocations.forEach((args, i) => {
        const result = results[i]!;
        assert.equal(result.code, 0, `${args.join(' ')}: ${describeResult(result)}`);
        assert.ok(result.stdout.startsWith(`Usage: keystone-ts ${args[0]}`), `${args.join(' ')}: ${result.stdout}`);
        assert.equal(result.stderr, '', args.join(' '));
      });
      // Help runs nothing: no data directory, database or key repository was created.
      assert.ok(!existsSync(data), `${data} was created by a --help run`);
      assert.deepEqual(readdirSync(cwd), []);
    });

    it('an unknown command exits 2 with the usage on stderr and nothing on stdout', async () => {
      const result = await runCli(['frobnicate'], { cwd: temps.make() });
      assertExit(result, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /unknown command "frobnicate"/);
      assert.match(result.stderr, /Usage: keystone-ts /);
    });

    it('a missing subcommand or argument exits 2 with the command’s usage on stderr', async () => {
      const cwd = temps.make();
      const invocations = [['db', 'migrate'], ['fernet'], ['credential', 'rotate'], ['token', 'inspect'], ['serve', '--bind']];
      const results = await inBatches(invocations.map((args) => () => runCli(args, { cwd, env: { KEYSTONE_TS_DATA: path.join(cwd, 'data') } })));
      invocations.forEach((args, i) => {
        const result = results[i]!;
        assert.equal(result.code, 2, `${args.join(' ')}: ${describeResult(result)}`);
        assert.equal(result.stdout, '', args.join(' '));
        // `serve --bind` fails while parsing, before the command is known: the top-level usage.
        const usage = args[0] === 'serve' ? 'Usage: keystone-ts ' : `Usage: keystone-ts ${args[0]}`;
        assert.ok(result.stderr.includes(usage), `${args.join(' ')}: ${result.stderr}`);
      });
      assert.deepEqual(readdirSync(cwd), []);
    });
  });

  describe('token inspect over Keystone’s vectors', () => {
    const vectors = readJson<Vectors>('tokens.json');
    let keys: { dir: string; cleanup: () => void };
    let conf: string;
    const results = new Map<string, RunResult>();

    before(async function () {
      this.timeout(60_000);
      keys = copyVectorKeys();
      conf = writeConf(temps.make(), 'keystone.conf', { auth: { methods: vectors.auth_methods.join(',') } });
      const runs = await inBatches(
        vectors.cases.map(
          (c) => () => runCli(['--config-file', conf, 'token', 'inspect', '--key-repository', keys.dir, c.token], { cwd: temps.make() }),
        ),
      );
      vectors.cases.forEach((c, i) => results.set(c.name, runs[i]!));
    });

    after(() => keys?.cleanup());

    for (const vector of vectors.cases) {
      const reject = vector.expected.must_reject;
      if (reject === undefined) {
        it(`prints one JSON line equal to Keystone's decoding: ${vector.name}`, () => {
          const result = results.get(vector.name)!;
          assertExit(result, 0);
          assert.match(result.stdout, /^[^\n]+\n$/, 'exactly one line');
          assert.deepEqual(JSON.parse(result.stdout), vector.expected);
          assert.equal(result.stderr, '');
        });
      } else {
        it(`exits 1 with a one-line reason (${reject}): ${vector.name}`, () => {
          const result = results.get(vector.name)!;
          assertExit(result, 1);
          assert.equal(result.stdout, '');
          assert.match(result.stderr, /^[^\n]+\n$/, 'one line on stderr');
          if (reject === 'expired') assert.match(result.stderr, /expired/);
        });
      }
    }

    it('leaves the key repository unchanged', () => {
      assert.deepEqual(keyContents(keys.dir), keyContents(VECTOR_KEYS));
    });
  });

  describe('fernet setup|rotate and credential setup', () => {
    it('follow Keystone’s key numbering with [fernet_tokens] max_active_keys = 3 from a config file', async () => {
      const dir = temps.make();
      const fernet = path.join(dir, 'fernet-keys');
      const conf = writeConf(dir, 'keystone.conf', { fernet_tokens: { key_repository: fernet, max_active_keys: 3 } });

      const setup = await runCli(['--config-file', conf, 'fernet', 'setup'], { cwd: dir });
      assertExit(setup, 0);
      // fernet_setup: staged key 0 is created, then rotated once: 0 becomes primary 1, a new 0.
      assert.deepEqual(keyIds(fernet), [0, 1]);
      assert.equal(statSync(fernet).mode & 0o777, 0o700);

      // Spec 1.2 (FernetUtils.rotate_keys): the staged key 0 is renamed to max + 1 (the new
      // primary), a new staged key 0 is written, then the lowest-numbered keys other than 0 are
      // purged while more than max_active_keys - 1 remain. With 3: {0,1} → {0,1,2} → {0,2,3} →
      // {0,3,4}.
      const expected = [
        { ids: [0, 1, 2], promoted: 2, purged: [] as number[] },
        { ids: [0, 2, 3], promoted: 3, purged: [1] },
        { ids: [0, 3, 4], promoted: 4, purged: [2] },
      ];
      for (const step of expected) {
        const before = keyContents(fernet);
        const rotate = await runCli(['--config-file', conf, 'fernet', 'rotate'], { cwd: dir });
        assertExit(rotate, 0);
        assert.deepEqual(keyIds(fernet), step.ids);
        const after = keyContents(fernet);
        // The staged key is promoted as it is (tokens it already decrypts stay valid); kept keys are untouched.
        assert.equal(after[String(step.promoted)], before['0']);
        assert.notEqual(after['0'], before['0']);
        for (const id of step.ids.filter((i) => i !== 0 && i !== step.promoted)) assert.equal(after[String(id)], before[String(id)]);
        assert.match(rotate.stdout, new RegExp(`key ${step.promoted} is primary`));
        assert.match(rotate.stdout, new RegExp(`purged ${step.purged.length > 0 ? step.purged.join(', ') : 'none'}`));
      }
      for (const id of keyIds(fernet)) {
        assert.equal(statSync(path.join(fernet, String(id))).mode & 0o777, 0o600, `key ${id} mode`);
        assert.match(readFileSync(path.join(fernet, String(id)), 'utf8'), /^[A-Za-z0-9_-]{43}=$/);
      }
      assert.ok(!existsSync(path.join(fernet, '0.tmp')));

      // A second setup leaves an existing repository alone.
      const before = keyContents(fernet);
      assertExit(await runCli(['--config-file', conf, 'fernet', 'setup'], { cwd: dir }), 0);
      assert.deepEqual(keyContents(fernet), before);
    });

    it('--key-repository overrides the configured repository', async () => {
      const dir = temps.make();
      const configured = path.join(dir, 'configured');
      const flag = path.join(dir, 'flag');
      const conf = writeConf(dir, 'keystone.conf', { fernet_tokens: { key_repository: configured } });
      assertExit(await runCli(['--config-file', conf, 'fernet', 'setup', '--key-repository', flag], { cwd: dir }), 0);
      assert.deepEqual(keyIds(flag), [0, 1]);
      assert.ok(!existsSync(configured));
    });

    it('credential setup creates {0, 1} in [credential] key_repository, and a second run changes nothing', async () => {
      const dir = temps.make();
      const credential = path.join(dir, 'credential-keys');
      const conf = writeConf(dir, 'keystone.conf', { credential: { key_repository: credential } });
      const setup = await runCli(['--config-file', conf, 'credential', 'setup'], { cwd: dir });
      assertExit(setup, 0);
      assert.deepEqual(keyIds(credential), [0, 1]);
      const before = keyContents(credential);
      assertExit(await runCli(['--config-file', conf, 'credential', 'setup'], { cwd: dir }), 0);
      assert.deepEqual(keyContents(credential), before);
    });
  });

  describe('db sync|version and bootstrap on PGlite, then serve with that database', () => {
    // The steps build on each other (one database, as an operator would): sync, sync again,
    // version, bootstrap, bootstrap again, bootstrap with a new password, serve.
    let dir: string;
    let conf: string;
    let dbUrl: string;
    let server: ServeProcess | undefined;

    before(() => {
      dir = temps.make();
      dbUrl = `pglite://${path.join(dir, 'pglite')}`;
      conf = writeConf(dir, 'keystone.conf', {
        database: { connection: dbUrl },
        keystone_ts: { data_dir: path.join(dir, 'data') },
        // Explicit, so that a host's /etc/keystone repositories are never used.
        fernet_tokens: { key_repository: path.join(dir, 'data', 'fernet-keys') },
        credential: { key_repository: path.join(dir, 'data', 'credential-keys') },
        identity: { password_hash_rounds: 4 },
      });
    });

    after(async function () {
      this.timeout(20_000);
      await server?.stop();
    });

    it('db sync creates the schema; a second run applies nothing', async function () {
      this.timeout(90_000);
      const first = await runCli(['--config-file', conf, 'db', 'sync'], { cwd: dir, timeoutMs: 80_000 });
      assertExit(first, 0);
      assert.match(first.stdout, /applied: 0001_/);
      const second = await runCli(['--config-file', conf, 'db', 'sync'], { cwd: dir });
      assertExit(second, 0);
      assert.match(second.stdout, /applied: nothing/);
      assert.doesNotMatch(second.stdout, /000\d_/);
    });

    it('db version prints JSON naming the alembic heads (config file or KEYSTONE_TS_DATABASE__CONNECTION)', async () => {
      const viaFile = await runCli(['--config-file', conf, 'db', 'version'], { cwd: dir });
      assertExit(viaFile, 0);
      assert.match(viaFile.stdout, /^[^\n]+\n$/, 'one line');
      const version = JSON.parse(viaFile.stdout);
      assert.deepEqual([...version.alembicHeads].sort(), [KEYSTONE_2026_HEADS.expand, KEYSTONE_2026_HEADS.contract].sort());
      assert.deepEqual(version.pending, []);

      const viaEnv = await runCli(['db', 'version'], { cwd: dir, env: { KEYSTONE_TS_DATABASE__CONNECTION: dbUrl } });
      assertExit(viaEnv, 0);
      assert.deepEqual(JSON.parse(viaEnv.stdout), version);
    });

    it('bootstrap creates the admin; a second run reports nothing to create', async function () {
      this.timeout(60_000);
      const first = await runCli(['--config-file', conf, 'bootstrap', '--bootstrap-password', 'first-Passw0rd'], { cwd: dir });
      assertExit(first, 0);
      for (const what of ['domain default', 'project admin', 'user admin', 'role admin', 'role reader', 'role member']) {
        assert.match(first.stdout, new RegExp(`Created ${what}\\b`));
      }
      const second = await runCli(['--config-file', conf, 'bootstrap', '--bootstrap-password', 'first-Passw0rd'], { cwd: dir });
      assertExit(second, 0);
      assert.match(second.stdout, /Nothing to create/);
      assert.doesNotMatch(second.stdout, /Created|Reset/);
      assert.ok(!second.stdout.includes('first-Passw0rd') && !second.stderr.includes('first-Passw0rd'), 'the password is not echoed');
    });

    it('bootstrap with another password (OS_BOOTSTRAP_PASSWORD) resets it and creates nothing', async () => {
      const result = await runCli(['--config-file', conf, 'bootstrap'], { cwd: dir, env: { OS_BOOTSTRAP_PASSWORD: 'second-Passw0rd' } });
      assertExit(result, 0);
      assert.match(result.stdout, /Reset password of user admin/);
      assert.match(result.stdout, /Nothing to create/);
    });

    it('bootstrap without any password exits 2 with usage', async () => {
      const result = await runCli(['--config-file', conf, 'bootstrap'], { cwd: dir });
      assertExit(result, 2);
      assert.match(result.stderr, /--bootstrap-password/);
    });

    it('serve over that database does not bootstrap again; only the new password logs in', async function () {
      this.timeout(60_000);
      server = await startServe(['--config-file', conf], { cwd: dir });
      assert.doesNotMatch(server.stdout(), /Bootstrapped|Generated/);
      const fresh = await login(server.url, 'second-Passw0rd');
      assert.equal(fresh.status, 201, fresh.text);
      assert.equal(fresh.json.token.user.name, 'admin');
      const stale = await login(server.url, 'first-Passw0rd');
      assert.equal(stale.status, 401, stale.text);
      const stopped = await server.stop();
      server = undefined;
      assert.equal(stopped.code, 0, 'SIGTERM shuts down cleanly');
    });
  });

  describe('invalid configuration', () => {
    const COMMANDS = [
      ['serve'],
      ['db', 'sync'],
      ['db', 'version'],
      ['bootstrap', '--bootstrap-password', 'x'],
      ['fernet', 'setup'],
      ['fernet', 'rotate'],
      ['credential', 'setup'],
      ['token', 'inspect', 'gAAAAABtoken'],
    ];

    // The first two run every command; the others (the same code path) one command each.
    const CASES: { name: string; file?: string; env?: Record<string, string>; mentions: RegExp[]; commands?: string[][] }[] = [
      { name: 'an unknown option', file: '[fernet_tokens]\nmax_active_keys = 3\nmax_keys = 5\n', mentions: [/\[fernet_tokens\] max_keys/, /unknown option/] },
      { name: 'a bad integer', file: '[token]\nexpiration = soon\n', mentions: [/\[token\] expiration/, /soon/] },
      { name: 'an integer below its minimum', file: '[fernet_tokens]\nmax_active_keys = 0\n', mentions: [/\[fernet_tokens\] max_active_keys/], commands: [['fernet', 'setup']] },
      { name: 'an unknown section', file: '[tokens]\nexpiration = 3600\n', mentions: [/\[tokens\]/], commands: [['serve']] },
      { name: 'a bad value in the environment', env: { KEYSTONE_TS_TOKEN__EXPIRATION: 'soon' }, mentions: [/KEYSTONE_TS_TOKEN__EXPIRATION/, /\[token\] expiration/], commands: [['db', 'sync']] },
      { name: 'an unknown option in the environment', env: { KEYSTONE_TS_TOKEN__EXPIRY: '1' }, mentions: [/\[token\] expiry/], commands: [['bootstrap', '--bootstrap-password', 'x']] },
    ];

    for (const testCase of CASES) {
      const commands = testCase.commands ?? COMMANDS;
      it(`${testCase.name} makes ${commands === COMMANDS ? 'every command' : commands.map((c) => c[0]).join(', ')} exit 1 naming it, changing nothing`, async function () {
        this.timeout(60_000);
        const dir = temps.make();
        const data = path.join(dir, 'data');
        const args: string[] = [];
        if (testCase.file !== undefined) {
          writeFileSync(path.join(dir, 'keystone.conf'), testCase.file);
          args.push('--config-file', path.join(dir, 'keystone.conf'));
        }
        const before = readdirSync(dir);
        const results = await inBatches(
          commands.map((command) => () => runCli([...args, ...command], { cwd: dir, env: { KEYSTONE_TS_DATA: data, ...testCase.env } })),
        );
        commands.forEach((command, i) => {
          const result = results[i]!;
          const label = command.join(' ');
          assert.equal(result.code, 1, `${label}: ${describeResult(result)}`);
          assert.equal(result.stdout, '', label);
          for (const mention of testCase.mentions) assert.match(result.stderr, mention, label);
          assert.doesNotMatch(result.stderr, /^\s+at /m, `${label}: no stack trace`);
        });
        assert.deepEqual(readdirSync(dir), before, 'nothing was created');
      });
    }
  });

  describe('first start with nothing configured', () => {
    // Only KEYSTONE_TS_DATA: no config file, no OS_BOOTSTRAP_PASSWORD, a fresh data directory.
    let cwd: string;
    let data: string;
    let server: ServeProcess | undefined;
    let password: string;
    let firstKeys: { fernet: Record<string, string>; credential: Record<string, string> };
    let firstToken: string;

    before(function () {
      // On a host with upstream Keystone's key repositories, the unconfigured defaults are those
      // (used as they are) rather than the data directory: not a fresh first start.
      for (const upstream of ['/etc/keystone/fernet-keys', '/etc/keystone/credential-keys']) {
        if (existsSync(upstream)) {
          console.log(`      first-start tests skipped: ${upstream} exists on this host`);
          this.skip();
        }
      }
      cwd = temps.make();
      data = path.join(cwd, 'data');
    });

    afterEach(async function () {
      this.timeout(20_000);
      await server?.stop();
      server = undefined;
    });

    it('creates the data directory, prints the generated password once and the URL; the password logs in', async function () {
      this.timeout(90_000);
      server = await startServe([], { cwd, env: { KEYSTONE_TS_DATA: data }, timeoutMs: 80_000 });
      const out = server.stdout() + server.stderr();
      const generated = /Generated admin password \(shown once\): (\S+)/.exec(server.stdout());
      assert.ok(generated, `no generated password in:\n${out}`);
      password = generated[1]!;
      assert.equal(out.split(password).length - 1, 1, 'the password is printed exactly once');
      assert.match(server.stdout(), new RegExp(`listening on ${server.url.replace(/\./g, '\\.')}/v3\\n`));

      assert.equal(statSync(data).mode & 0o777, 0o700, 'the data directory is private');
      assert.deepEqual(keyIds(path.join(data, 'fernet-keys')), [0, 1]);
      assert.deepEqual(keyIds(path.join(data, 'credential-keys')), [0, 1]);
      firstKeys = { fernet: keyContents(path.join(data, 'fernet-keys')), credential: keyContents(path.join(data, 'credential-keys')) };

      const res = await login(server.url, password);
      assert.equal(res.status, 201, res.text);
      firstToken = res.headers.get('x-subject-token')!;
      assert.equal(res.json.token.project.name, 'admin');
      const identity = res.json.token.catalog.find((s: { type: string }) => s.type === 'identity');
      assert.ok(identity, 'the catalog has the identity service');
      assert.deepEqual(
        identity.endpoints.filter((e: { interface: string }) => e.interface === 'public').map((e: { url: string }) => e.url),
        [`${server.url}/v3`],
      );
      assert.equal((await login(server.url, `${password}x`)).status, 401);

      const stopped = await server.stop();
      server = undefined;
      assert.equal(stopped.code, 0);
    });

    it('a second start reuses everything: no new password, the same password and keys, earlier tokens valid', async function () {
      this.timeout(60_000);
      assert.ok(password, 'the first start ran');
      server = await startServe([], { cwd, env: { KEYSTONE_TS_DATA: data } });
      const out = server.stdout() + server.stderr();
      assert.doesNotMatch(out, /Generated|Bootstrapped|Created/);
      assert.ok(!out.includes(password));
      assert.deepEqual(keyContents(path.join(data, 'fernet-keys')), firstKeys.fernet);
      assert.deepEqual(keyContents(path.join(data, 'credential-keys')), firstKeys.credential);

      const res = await login(server.url, password);
      assert.equal(res.status, 201, res.text);
      const token = res.headers.get('x-subject-token')!;
      const check = await http(server.url, 'GET', '/v3/auth/tokens', { token, subject: firstToken });
      assert.equal(check.status, 200, check.text);
      assert.deepEqual(readdirSync(cwd), ['data'], 'everything lives in the data directory');
    });
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidToken, KeyRepositoryError } from '../../src/token/errors.js';
import { MultiFernet, generateFernetKey } from '../../src/token/fernet.js';
import { TokenFormatter } from '../../src/token/formatter.js';
import {
  CREDENTIAL_MAX_ACTIVE_KEYS,
  KeyRepository,
  NULL_KEY_TEXT,
  readKeyFiles,
  rotateKeyRepository,
  setupKeyRepository,
} from '../../src/token/key-repository.js';
import { PayloadCodec } from '../../src/token/payload.js';
import { METHODS_WITH_TOTP, ROOT, tempDir } from './fixtures.js';
import { content } from './token-content.js';

const KEY_REPOSITORY_MODULE = pathToFileURL(path.join(ROOT, 'dist', 'src', 'token', 'key-repository.js')).href;

/** Key numbers on disk, descending, as Keystone lists them (non-integer names excluded). */
function keyIdsOnDisk(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => b - a);
}

function keyText(dir: string, id: number): string {
  return readFileSync(path.join(dir, String(id)), 'utf8');
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - start;
}

/** Runs a script in a separate Node process (ESM, so it can import the compiled module). */
function runNode(script: string, timeoutMs = 10000): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, elapsedMs: Date.now() - start });
    });
  });
}

describe('token/key-repository setup and rotation (keystone-manage fernet_setup / fernet_rotate)', () => {
  let temp: { dir: string; cleanup: () => void };
  let dir: string;
  beforeEach(() => {
    temp = tempDir();
    dir = path.join(temp.dir, 'fernet-keys');
  });
  afterEach(() => temp.cleanup());

  it('setup creates the directory 0700 and keys {0 staged, 1 primary}, files 0600', () => {
    const result = setupKeyRepository(dir, { maxActiveKeys: 3 });
    assert.deepEqual(result, { initialized: true, rotation: { promoted: 1, purged: [], keyIds: [1, 0] }, keyIds: [1, 0] });
    assert.deepEqual(keyIdsOnDisk(dir), [1, 0]);
    assert.deepEqual(readdirSync(dir).sort(), ['0', '1']);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const name of ['0', '1']) {
      assert.equal(statSync(path.join(dir, name)).mode & 0o777, 0o600);
      assert.match(readFileSync(path.join(dir, name), 'utf8'), /^[A-Za-z0-9_-]{43}=$/);
    }
    assert.notEqual(keyText(dir, 0), keyText(dir, 1));
  });

  it('setup does nothing when key 0 exists', () => {
    setupKeyRepository(dir, { maxActiveKeys: 3 });
    const before = [keyText(dir, 0), keyText(dir, 1)];
    const again = setupKeyRepository(dir, { maxActiveKeys: 3 });
    assert.deepEqual(again, { initialized: false, rotation: null, keyIds: [1, 0] });
    assert.deepEqual([keyText(dir, 0), keyText(dir, 1)], before);
  });

  // The sequences keystone-manage produces (checked against upstream in keystone-interop.test.ts).
  const sequences: [number, number[][]][] = [
    [3, [[1, 0], [2, 1, 0], [3, 2, 0], [4, 3, 0], [5, 4, 0], [6, 5, 0], [7, 6, 0]]],
    [1, [[0], [0], [0], [0], [0], [0], [0]]],
    [5, [[1, 0], [2, 1, 0], [3, 2, 1, 0], [4, 3, 2, 1, 0], [5, 4, 3, 2, 0], [6, 5, 4, 3, 0], [7, 6, 5, 4, 0]]],
  ];
  for (const [maxActiveKeys, expected] of sequences) {
    it(`rotates with max_active_keys ${maxActiveKeys} as Keystone does: ${JSON.stringify(expected)}`, () => {
      const setup = setupKeyRepository(dir, { maxActiveKeys });
      const seen = [setup.keyIds];
      assert.deepEqual(keyIdsOnDisk(dir), setup.keyIds);
      for (let i = 0; i < 6; i += 1) {
        const staged = keyText(dir, 0);
        const before = keyIdsOnDisk(dir);
        const result = rotateKeyRepository(dir, { maxActiveKeys });
        assert.deepEqual(keyIdsOnDisk(dir), result.keyIds);
        assert.equal(result.promoted, Math.max(...before) + 1);
        assert.deepEqual(
          result.purged,
          [...before.filter((id) => id !== 0), result.promoted].filter((id) => !result.keyIds.includes(id)).sort((a, b) => a - b),
        );
        // The staged key became the primary (unless purged at once, with max_active_keys 1).
        if (result.keyIds.includes(result.promoted)) assert.equal(keyText(dir, result.promoted), staged);
        assert.notEqual(keyText(dir, 0), staged);
        assert.equal(statSync(path.join(dir, '0')).mode & 0o777, 0o600);
        seen.push(result.keyIds);
      }
      assert.deepEqual(seen, expected);
      assert.deepEqual(readdirSync(dir).filter((name) => !/^\d+$/.test(name)), [], 'no 0.tmp left behind');
    });
  }

  it('rotation ignores non-key files and replaces a leftover 0.tmp', () => {
    setupKeyRepository(dir, { maxActiveKeys: 3 });
    writeFileSync(path.join(dir, '0.tmp'), 'leftover', { mode: 0o644 });
    writeFileSync(path.join(dir, 'README'), 'not a key');
    rotateKeyRepository(dir, { maxActiveKeys: 3 });
    assert.deepEqual(readdirSync(dir).sort(), ['0', '1', '2', 'README']);
  });

  it('refuses to rotate a repository without a staged key 0, before writing anything', () => {
    mkdirSync(dir);
    assert.throws(() => rotateKeyRepository(dir, { maxActiveKeys: 3 }), KeyRepositoryError);
    writeFileSync(path.join(dir, '1'), generateFernetKey());
    assert.throws(() => rotateKeyRepository(dir, { maxActiveKeys: 3 }), /no staged key 0/);
    assert.deepEqual(readdirSync(dir), ['1']);
  });

  it('refuses max_active_keys below 1', () => {
    assert.throws(() => setupKeyRepository(dir, { maxActiveKeys: 0 }), RangeError);
    assert.throws(() => rotateKeyRepository(dir, { maxActiveKeys: 1.5 }), RangeError);
  });

  it('has the credential repository constant of Keystone', () => {
    assert.equal(CREDENTIAL_MAX_ACTIVE_KEYS, 3);
  });
});

describe('token/key-repository KeyRepository', () => {
  let temp: { dir: string; cleanup: () => void };
  let dir: string;
  const repositories: KeyRepository[] = [];
  const open = (options: ConstructorParameters<typeof KeyRepository>[1] = {}): KeyRepository => {
    const repository = new KeyRepository(dir, options);
    repositories.push(repository);
    return repository;
  };
  const formatterOver = (repository: KeyRepository): TokenFormatter =>
    new TokenFormatter({ keys: repository, methods: METHODS_WITH_TOTP, defaultDomainId: 'default' });

  beforeEach(() => {
    temp = tempDir();
    dir = path.join(temp.dir, 'keys');
    setupKeyRepository(dir, { maxActiveKeys: 3 });
  });
  afterEach(() => {
    for (const repository of repositories.splice(0)) repository.close();
    temp.cleanup();
  });

  it('lists keys primary first, staged key 0 last, and keeps the array while nothing changes', () => {
    const repository = open();
    const keys = repository.keys();
    assert.deepEqual(keys, [1, 0].map((id) => Buffer.from(keyText(dir, id), 'base64url')));
    assert.deepEqual(repository.files().map((file) => file.id), [1, 0]);
    assert.equal(repository.keys(), keys);
  });

  it('encrypts with the primary and accepts tokens of the staged key 0', () => {
    const repository = open();
    const formatter = formatterOver(repository);
    const token = formatter.create(content({}));
    assert.ok(new MultiFernet([Buffer.from(keyText(dir, 1), 'base64url')]).decrypt(token));
    const plaintext = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: 'default' }).encodeToken(content({ userId: 'staged' }));
    const stagedToken = new MultiFernet([Buffer.from(keyText(dir, 0), 'base64url')]).encrypt(plaintext, { padding: false });
    assert.equal(formatter.parse(stagedToken).userId, 'staged');
  });

  it('keeps accepting tokens of a rotated key until it is purged, then rejects them', () => {
    const repository = open();
    const formatter = formatterOver(repository);
    const token = formatter.create(content({})); // primary 1
    rotateKeyRepository(dir, { maxActiveKeys: 3 }); // {2, 1, 0}
    repository.reload();
    assert.equal(formatter.parse(token).userId, '0123456789abcdef0123456789abcdef');
    rotateKeyRepository(dir, { maxActiveKeys: 3 }); // {3, 2, 0}: 1 purged
    repository.reload();
    assert.throws(() => formatter.parse(token), InvalidToken);
  });

  it('picks up a rotation done by another process within 1.5 s, without reload()', async function () {
    this.timeout(10000);
    const repository = open();
    const formatter = formatterOver(repository);
    const before = repository.keys();
    const result = await runNode(
      `const m = await import(${JSON.stringify(KEY_REPOSITORY_MODULE)});` +
        `m.rotateKeyRepository(${JSON.stringify(dir)}, { maxActiveKeys: 3 });`,
    );
    assert.equal(result.code, 0, result.stderr);
    // Intermediate states of the rotation may be seen first; the final one within 1.5 s.
    const ids = (): string => repository.files().map((file) => file.id).join(',');
    await waitFor(() => ids() === '2,1,0', 1500);
    assert.notEqual(repository.keys(), before);
    assert.deepEqual(repository.keys()[1], before[0]);
    // The new primary is the old staged key: new tokens are made with it.
    const token = formatter.create(content({}));
    assert.ok(new MultiFernet([Buffer.from(keyText(dir, 2), 'base64url')]).decrypt(token));
  });

  it('picks up changes by polling alone when watching is off', async function () {
    this.timeout(10000);
    const repository = open({ watch: false, pollIntervalMs: 200 });
    const before = repository.keys();
    rotateKeyRepository(dir, { maxActiveKeys: 3 });
    await waitFor(() => repository.keys() !== before, 1500);
    assert.deepEqual(repository.files().map((file) => file.id), [2, 1, 0]); // rotated before the first poll
  });

  it('does not keep the process alive (its timer and watcher are unref-ed)', async function () {
    this.timeout(15000);
    const result = await runNode(
      `const m = await import(${JSON.stringify(KEY_REPOSITORY_MODULE)});` +
        `const repository = new m.KeyRepository(${JSON.stringify(dir)});` +
        `if (repository.keys().length !== 2) process.exit(3);`,
    );
    assert.equal(result.code, 0, result.stderr);
  });

  it('ignores files whose name is not an integer, empty files and directories', () => {
    writeFileSync(path.join(dir, 'README'), 'hello');
    writeFileSync(path.join(dir, '0.tmp'), generateFernetKey());
    writeFileSync(path.join(dir, '3.bak'), generateFernetKey());
    writeFileSync(path.join(dir, '7'), '');
    mkdirSync(path.join(dir, '9'));
    const repository = open();
    assert.deepEqual(repository.files().map((file) => file.id), [1, 0]);
  });

  it("reads file names as Python's int() does ('01' is key 1, '+5' key 5)", () => {
    renameSync(path.join(dir, '1'), path.join(dir, '01'));
    writeFileSync(path.join(dir, '+5'), generateFernetKey());
    assert.deepEqual(readKeyFiles(dir).map((file) => [file.id, file.name]), [[5, '+5'], [1, '01'], [0, '0']]);
  });

  it('accepts a key file with a trailing newline, and hashes the file text as Keystone does', () => {
    const key = generateFernetKey();
    writeFileSync(path.join(dir, '4'), `${key}\n`);
    const repository = open();
    assert.deepEqual(repository.keys()[0], Buffer.from(key, 'base64url'));
    assert.equal(repository.primaryKeyHash(), createHash('sha1').update(`${key}\n`).digest('hex'));
  });

  it('refuses a malformed key, naming the file', () => {
    writeFileSync(path.join(dir, '2'), 'not a fernet key');
    assert.throws(() => open(), (err: unknown) => err instanceof KeyRepositoryError && err.message.includes(path.join(dir, '2')));
    writeFileSync(path.join(dir, '2'), Buffer.alloc(16).toString('base64url'));
    assert.throws(() => open(), KeyRepositoryError);
  });

  it('refuses a missing or empty repository, naming the directory and the option', () => {
    const missing = path.join(temp.dir, 'nope');
    assert.throws(
      () => new KeyRepository(missing, { optionName: '[fernet_tokens] key_repository' }),
      (err: unknown) =>
        err instanceof KeyRepositoryError &&
        err.directory === missing &&
        err.message === `Key repository ${missing} does not exist ([fernet_tokens] key_repository)`,
    );
    const empty = path.join(temp.dir, 'empty');
    mkdirSync(empty);
    writeFileSync(path.join(empty, '0'), '');
    assert.throws(() => new KeyRepository(empty), (err: unknown) => err instanceof KeyRepositoryError && err.message.includes(empty));
  });

  it('fails closed when the repository becomes unusable at run time, and recovers', async function () {
    this.timeout(10000);
    const repository = open({ pollIntervalMs: 100 });
    const saved = path.join(temp.dir, 'saved');
    renameSync(dir, saved);
    await waitFor(() => {
      try {
        repository.keys();
        return false;
      } catch (err) {
        return err instanceof KeyRepositoryError;
      }
    }, 1500);
    renameSync(saved, dir);
    await waitFor(() => {
      try {
        return repository.keys().length === 2;
      } catch {
        return false;
      }
    }, 1500);
  });

  it('stops following the directory after close()', async () => {
    const repository = open({ pollIntervalMs: 50 });
    const before = repository.keys();
    repository.close();
    rotateKeyRepository(dir, { maxActiveKeys: 3 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(repository.keys(), before);
  });

  describe('credential repository variant (appendNullKey)', () => {
    const nullKey = Buffer.alloc(32);

    it("appends Keystone's null key after the repository's keys", () => {
      const repository = open({ appendNullKey: true });
      assert.equal(repository.keys().length, 3);
      assert.deepEqual(repository.keys()[2], nullKey);
      assert.equal(NULL_KEY_TEXT, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    });

    it('falls back to the null key alone for a missing or unreadable repository, as Keystone', () => {
      const missing = new KeyRepository(path.join(temp.dir, 'missing'), { appendNullKey: true });
      repositories.push(missing);
      assert.deepEqual(missing.keys(), [nullKey]);
      assert.equal(missing.primaryKeyHash(), createHash('sha1').update(NULL_KEY_TEXT).digest('hex'));
      if (process.getuid?.() !== 0) {
        chmodSync(dir, 0o000);
        try {
          assert.deepEqual(open({ appendNullKey: true, watch: false }).keys(), [nullKey]);
        } finally {
          chmodSync(dir, 0o700);
        }
      }
    });

    it('still refuses a malformed key', () => {
      writeFileSync(path.join(dir, '2'), 'garbage');
      assert.throws(() => open({ appendNullKey: true }), KeyRepositoryError);
    });
  });
});

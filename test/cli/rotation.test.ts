/**
 * Fernet key rotation under a running server: `keystone-ts serve` in one process,
 * `keystone-ts fernet rotate` in another against the same key repository, as an operator (or
 * keystone-manage fernet_rotate on a shared repository) does it. No restart: the server must
 * follow the repository (spec 1.2: the highest key encrypts, every key decrypts, a purged key
 * decrypts nothing).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MultiFernet } from '../../src/token/index.js';
import { describeResult, eventually, killChildren, runCli, startServe, tempDirs, type ServeProcess } from '../support/cli.js';
import { http, passwordAuth } from '../support/server.js';

const PASSWORD = 'rotation-Passw0rd';
/**
 * The server re-reads the repository on a change notification and at least every second; this
 * leaves room for a loaded machine. It is a deadline for polling, not a measurement.
 */
const PICKUP_DEADLINE_MS = 3_000;

describe('fernet rotate while serve runs', function () {
  const temps = tempDirs('kts-rotation-');
  let env: Record<string, string>;
  let dir: string;
  let fernetDir: string;
  let server: ServeProcess;

  before(async function () {
    this.timeout(90_000);
    dir = temps.make();
    const data = path.join(dir, 'data');
    fernetDir = path.join(data, 'fernet-keys');
    env = {
      KEYSTONE_TS_DATA: data,
      // Explicit, inside the data directory (so serve creates them): on a host with upstream's
      // /etc/keystone/fernet-keys, the unconfigured default would be that directory.
      KEYSTONE_TS_FERNET_TOKENS__KEY_REPOSITORY: fernetDir,
      KEYSTONE_TS_CREDENTIAL__KEY_REPOSITORY: path.join(data, 'credential-keys'),
      OS_BOOTSTRAP_PASSWORD: PASSWORD,
      KEYSTONE_TS_FERNET_TOKENS__MAX_ACTIVE_KEYS: '3',
      KEYSTONE_TS_IDENTITY__PASSWORD_HASH_ROUNDS: '4',
    };
    server = await startServe([], { cwd: dir, env, timeoutMs: 80_000 });
    // OS_BOOTSTRAP_PASSWORD was given: nothing generated, and it is not echoed.
    assert.match(server.stdout(), /Bootstrapped admin/);
    assert.doesNotMatch(server.stdout() + server.stderr(), new RegExp(`Generated|${PASSWORD}`));
  });

  after(async function () {
    this.timeout(30_000);
    await server?.stop();
    await killChildren();
    temps.cleanup();
  });

  function keyIds(): number[] {
    return readdirSync(fernetDir)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** True when `token` was encrypted with key file `id` (decrypting with that key alone works). */
  function encryptedWith(token: string, id: number): boolean {
    const key = Buffer.from(readFileSync(path.join(fernetDir, String(id)), 'utf8').trim(), 'base64');
    try {
      new MultiFernet([key]).decrypt(token);
      return true;
    } catch {
      return false;
    }
  }

  async function login(): Promise<string> {
    const res = await http(server.url, 'POST', '/v3/auth/tokens', {
      body: passwordAuth({ name: 'admin', domain: { id: 'default' } }, PASSWORD, { project: { name: 'admin', domain: { id: 'default' } } }),
    });
    assert.equal(res.status, 201, res.text);
    return res.headers.get('x-subject-token')!;
  }

  /** GET /v3/auth/tokens for `subject`, authenticated by a fresh login (so by the current keys). */
  async function validate(subject: string): Promise<number> {
    const res = await http(server.url, 'GET', '/v3/auth/tokens', { token: await login(), subject });
    assert.ok(res.status === 200 || res.status === 404, `unexpected ${res.status}: ${res.text}`);
    return res.status;
  }

  async function rotate(expectedIds: number[]): Promise<void> {
    const result = await runCli(['fernet', 'rotate'], { cwd: dir, env });
    assert.equal(result.code, 0, describeResult(result));
    assert.deepEqual(keyIds(), expectedIds);
  }

  /** Logs in until the new token is encrypted with key `id`. */
  async function newTokensUse(id: number): Promise<string> {
    return eventually(`new tokens encrypted with key ${id}`, async () => {
      const token = await login();
      return encryptedWith(token, id) ? token : undefined;
    }, { deadlineMs: PICKUP_DEADLINE_MS });
  }

  let tokenA: string;
  let tokenB: string;

  it('issues tokens with the primary key 1 of the repository it created', async () => {
    assert.deepEqual(keyIds(), [0, 1]);
    tokenA = await login();
    assert.ok(encryptedWith(tokenA, 1), 'token A is encrypted with key 1');
    assert.ok(!encryptedWith(tokenA, 0));
    assert.equal(await validate(tokenA), 200);
  });

  it('after a rotation, new tokens use the new primary 2 and token A still validates', async function () {
    this.timeout(30_000);
    await rotate([0, 1, 2]);
    tokenB = await newTokensUse(2);
    assert.equal(await validate(tokenA), 200, 'token A (key 1, now secondary) is still valid');
    assert.equal(await validate(tokenB), 200);
  });

  it('after a second rotation purges key 1, new tokens use key 3 and token A gets 404 on GET /v3/auth/tokens', async function () {
    this.timeout(30_000);
    await rotate([0, 2, 3]);
    await newTokensUse(3);
    // A server that keeps validated tokens in memory must drop them when the keys change too.
    await eventually('token A, whose key 1 was purged, rejected with 404', async () => ((await validate(tokenA)) === 404 ? true : undefined), {
      deadlineMs: PICKUP_DEADLINE_MS,
    });
  });

  it('token A (purged key) no longer authenticates a request: 401', async () => {
    const asCaller = await http(server.url, 'GET', '/v3/auth/tokens', { token: tokenA, subject: await login() });
    assert.equal(asCaller.status, 401, asCaller.text);
  });

  it('token B (key 2, still active) stays valid, and the same server process kept running', async () => {
    assert.equal(await validate(tokenB), 200);
    assert.equal(server.child.exitCode, null);
    assert.equal(server.stdout().match(/listening on/g)?.length, 1, 'started once');
  });
});

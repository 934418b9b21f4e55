import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeEachDatabase } from '../support/databases.js';
import { adminLogin, http, passwordAuth, startTestServer, type TestServer } from '../support/server.js';
import { KeyRepository, setupKeyRepository } from '../../src/token/key-repository.js';
import { ReceiptFormatter } from '../../src/token/formatter.js';
import { decodeTotpSecret, hotp } from '../../src/auth/totp.js';

const METHODS = 'external,password,token,oauth1,mapped,application_credential,totp';
const STEP = 30;

/**
 * RFC 6238 passcodes computed by Python's own base64, hmac and struct modules, independently of
 * the implementation under test: `counters` are 30-second window numbers.
 */
function pythonPasscodes(secret: string, counters: readonly number[]): string[] {
  const program = [
    'import base64, hmac, hashlib, struct, sys, json',
    'key = base64.b32decode(sys.argv[1])',
    'out = []',
    'for c in json.loads(sys.argv[2]):',
    '    d = hmac.new(key, struct.pack(">Q", c), hashlib.sha1).digest()',
    '    o = d[-1] & 15',
    '    out.append("%06d" % ((struct.unpack(">I", d[o:o+4])[0] & 0x7fffffff) % 1000000))',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', program, secret, JSON.stringify(counters)], { encoding: 'utf8' })) as string[];
}

/** Python's b32encode of fresh random bytes: 20 bytes give 32 characters, no padding. */
function newSecret(): string {
  const program = 'import base64, sys; print(base64.b32encode(bytes.fromhex(sys.argv[1])).decode())';
  return execFileSync('/usr/bin/python3', ['-c', program, randomBytes(20).toString('hex')], { encoding: 'utf8' }).trim();
}

const currentCounter = () => Math.floor(Date.now() / 1000 / STEP);

/**
 * Tests that name a window relative to "now" must not straddle a window boundary between
 * computing the code and the server checking it: wait for a fresh window when close to the end.
 */
async function awayFromWindowEdge(): Promise<void> {
  const intoWindow = (Date.now() / 1000) % STEP;
  if (intoWindow > STEP - 4) await new Promise((resolve) => setTimeout(resolve, (STEP - intoWindow + 0.2) * 1000));
}

describeEachDatabase('TOTP auth method and MFA auth receipts', (ctx) => {
  let server: TestServer;
  let admin: string;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer(ctx.db(), {
      'auth.methods': METHODS,
      'security_compliance.lockout_failure_attempts': '3',
      'security_compliance.lockout_duration': '600',
    });
    admin = (await adminLogin(server.url)).token;
  });
  after(async () => server?.close());

  const login = (body: unknown, receipt?: string) =>
    http(server.url, 'POST', '/v3/auth/tokens', { body, headers: receipt === undefined ? {} : { 'Openstack-Auth-Receipt': receipt } });
  const totpAuth = (user: Record<string, unknown>, passcode: unknown) => ({ auth: { identity: { methods: ['totp'], totp: { user: { ...user, passcode } } } } });

  /** A user of the default domain with a password and, through the credentials API, a TOTP secret. */
  async function totpUser(name: string, options?: Record<string, unknown>): Promise<{ id: string; name: string; password: string; secret: string }> {
    const password = `pw-${name}-1`;
    const created = await http(server.url, 'POST', '/v3/users', { token: admin, body: { user: { name, domain_id: 'default', password, ...(options ? { options } : {}) } } });
    assert.equal(created.status, 201, created.text);
    const secret = newSecret();
    const credential = await http(server.url, 'POST', '/v3/credentials', { token: admin, body: { credential: { type: 'totp', user_id: created.json.user.id, blob: secret } } });
    assert.equal(credential.status, 201, credential.text);
    return { id: created.json.user.id, name, password, secret };
  }

  const codeAt = (secret: string, back: number) => pythonPasscodes(secret, [currentCounter() - back])[0]!;
  const wrongCode = (secret: string) => {
    // A code no accepted window produces (windows -1..+1 around now, to allow for a tick).
    const near = new Set(pythonPasscodes(secret, [-2, -1, 0, 1].map((d) => currentCounter() + d)));
    for (let n = 0; ; n++) {
      const code = String(n).padStart(6, '0');
      if (!near.has(code)) return code;
    }
  };

  describe('the totp method', () => {
    it('matches RFC 6238 (Appendix B, SHA-1, truncated to 6 digits) and decodes secrets as Python does', () => {
      // Appendix B: key "12345678901234567890", T = 59 s → counter 1 → 94287082 (8 digits).
      assert.equal(hotp(Buffer.from('12345678901234567890'), 1), '287082');
      assert.equal(hotp(Buffer.from('12345678901234567890'), Math.floor(1111111109 / 30)), '081804');
      const secret = newSecret();
      assert.deepEqual(decodeTotpSecret(secret), Buffer.from(execFileSync('/usr/bin/python3', ['-c', 'import base64,sys; print(base64.b32decode(sys.argv[1]).hex())', secret], { encoding: 'utf8' }).trim(), 'hex'));
      // Keystone pads to a multiple of 8 and then b32decode refuses lower case and 2, 5 or 7 pad characters.
      assert.equal(decodeTotpSecret(secret.toLowerCase()), undefined);
      assert.equal(decodeTotpSecret('A'), undefined);
      assert.deepEqual(decodeTotpSecret('MZXW6==='), Buffer.from('foo'));
    });

    it('authenticates by user id and by name and domain with the current passcode', async () => {
      const user = await totpUser('totp-basic');
      await awayFromWindowEdge();
      const byId = await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)));
      assert.equal(byId.status, 201, byId.text);
      assert.deepEqual(byId.json.token.methods, ['totp']);
      assert.equal(byId.json.token.user.id, user.id);
      const byName = await login(totpAuth({ name: user.name, domain: { name: 'Default' } }, codeAt(user.secret, 0)));
      assert.equal(byName.status, 201, byName.text);
      // The token validates and still says totp: the method has a bit when it is loaded.
      const validated = await http(server.url, 'GET', '/v3/auth/tokens', { token: admin, subject: byName.headers.get('x-subject-token')! });
      assert.equal(validated.status, 200, validated.text);
      assert.deepEqual(validated.json.token.methods, ['totp']);
    });

    it('accepts the previous window ([totp] included_previous_windows = 1) and refuses older ones', async () => {
      const user = await totpUser('totp-windows');
      await awayFromWindowEdge();
      assert.equal((await login(totpAuth({ id: user.id }, codeAt(user.secret, 1)))).status, 201);
      const older = await login(totpAuth({ id: user.id }, codeAt(user.secret, 2)));
      assert.equal(older.status, 401);
      assert.equal(older.json.error.message, 'The request you have made requires authentication.');
      // The next window's code is not accepted either: Keystone looks back only.
      assert.equal((await login(totpAuth({ id: user.id }, pythonPasscodes(user.secret, [currentCounter() + 2])[0]))).status, 401);
    });

    it('refuses a wrong passcode, a numeric passcode and a user without TOTP credentials with a plain 401', async () => {
      const user = await totpUser('totp-wrong');
      const wrong = await login(totpAuth({ id: user.id }, wrongCode(user.secret)));
      assert.equal(wrong.status, 401);
      assert.deepEqual(Object.keys(wrong.json.error).sort(), ['code', 'message', 'title']);
      assert.ok(!wrong.text.includes(user.secret));
      // JSON numbers never equal Keystone's string passcodes.
      assert.equal((await login(totpAuth({ id: user.id }, Number(codeAt(user.secret, 0))))).status, 401);
      const plain = await http(server.url, 'POST', '/v3/users', { token: admin, body: { user: { name: 'no-totp', domain_id: 'default', password: 'pw-no-totp' } } });
      assert.equal((await login(totpAuth({ id: plain.json.user.id }, '123456'))).status, 401);
      // And a payload without a user is Keystone's 400.
      const noUser = await login({ auth: { identity: { methods: ['totp'], totp: {} } } });
      assert.equal(noUser.status, 400);
      assert.match(noUser.json.error.message, /^Expecting to find user in totp/);
    });

    it('counts wrong passcodes toward lockout, which then refuses the right passcode and the right password', async () => {
      const user = await totpUser('totp-lockout');
      for (let i = 0; i < 3; i++) assert.equal((await login(totpAuth({ id: user.id }, wrongCode(user.secret)))).status, 401);
      await awayFromWindowEdge();
      assert.equal((await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)))).status, 401);
      assert.equal((await login(passwordAuth({ id: user.id }, user.password))).status, 401);
      const row = await ctx.db().kysely.selectFrom('local_user').select('failed_auth_count').where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.failed_auth_count, 3);
    });

    it('resets the failure count only when a token is issued', async () => {
      const user = await totpUser('totp-reset');
      assert.equal((await login(totpAuth({ id: user.id }, wrongCode(user.secret)))).status, 401);
      assert.equal((await login(totpAuth({ id: user.id }, wrongCode(user.secret)))).status, 401);
      await awayFromWindowEdge();
      assert.equal((await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)))).status, 201);
      const row = await ctx.db().kysely.selectFrom('local_user').select('failed_auth_count').where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.failed_auth_count, 0);
    });
  });

  describe('multi-factor rules and auth receipts', () => {
    const MFA = { multi_factor_auth_rules: [['password', 'totp']], multi_factor_auth_enabled: true };

    it('answers the password alone with a 401 carrying an auth receipt, and the receipt plus totp with a token', async () => {
      const user = await totpUser('mfa-dave', MFA);
      const first = await login(passwordAuth({ id: user.id }, user.password));
      assert.equal(first.status, 401, first.text);
      const receipt = first.headers.get('openstack-auth-receipt');
      assert.ok(receipt && receipt.startsWith('gAAAAA') && !receipt.includes('='), String(receipt));
      assert.equal(first.headers.get('www-authenticate'), null);
      assert.equal(first.headers.get('content-type'), 'application/json');
      const body = first.json;
      assert.deepEqual(Object.keys(body), ['receipt', 'required_auth_methods']);
      assert.deepEqual(body.receipt.methods, ['password']);
      assert.deepEqual(body.receipt.user, { id: user.id, name: user.name, domain: { id: 'default', name: 'Default' } });
      assert.match(body.receipt.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
      assert.equal(Date.parse(body.receipt.expires_at) - Date.parse(body.receipt.issued_at), 300_000);
      assert.deepEqual(body.required_auth_methods, [['password', 'totp']]);
      // The body uses Python's separators, as Keystone's jsonutils.dumps.
      assert.ok(first.text.startsWith('{"receipt": {"methods": ["password"], "user": {"id": '), first.text);

      await awayFromWindowEdge();
      const second = await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)), receipt);
      assert.equal(second.status, 201, second.text);
      assert.deepEqual([...second.json.token.methods].sort(), ['password', 'totp']);
      const validated = await http(server.url, 'GET', '/v3/auth/tokens', { token: admin, subject: second.headers.get('x-subject-token')! });
      assert.deepEqual(validated.json.token.methods, ['totp', 'password']);
    });

    it('issues a token at once when the methods of one request satisfy a rule', async () => {
      const user = await totpUser('mfa-both', MFA);
      await awayFromWindowEdge();
      const both = await login({
        auth: { identity: { methods: ['password', 'totp'], password: { user: { id: user.id, password: user.password } }, totp: { user: { id: user.id, passcode: codeAt(user.secret, 0) } } } },
      });
      assert.equal(both.status, 201, both.text);
      assert.deepEqual(both.json.token.methods, ['password', 'totp']);
      // totp alone also misses the rule: the receipt then asks for the same rule.
      const totpOnly = await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)));
      assert.equal(totpOnly.status, 401);
      assert.deepEqual(totpOnly.json.receipt.methods, ['totp']);
      assert.deepEqual(totpOnly.json.required_auth_methods, [['password', 'totp']]);
    });

    it('refuses an expired receipt, an unreadable one and a receipt issued to another user', async () => {
      const dave = await totpUser('mfa-expired', MFA);
      const erin = await totpUser('mfa-other', MFA);
      // A receipt sealed with the server's own keys that expired a second ago.
      const keys = new KeyRepository(path.join(server.dir, 'fernet-keys'));
      const formatter = new ReceiptFormatter({ keys, methods: METHODS.split(','), defaultDomainId: 'default' });
      const expired = formatter.create({ userId: dave.id, methods: ['password'], expiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 - 1000) });
      keys.close();
      await awayFromWindowEdge();
      const late = await login(totpAuth({ id: dave.id }, codeAt(dave.secret, 0)), expired);
      assert.equal(late.status, 401);
      assert.equal(late.json.error.message, 'The request you have made requires authentication.');
      assert.equal(late.headers.get('openstack-auth-receipt'), null);
      assert.equal((await login(totpAuth({ id: dave.id }, codeAt(dave.secret, 0)), 'gAAAAAnot-a-receipt')).status, 401);

      const erinsReceipt = (await login(passwordAuth({ id: erin.id }, erin.password))).headers.get('openstack-auth-receipt')!;
      assert.ok(erinsReceipt);
      const stolen = await login(totpAuth({ id: dave.id }, codeAt(dave.secret, 0)), erinsReceipt);
      assert.equal(stolen.status, 401);
      assert.equal(stolen.json.error.code, 401);
    });

    it('leaves users without rules, or with MFA disabled, as they were', async () => {
      const plain = await totpUser('mfa-none');
      const token = await login(passwordAuth({ id: plain.id }, plain.password));
      assert.equal(token.status, 201, token.text);
      assert.deepEqual(token.json.token.methods, ['password']);
      const disabled = await totpUser('mfa-disabled', { ...MFA, multi_factor_auth_enabled: false });
      assert.equal((await login(passwordAuth({ id: disabled.id }, disabled.password))).status, 201);
      // A rule naming only methods this server does not load is ignored (LP#2102096).
      const unloaded = await totpUser('mfa-unloaded', { multi_factor_auth_rules: [['kerberos', 'x509']] });
      assert.equal((await login(passwordAuth({ id: unloaded.id }, unloaded.password))).status, 201);
    });

    it('does not let a right password wipe out wrong passcodes in the same request', async () => {
      // Lockout at 3: each {password, wrong totp} round takes two attempts and releases none.
      const user = await totpUser('mfa-guesser', MFA);
      const round = (passcode: string) =>
        login({ auth: { identity: { methods: ['password', 'totp'], password: { user: { id: user.id, password: user.password } }, totp: { user: { id: user.id, passcode } } } } });
      assert.equal((await round(wrongCode(user.secret))).status, 401);
      assert.equal((await round(wrongCode(user.secret))).status, 401);
      await awayFromWindowEdge();
      assert.equal((await round(codeAt(user.secret, 0))).status, 401);
    });
  });
  describe('configuration', () => {
    const MFA = { multi_factor_auth_rules: [['password', 'totp']] };

    it('seals receipts with [fernet_receipts] key_repository and honours [receipt] expiration', async function () {
      this.timeout(60_000);
      const receiptDir = mkdtempSync(path.join(tmpdir(), 'kts-receipt-keys-'));
      setupKeyRepository(receiptDir, { maxActiveKeys: 3 });
      const other = await startTestServer(ctx.db(), { 'auth.methods': METHODS, 'fernet_receipts.key_repository': receiptDir, 'receipt.expiration': '60' }, { shareKeysWith: server });
      try {
        const user = await totpUser('cfg-receipt', MFA);
        const res = await http(other.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, user.password) });
        assert.equal(res.status, 401);
        assert.equal(Date.parse(res.json.receipt.expires_at) - Date.parse(res.json.receipt.issued_at), 60_000);
        const receipt = res.headers.get('openstack-auth-receipt')!;
        const receiptKeys = new KeyRepository(receiptDir);
        const tokenKeys = new KeyRepository(path.join(server.dir, 'fernet-keys'));
        try {
          const parsed = new ReceiptFormatter({ keys: receiptKeys, methods: METHODS.split(','), defaultDomainId: 'default' }).parse(receipt);
          assert.equal(parsed.userId, user.id);
          assert.deepEqual(parsed.methods, ['password']);
          assert.throws(() => new ReceiptFormatter({ keys: tokenKeys, methods: METHODS.split(','), defaultDomainId: 'default' }).parse(receipt));
        } finally {
          receiptKeys.close();
          tokenKeys.close();
        }
        // The server that shares only the token keys cannot read it.
        await awayFromWindowEdge();
        assert.equal((await login(totpAuth({ id: user.id }, codeAt(user.secret, 0)), receipt)).status, 401);
        const done = await http(other.url, 'POST', '/v3/auth/tokens', { body: totpAuth({ id: user.id }, codeAt(user.secret, 0)), headers: { 'Openstack-Auth-Receipt': receipt } });
        assert.equal(done.status, 201, done.text);
      } finally {
        await other.close();
        rmSync(receiptDir, { recursive: true, force: true });
      }
    });

    it('refuses to start when a separate [fernet_receipts] key_repository has no keys, as Keystone does', async () => {
      const empty = mkdtempSync(path.join(tmpdir(), 'kts-receipt-empty-'));
      try {
        await assert.rejects(startTestServer(ctx.db(), { 'fernet_receipts.key_repository': empty }, { shareKeysWith: server }), /fernet_receipts/);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it('without totp in [auth] methods: the method is refused and a rule needing it is ignored', async function () {
      this.timeout(60_000);
      const plain = await startTestServer(ctx.db(), {}, { shareKeysWith: server });
      try {
        const user = await totpUser('cfg-unloaded', MFA);
        const token = await http(plain.url, 'POST', '/v3/auth/tokens', { body: passwordAuth({ id: user.id }, user.password) });
        assert.equal(token.status, 201, token.text);
        assert.deepEqual(token.json.token.methods, ['password']);
        const refused = await http(plain.url, 'POST', '/v3/auth/tokens', { body: totpAuth({ id: user.id }, codeAt(user.secret, 0)) });
        assert.equal(refused.status, 401);
        assert.equal(refused.json.error.message, 'Attempted to authenticate with an unsupported method.');
      } finally {
        await plain.close();
      }
    });
  });
});

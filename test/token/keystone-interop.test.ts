/**
 * Both directions checked by upstream Keystone itself: tokens, receipts and credential-style
 * Fernet blobs made here are read by Keystone's own code and the other way round, Keystone's
 * rotation is compared with ours, and the UUID parsing with CPython's. Keystone runs in a
 * /usr/bin/python3 subprocess (Debian's python3-keystone, Zed: payloads 0-9), driven by
 * test/support/keystone_fernet.py.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { keystoneIsoTime } from '../../src/common/time.js';
import { MultiFernet, generateFernetKey } from '../../src/token/fernet.js';
import { ReceiptFormatter, TokenFormatter, inspectJson } from '../../src/token/formatter.js';
import type { TokenContent } from '../../src/token/formatter.js';
import { KeyRepository, rotateKeyRepository, setupKeyRepository } from '../../src/token/key-repository.js';
import { AuthMethodCodec } from '../../src/token/methods.js';
import { PayloadCodec, selectPayloadVersion } from '../../src/token/payload.js';
import { pythonUuidBytes } from '../../src/token/python-compat.js';
import { METHODS_WITH_TOTP, copyVectorKeys, readJson, tempDir } from './fixtures.js';
import { keystone, requireKeystonePython, type KeystoneRequest } from '../support/keystone-python.js';
import { content } from './token-content.js';

const DEFAULT_DOMAIN = 'default';

/** Token data in the shape of the Python helper's create items. */
function pythonItem(data: TokenContent): Record<string, unknown> {
  return {
    user_id: data.userId,
    methods: data.methods,
    audit_ids: data.auditIds,
    expires_at: keystoneIsoTime(data.expiresAt),
    system: data.system,
    domain_id: data.domainId,
    project_id: data.projectId,
    trust_id: data.trustId,
    federated_group_ids: data.federatedGroupIds,
    identity_provider_id: data.identityProviderId,
    protocol_id: data.protocolId,
    access_token_id: data.accessTokenId,
    app_cred_id: data.appCredId,
  };
}

const USER = 'a40971e009a54300a5a887be6dfdde54';
const PROJECT = '3525137276cb4bfdae02966840317f60';
const DOMAIN = '5445781b0dfc4cf3a283292f4865fa27';
const TWO_AUDIT_IDS = ['cgreAQf3wH6Hu6iGrLBHKg', 'TfMQVp0bUSxs-K7Vpr3hiA'];

/** Every payload version Zed knows (0-9), with the id forms that are easy to get wrong. */
const TOKENS: [string, TokenContent][] = [
  ['v0 unscoped', content({ userId: USER })],
  ['v0 non-UUID user, totp, two audit ids', content({ userId: 'cn=alice,ou=people', methods: ['password', 'totp'], auditIds: TWO_AUDIT_IDS })],
  ['v0 upper-case hyphenated UUID user', content({ userId: 'A40971E0-09A5-4300-A5A8-87BE6DFDDE54' })],
  ['v0 user id that only int() makes a UUID', content({ userId: ' +0123456789abcdef0123456789abc ' })],
  ['v0 non-ASCII user id', content({ userId: 'ユーザー-üñí' })],
  ['v1 UUID domain', content({ userId: USER, domainId: DOMAIN })],
  ['v1 default domain', content({ userId: USER, domainId: DEFAULT_DOMAIN })],
  ['v2 project', content({ userId: USER, projectId: PROJECT, methods: ['token', 'password'], auditIds: TWO_AUDIT_IDS })],
  ['v2 non-UUID project', content({ userId: USER, projectId: 'admin-project', methods: ['external'] })],
  ['v2 ec2credential pseudo-method (bit 2^32)', content({ userId: USER, projectId: PROJECT, methods: ['ec2credential'] })],
  ['v3 trust', content({ userId: USER, projectId: PROJECT, trustId: '9a829f84987845f1835ccc528f533d9b' })],
  [
    'v4 federated unscoped',
    content({ userId: USER, methods: ['mapped'], federatedGroupIds: ['85bf30679577469293ca503d9e549ede', 'grp-non-uuid'], identityProviderId: 'myidp', protocolId: 'openid' }),
  ],
  [
    'v5 federated project',
    content({ userId: USER, methods: ['mapped', 'token'], projectId: PROJECT, federatedGroupIds: ['3e41a38c83434312bd35d112b7da7e51'], identityProviderId: '3530ed5be36144fd940b8afa1fc65cef', protocolId: 'saml2' }),
  ],
  [
    'v6 federated domain, no groups',
    content({ userId: USER, methods: ['mapped'], domainId: DOMAIN, federatedGroupIds: [], identityProviderId: 'myidp', protocolId: 'openid' }),
  ],
  ['v7 OAuth1', content({ userId: USER, methods: ['oauth1'], projectId: PROJECT, accessTokenId: 'dc9d2ab766db441cb4388208b837246a' })],
  ['v8 system', content({ userId: USER, system: 'all' })],
  ['v9 application credential', content({ userId: USER, methods: ['application_credential'], projectId: PROJECT, appCredId: 'd83c0df4c33547be8aef287d6cd0ba3d' })],
  ['v2 expired (the formatter does not check expiry)', content({ userId: USER, projectId: PROJECT, expiresAt: new Date('2020-01-01T00:00:00Z') })],
];

describe('token interop with upstream Keystone (python3-keystone)', function () {
  this.timeout(120000);
  let keys: { dir: string; cleanup: () => void };
  let repository: KeyRepository;
  let formatter: TokenFormatter;
  let config: KeystoneRequest['config'];

  before(function () {
    requireKeystonePython(this);
    keys = copyVectorKeys();
    repository = new KeyRepository(keys.dir);
    formatter = new TokenFormatter({ keys: repository, methods: METHODS_WITH_TOTP, defaultDomainId: DEFAULT_DOMAIN });
    config = { key_repository: keys.dir, auth_methods: METHODS_WITH_TOTP, default_domain_id: DEFAULT_DOMAIN };
  });
  after(() => {
    repository?.close();
    keys?.cleanup();
  });

  it('Keystone validates tokens of every payload version 0-9 issued here, field for field', () => {
    const tokens = TOKENS.map(([, data]) => formatter.create(data));
    const decoded = keystone<Record<string, unknown>>({ command: 'validate', config, items: tokens });
    TOKENS.forEach(([name, data], i) => {
      const ours = inspectJson(formatter.parse(tokens[i] as string));
      assert.deepEqual(decoded[i], ours, name);
      // And what both read is what was issued (ids in Keystone's normalized form).
      assert.equal(ours.user_id, normalizedId(data.userId), name);
    });
    const versions = new Set(TOKENS.map(([, data]) => selectPayloadVersion(data)));
    assert.deepEqual([...versions].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('tokens issued by Keystone decode here to the issued fields, from byte-identical plaintexts', () => {
    const created = keystone<{ token: string; version: number; issued_at: string }>({
      command: 'create',
      config,
      items: TOKENS.map(([, data]) => pythonItem(data)),
    });
    const fernet = new MultiFernet(repository.keys());
    const codec = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: DEFAULT_DOMAIN });
    TOKENS.forEach(([name, data], i) => {
      const { token, version, issued_at: issuedAt } = created[i] as { token: string; version: number; issued_at: string };
      assert.equal(version, selectPayloadVersion(data), `${name}: payload class`);
      assert.equal(fernet.decrypt(token).plaintext.toString('hex'), codec.encodeToken(data).toString('hex'), `${name}: msgpack`);
      const parsed = formatter.parse(token);
      assert.equal(keystoneIsoTime(parsed.issuedAt), issuedAt, name);
      assert.deepEqual(inspectJson(parsed), {
        ...inspectJson({ ...data, issuedAt: parsed.issuedAt }),
        user_id: normalizedId(data.userId),
        methods: methodsInTokenOrder(data.methods),
      }, name);
    });
  });

  it('Zed rejects payload 10 (OAuth2 mTLS) with its unknown-version message', () => {
    const v10 = formatter.create(content({ projectId: PROJECT, thumbprint: 'ARHXStCIRLVUdYkoqOnKOfrgV0ZpMWXQaRtlnvh4g9w=' }));
    const [result] = keystone<{ error?: string; message?: string }>({ command: 'validate', config, items: [v10, 'not-a-token'] });
    assert.deepEqual(result, { error: 'TokenNotFound', message: 'This is not a recognized Fernet payload version: 10' });
  });

  it('receipts go both ways', () => {
    const receipts = new ReceiptFormatter({ keys: repository, methods: METHODS_WITH_TOTP, defaultDomainId: DEFAULT_DOMAIN });
    const expiresAt = new Date('2126-01-01T00:05:00Z');
    const ours = receipts.create({ userId: USER, methods: ['password', 'totp'], expiresAt });
    const [theirs, decoded] = keystone<Record<string, unknown>>({
      command: 'receipts',
      config,
      items: [{ user_id: 'cn=bob', methods: ['totp'], expires_at: keystoneIsoTime(expiresAt) }, { receipt: ours }],
    });
    assert.deepEqual(
      { ...decoded, issued_at: undefined },
      { user_id: USER, methods: ['totp', 'password'], issued_at: undefined, expires_at: '2126-01-01T00:05:00.000000Z' },
    );
    const parsed = receipts.parse((theirs as { receipt: string }).receipt);
    assert.deepEqual([parsed.userId, parsed.methods, parsed.expiresAt], ['cn=bob', ['totp'], expiresAt]);
  });

  it('credential-style Fernet (padded) goes both ways with cryptography.fernet', () => {
    const keyTexts = [generateFernetKey(), generateFernetKey()];
    const fernet = new MultiFernet(keyTexts.map((key) => Buffer.from(key, 'base64url')));
    const plaintexts = [0, 1, 15, 16, 17, 100].map((length) => randomBytes(length));
    const fromPython = keystone<{ token: string }>({
      command: 'fernet',
      items: plaintexts.map((plaintext) => ({ keys: keyTexts, plaintext: plaintext.toString('hex') })),
    });
    fromPython.forEach(({ token }, i) => {
      assert.match(token, /=$|^([A-Za-z0-9_-]{4})+$/);
      assert.deepEqual(fernet.decrypt(token).plaintext, plaintexts[i]);
    });
    const ours = plaintexts.map((plaintext) => fernet.encrypt(plaintext));
    const tampered = `${(ours[0] as string).slice(0, 30)}${(ours[0] as string)[30] === 'A' ? 'B' : 'A'}${(ours[0] as string).slice(31)}`;
    const decrypted = keystone<{ plaintext?: string; error?: string }>({
      command: 'fernet',
      items: [
        ...ours.map((token) => ({ keys: [...keyTexts].reverse(), token })),
        { keys: keyTexts, token: tampered },
        { keys: keyTexts, token: `${ours[0]}x` },
      ],
    });
    plaintexts.forEach((plaintext, i) => assert.equal(decrypted[i]?.plaintext, plaintext.toString('hex')));
    assert.deepEqual(decrypted.at(-2), { error: 'InvalidToken' });
    // Python's base64 decoder skips junk after the padding; this one refuses it (spec 1.1 allows
    // the stricter decoder: either way the request fails with 401/404, never with other data).
    assert.deepEqual(decrypted.at(-1), { plaintext: plaintexts[0]?.toString('hex') });
    assert.throws(() => fernet.decrypt(`${ours[0]}x`));
  });

  it("parses ids exactly as Keystone's attempt_convert_uuid_hex_to_bytes (recorded and random cases)", () => {
    const recorded = readJson<{ cases: { input: string }[] }>('python-uuid-cases.json').cases.map((c) => c.input);
    const inputs = [...recorded, ...fuzzIds(400)];
    const theirs = keystone<string | null>({ command: 'uuid', items: inputs });
    inputs.forEach((input, i) => {
      assert.equal(pythonUuidBytes(input)?.toString('hex') ?? null, theirs[i], JSON.stringify(input));
    });
  });

  it('rotates like FernetUtils: the same key numbers after each rotation, max_active_keys 3, 1, 5, 2', () => {
    const temp = tempDir();
    try {
      const cases = [3, 1, 5, 2].map((maxActiveKeys) => ({ maxActiveKeys, rotations: 5 }));
      const theirs = keystone<number[][]>({
        command: 'rotate',
        items: cases.map((c, i) => ({ directory: path.join(temp.dir, `py-${i}`), max_active_keys: c.maxActiveKeys, rotations: c.rotations })),
      });
      cases.forEach(({ maxActiveKeys, rotations }, i) => {
        const dir = path.join(temp.dir, `ts-${i}`);
        const ours = [setupKeyRepository(dir, { maxActiveKeys }).keyIds];
        for (let r = 0; r < rotations; r += 1) ours.push(rotateKeyRepository(dir, { maxActiveKeys }).keyIds);
        assert.deepEqual(ours, theirs[i], `max_active_keys ${maxActiveKeys}`);
        assert.deepEqual(readdirSync(path.join(temp.dir, `py-${i}`)).sort(), readdirSync(dir).sort());
      });
    } finally {
      temp.cleanup();
    }
  });

  it('Keystone reads a repository set up and rotated here, and the reverse', () => {
    const temp = tempDir();
    try {
      const dir = path.join(temp.dir, 'keys');
      setupKeyRepository(dir, { maxActiveKeys: 3 });
      rotateKeyRepository(dir, { maxActiveKeys: 3 });
      const local = new KeyRepository(dir);
      try {
        const ours = new TokenFormatter({ keys: local, methods: METHODS_WITH_TOTP, defaultDomainId: DEFAULT_DOMAIN });
        const localConfig = { ...config, key_repository: dir };
        const token = ours.create(content({ userId: USER, projectId: PROJECT }));
        const [decoded] = keystone<Record<string, unknown>>({ command: 'validate', config: localConfig, items: [token] });
        assert.equal(decoded?.project_id, PROJECT);
        const [created] = keystone<{ token: string }>({ command: 'create', config: localConfig, items: [pythonItem(content({ userId: USER }))] });
        assert.equal(ours.parse((created as { token: string }).token).userId, USER);
      } finally {
        local.close();
      }
    } finally {
      temp.cleanup();
    }
  });
});

/** Methods as a token gives them back: highest bit first. */
function methodsInTokenOrder(methods: readonly string[]): string[] {
  const codec = new AuthMethodCodec(METHODS_WITH_TOTP);
  return codec.decode(codec.encode(methods));
}

/** How an id comes back from a token: 32 lowercase hex digits if Python reads it as a UUID. */
function normalizedId(id: string): string {
  return pythonUuidBytes(id)?.toString('hex') ?? id;
}

/**
 * Deterministic near-UUIDs: 32 hex digits with 0-3 mutations (insert, delete or replace with a
 * character that UUID parsing treats specially), so that about half still parse.
 */
function fuzzIds(count: number): string[] {
  const hex = [...'0123456789abcdefABCDEF'];
  const specials = ['-', '{', '}', '_', '__', '+', ' ', '\t', '0x', 'urn:', 'uuid:', '٣', '\u00a0', '\ufeff', '\u{1d7ce}', 'g', '\u0085', '\u001c'];
  let seed = 0x2545f491;
  const next = (n: number): number => {
    // xorshift32: reproducible, so a failure can be replayed.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const chars = Array.from({ length: 32 }, () => hex[next(16)] as string);
    for (let m = next(4); m > 0; m -= 1) {
      const at = next(chars.length + 1);
      const special = specials[next(specials.length)] as string;
      const op = next(4);
      if (op === 0) chars.splice(at, 0, special);
      else if (op === 1) chars.splice(at, 1);
      else if (op === 2) chars.splice(at, 1, special);
      else chars.splice(at, 1, hex[next(hex.length)] as string);
    }
    ids.push(chars.join(''));
  }
  return ids;
}

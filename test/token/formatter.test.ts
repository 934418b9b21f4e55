import assert from 'node:assert/strict';
import { TokenNotFound, Unauthorized } from '../../src/common/errors.js';
import { keystoneIsoTime } from '../../src/common/time.js';
import { InvalidReceipt, InvalidToken, TokenPayloadError } from '../../src/token/errors.js';
import { MultiFernet } from '../../src/token/fernet.js';
import { ReceiptFormatter, TokenFormatter, inspectJson, isExpired } from '../../src/token/formatter.js';
import type { KeySource, TokenData } from '../../src/token/formatter.js';
import { KeyRepository } from '../../src/token/key-repository.js';
import { PayloadCodec } from '../../src/token/payload.js';
import { METHODS_WITH_TOTP, VECTOR_KEYS, readJson, staticKeys } from './fixtures.js';
import type { AppendixA, Vectors } from './fixtures.js';
import { content } from './token-content.js';

const NOW = new Date('2026-11-23T12:00:00Z');

/** Keystone's field names with null for whatever a listing leaves out (Appendix A lists only the set ones). */
function expectedInspection(fields: Record<string, unknown>, issuedAt: string, expiresAt: string): Record<string, unknown> {
  const expected: Record<string, unknown> = {
    user_id: null,
    methods: [],
    audit_ids: [],
    system: null,
    domain_id: null,
    project_id: null,
    trust_id: null,
    federated_group_ids: null,
    identity_provider_id: null,
    protocol_id: null,
    access_token_id: null,
    app_cred_id: null,
  };
  Object.assign(expected, fields);
  expected.issued_at = issuedAt;
  expected.expires_at = expiresAt;
  return expected;
}

describe('token/formatter TokenFormatter with the vectors made by Keystone 22', () => {
  const vectors = readJson<Vectors>('tokens.json');
  let repository: KeyRepository;
  let formatter: TokenFormatter;

  before(() => {
    repository = new KeyRepository(VECTOR_KEYS);
    formatter = new TokenFormatter({ keys: repository, methods: vectors.auth_methods, defaultDomainId: 'default', now: () => NOW });
  });
  after(() => repository.close());

  it('uses the auth methods the vectors were made with', () => {
    assert.deepEqual(vectors.auth_methods, METHODS_WITH_TOTP);
  });

  for (const vector of vectors.cases.filter((c) => c.expected.must_reject === undefined)) {
    it(`decodes "${vector.name}" exactly as Keystone did`, () => {
      assert.deepEqual(inspectJson(formatter.parse(vector.token)), vector.expected);
    });
  }

  for (const vector of vectors.cases.filter((c) => c.expected.must_reject !== undefined)) {
    it(`rejects "${vector.name}" as ${vector.expected.must_reject}`, () => {
      let reason: string;
      try {
        const data = formatter.parse(vector.token);
        // parse() authenticates and decodes; expiry is the provider's check (spec 1.6).
        reason = isExpired(data, NOW) ? 'expired' : 'accepted';
        if (vector.expected.expires_at !== undefined) assert.equal(inspectJson(data).expires_at, vector.expected.expires_at);
      } catch (err) {
        assert.ok(err instanceof InvalidToken, String(err));
        reason = err.reason;
      }
      assert.equal(reason, vector.expected.must_reject);
    });
  }

  it('re-encodes every vector to the bytes Keystone packed, but for the sub-second part of expires_at', () => {
    // The vectors' generator passed expires_at with microseconds, which Keystone packs as they are
    // (4948971934.123456 for 2126-10-29T18:25:34.123456Z) and drops on decode: only that float may differ.
    const fernet = new MultiFernet(repository.keys());
    const codec = new PayloadCodec({ methods: vectors.auth_methods, defaultDomainId: 'default' });
    for (const vector of vectors.cases.filter((c) => c.expected.must_reject === undefined)) {
      const theirs = fernet.decrypt(vector.token).plaintext;
      const { issuedAt: _issuedAt, ...fields } = formatter.parse(vector.token);
      const ours = codec.encodeToken(fields);
      assert.equal(ours.length, theirs.length, vector.name);
      const differing = [...ours.keys()].filter((i) => ours[i] !== theirs[i]);
      if (differing.length === 0) continue;
      // All differences must sit in the 8 bytes of the float64 (0xcb) expires_at.
      const at = ours.lastIndexOf(0xcb, (differing[0] as number) - 1);
      assert.ok(at >= 0 && theirs[at] === 0xcb && (differing.at(-1) as number) <= at + 8, vector.name);
      assert.equal(Math.floor(theirs.readDoubleBE(at + 1)), ours.readDoubleBE(at + 1), vector.name);
    }
  });
});

describe('token/formatter Appendix A, byte for byte', () => {
  const appendix = readJson<AppendixA>('appendix-a.json');
  const keys = staticKeys(appendix.keys['1'] as string, appendix.keys['0'] as string);
  const options = { keys, methods: appendix.auth_methods, defaultDomainId: appendix.default_domain_id };
  const formatter = new TokenFormatter(options);
  const codec = new PayloadCodec(options);
  const parts = { timestamp: appendix.timestamp, iv: Buffer.from(appendix.iv, 'hex') };

  it('lists a token for every payload version 0-10', () => {
    const versions = new Set(appendix.tokens.map((t) => Buffer.from(t.msgpack, 'hex')[1]));
    assert.deepEqual([...versions].sort((a = 0, b = 0) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  for (const vector of appendix.tokens) {
    it(`${vector.name}: decodes to the listed fields and re-encodes to the same msgpack and token`, () => {
      const data = formatter.parse(vector.token);
      const expected = expectedInspection(vector.decoded, appendix.issued_at, appendix.expires_at);
      assert.deepEqual(inspectJson(data), expected);

      const { issuedAt: _issuedAt, ...fields } = data;
      assert.equal(codec.encodeToken(fields).toString('hex'), vector.msgpack);
      assert.equal(formatter.create(fields, parts), vector.token);
      assert.equal(vector.token.length, Math.ceil(((57 + 16 * (Math.floor(vector.msgpack.length / 2 / 16) + 1)) * 4) / 3));
    });
  }

  it('Receipt: decodes and re-encodes to the same msgpack and receipt', () => {
    const receipts = new ReceiptFormatter(options);
    const data = receipts.parse(appendix.receipt.receipt);
    assert.equal(data.userId, appendix.receipt.user_id);
    assert.deepEqual(data.methods, appendix.receipt.methods);
    assert.equal(keystoneIsoTime(data.issuedAt), appendix.issued_at);
    assert.equal(keystoneIsoTime(data.expiresAt), appendix.receipt.expires_at);
    const { issuedAt: _issuedAt, ...fields } = data;
    assert.equal(codec.encodeReceipt(fields).toString('hex'), appendix.receipt.msgpack);
    assert.equal(receipts.create(fields, parts), appendix.receipt.receipt);
  });

  it('builds the same tokens from data written by hand (not from a decode)', () => {
    const project = content({
      userId: '0123456789abcdef0123456789abcdef',
      methods: ['password'],
      auditIds: ['EREREREREREREREREREREQ', 'IiIiIiIiIiIiIiIiIiIiIg'],
      projectId: 'fedcba9876543210fedcba9876543210',
      expiresAt: new Date(appendix.expires_at),
    });
    assert.equal(formatter.create(project, parts), appendix.tokens.find((t) => t.name === 'Project v2')?.token);
  });
});

describe('token/formatter TokenFormatter', () => {
  const keys = staticKeys('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
  const formatter = new TokenFormatter({ keys, methods: METHODS_WITH_TOTP, defaultDomainId: 'default', now: () => NOW });

  it('stamps issued_at from the injected clock, in whole seconds, and strips the padding', () => {
    const token = formatter.create(content({}));
    assert.doesNotMatch(token, /=/);
    const data = formatter.parse(token);
    assert.deepEqual(data.issuedAt, NOW);
    const later = new TokenFormatter({ keys, methods: METHODS_WITH_TOTP, defaultDomainId: 'default', now: () => new Date('2026-11-23T12:00:00.900Z') });
    assert.deepEqual(formatter.parse(later.create(content({}))).issuedAt, NOW);
  });

  it('reads its own tokens back with padding restored or not', () => {
    const token = formatter.create(content({ projectId: 'p' }));
    const padded = token + '='.repeat((4 - (token.length % 4)) % 4);
    assert.equal(formatter.parse(padded).projectId, 'p');
  });

  it('throws InvalidToken("invalid"), a 404 TokenNotFound, for garbage and foreign keys', () => {
    const foreign = new TokenFormatter({ keys: staticKeys('ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM='), methods: [], defaultDomainId: 'default' });
    for (const token of ['', 'garbage', 'gAAAAA', foreign.create(content({}))]) {
      assert.throws(
        () => formatter.parse(token),
        (err: unknown) =>
          err instanceof InvalidToken &&
          err instanceof TokenNotFound &&
          err.status === 404 &&
          err.reason === 'invalid' &&
          err.message === 'Could not recognize Fernet token',
      );
    }
  });

  it("reports an unknown payload version with Keystone's message", () => {
    const fernet = new MultiFernet(keys.keys());
    const v11 = fernet.encrypt(Buffer.from('950c92c2a161020000', 'hex'), { padding: false });
    assert.throws(
      () => formatter.parse(v11),
      (err: unknown) => err instanceof InvalidToken && err.message === 'This is not a recognized Fernet payload version: 12',
    );
  });

  it('rejects an authentic token whose payload is malformed', () => {
    const fernet = new MultiFernet(keys.keys());
    assert.throws(() => formatter.parse(fernet.encrypt(Buffer.from('not msgpack'))), InvalidToken);
    assert.throws(() => formatter.parse(fernet.encrypt(Buffer.from('c0', 'hex'))), InvalidToken);
  });

  it('rejects a Fernet timestamp beyond the year 9999', () => {
    const fernet = new MultiFernet(keys.keys());
    const plaintext = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: 'default' }).encodeToken(content({}));
    assert.throws(() => formatter.parse(fernet.encrypt(plaintext, { timestamp: 253402300800 })), InvalidToken);
  });

  it('does not check expiry: parse() returns an expired token, isExpired() judges it', () => {
    const data = formatter.parse(formatter.create(content({ expiresAt: new Date('2020-01-01T00:00:00Z') })));
    assert.ok(isExpired(data, NOW));
  });

  it('refuses at issue what no payload can carry', () => {
    assert.throws(() => formatter.create(content({ domainId: 'not-default' })), TokenPayloadError);
  });

  it('follows a key source whose keys change (rebuilds Fernet for a new array)', () => {
    let current = [Buffer.alloc(32, 1)];
    const formatterOverChangingKeys = new TokenFormatter({ keys: { keys: () => current }, methods: [], defaultDomainId: 'd' });
    const token = formatterOverChangingKeys.create(content({}));
    current = [Buffer.alloc(32, 2)];
    assert.throws(() => formatterOverChangingKeys.parse(token), InvalidToken);
    current = [Buffer.alloc(32, 2), Buffer.alloc(32, 1)];
    assert.equal(formatterOverChangingKeys.parse(token).userId, '0123456789abcdef0123456789abcdef');
  });
});

describe('token/formatter ReceiptFormatter', () => {
  const keys: KeySource = staticKeys('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
  const receipts = new ReceiptFormatter({ keys, methods: METHODS_WITH_TOTP, defaultDomainId: 'default', now: () => NOW });

  it('round-trips a receipt', () => {
    const receipt = receipts.create({ userId: 'cn=bob', methods: ['password'], expiresAt: new Date('2026-11-23T12:05:00Z') });
    assert.deepEqual(receipts.parse(receipt), {
      userId: 'cn=bob',
      methods: ['password'],
      issuedAt: NOW,
      expiresAt: new Date('2026-11-23T12:05:00Z'),
    });
  });

  it('throws InvalidReceipt (a 401, as Keystone ReceiptNotFound) for garbage and for a token', () => {
    const token = new TokenFormatter({ keys, methods: METHODS_WITH_TOTP, defaultDomainId: 'default' }).create(content({}));
    for (const text of ['garbage', token]) {
      assert.throws(
        () => receipts.parse(text),
        (err: unknown) => err instanceof InvalidReceipt && err instanceof Unauthorized && err.status === 401,
      );
    }
  });
});

describe('token/formatter inspectJson and isExpired', () => {
  const data: TokenData = {
    ...content({ federatedGroupIds: ['g1'], identityProviderId: 'idp', protocolId: 'saml2' }),
    issuedAt: new Date('2026-01-01T00:00:00.999Z'),
  };

  it("has Keystone's field names, in its order, with groups as [{id}] and ISO times with .000000Z", () => {
    const json = inspectJson(data);
    assert.deepEqual(Object.keys(json), [
      'user_id', 'methods', 'audit_ids', 'system', 'domain_id', 'project_id', 'trust_id', 'federated_group_ids',
      'identity_provider_id', 'protocol_id', 'access_token_id', 'app_cred_id', 'issued_at', 'expires_at',
    ]);
    assert.deepEqual(json.federated_group_ids, [{ id: 'g1' }]);
    assert.equal(json.issued_at, '2026-01-01T00:00:00.000000Z');
    assert.equal(json.expires_at, '2126-01-01T00:00:00.000000Z');
  });

  it('adds thumbprint only for payload 10 tokens', () => {
    assert.equal('thumbprint' in inspectJson(data), false);
    assert.equal(inspectJson({ ...data, thumbprint: 'tp' }).thumbprint, 'tp');
  });

  it('applies the expiry rule now >= expires_at + window (spec 1.6)', () => {
    const expiring = { expiresAt: new Date('2026-01-01T00:00:00Z') };
    assert.equal(isExpired(expiring, new Date('2025-12-31T23:59:59.999Z')), false);
    assert.equal(isExpired(expiring, new Date('2026-01-01T00:00:00Z')), true);
    assert.equal(isExpired(expiring, new Date('2026-01-02T00:00:00Z'), 172800), false);
    assert.equal(isExpired(expiring, new Date('2026-01-03T00:00:00Z'), 172800), true);
  });
});

describe('common/time keystoneIsoTime', () => {
  it('formats with six zero microseconds and Z, truncating milliseconds', () => {
    assert.equal(keystoneIsoTime(new Date('2026-11-22T18:25:34.999Z')), '2026-11-22T18:25:34.000000Z');
    assert.equal(keystoneIsoTime(new Date('0001-01-01T00:00:00Z')), '0001-01-01T00:00:00.000000Z');
  });

  it('refuses years Python cannot represent', () => {
    assert.throws(() => keystoneIsoTime(new Date('+010000-01-01T00:00:00Z')), RangeError);
    assert.throws(() => keystoneIsoTime(new Date(Number.NaN)), RangeError);
  });
});

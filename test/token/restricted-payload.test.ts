import assert from 'node:assert/strict';
import { Encoder } from '@msgpack/msgpack';
import { keystoneIsoTime } from '../../src/common/time.js';
import { InvalidToken, TokenPayloadError } from '../../src/token/errors.js';
import { TokenFormatter } from '../../src/token/formatter.js';
import { MultiFernet } from '../../src/token/fernet.js';
import { MalformedPayload, PayloadCodec, PayloadVersion, selectPayloadVersion } from '../../src/token/payload.js';
import { readJson, staticKeys } from './fixtures.js';
import { content } from './token-content.js';

/** test/fixtures/fernet/restricted.json, written by test/support/restricted_fernet_vectors.py. */
interface RestrictedVectors {
  /** A plaintext written by Keystone-NG's own encoder (its fuzz seed corpus). */
  keystone_ng: {
    source: string;
    auth_methods: string[];
    msgpack: string;
    expected: { user_id: string; methods: string[]; token_restriction_id: string; project_id: string; allow_renew: boolean; allow_rescope: boolean; audit_ids: string[]; expires_at: string };
  };
  keys: Record<string, string>;
  auth_methods: string[];
  iv: string;
  timestamp: number;
  cases: {
    name: string;
    encode: boolean;
    msgpack: string;
    token: string;
    expected: {
      user_id: string;
      methods: string[];
      token_restriction_id: string;
      project_id: string;
      allow_renew: boolean;
      allow_rescope: boolean;
      audit_ids: string[];
      issued_at: string;
      expires_at: string;
    };
  }[];
}

const vectors = readJson<RestrictedVectors>('restricted.json');
const options = { keys: staticKeys(vectors.keys['1'] as string, vectors.keys['0'] as string), methods: vectors.auth_methods, defaultDomainId: 'default' };
const formatter = new TokenFormatter(options);
const codec = new PayloadCodec(options);
const parts = { timestamp: vectors.timestamp, iv: Buffer.from(vectors.iv, 'hex') };

describe('token/payload version 11 (Keystone-NG restricted tokens), independent Python vectors', () => {
  it('holds both str and bin encodings of non-UUID ids', () => {
    assert.ok(vectors.cases.some((c) => !c.encode));
    assert.ok(vectors.cases.filter((c) => c.encode).length >= 3);
  });

  for (const vector of vectors.cases) {
    it(`${vector.name}: decodes to the listed fields${vector.encode ? ' and re-encodes byte for byte' : ''}`, () => {
      const data = formatter.parse(vector.token);
      const e = vector.expected;
      assert.equal(data.userId, e.user_id);
      assert.deepEqual([...data.methods].sort(), [...e.methods].sort());
      assert.deepEqual(data.restriction, { id: e.token_restriction_id, allowRenew: e.allow_renew, allowRescope: e.allow_rescope });
      assert.equal(data.projectId, e.project_id);
      assert.deepEqual(data.auditIds, e.audit_ids);
      assert.equal(keystoneIsoTime(data.issuedAt), e.issued_at);
      assert.equal(keystoneIsoTime(data.expiresAt), e.expires_at);
      for (const absent of [data.domainId, data.system, data.trustId, data.appCredId, data.accessTokenId, data.federatedGroupIds, data.thumbprint]) {
        assert.equal(absent, null);
      }
      if (!vector.encode) return;
      const { issuedAt: _issuedAt, ...fields } = data;
      assert.equal(codec.encodeToken(fields).toString('hex'), vector.msgpack);
      assert.equal(formatter.create(fields, parts), vector.token);
    });
  }
});

describe('token/payload version 11, a plaintext written by Keystone-NG', () => {
  it('decodes to NG’s fields and re-encodes byte for byte', () => {
    const ng = vectors.keystone_ng;
    const ngCodec = new PayloadCodec({ methods: ng.auth_methods, defaultDomainId: 'default' });
    const issuedAt = new Date('2026-07-30T20:46:14Z');
    const data = ngCodec.decodeToken(Buffer.from(ng.msgpack, 'hex'), issuedAt);
    const e = ng.expected;
    assert.equal(data.userId, e.user_id);
    assert.deepEqual(data.methods, e.methods);
    assert.deepEqual(data.restriction, { id: e.token_restriction_id, allowRenew: e.allow_renew, allowRescope: e.allow_rescope });
    assert.equal(data.projectId, e.project_id);
    assert.deepEqual(data.auditIds, e.audit_ids);
    assert.equal(keystoneIsoTime(data.expiresAt), e.expires_at);
    const { issuedAt: _issuedAt, ...fields } = data;
    assert.equal(ngCodec.encodeToken(fields).toString('hex'), ng.msgpack);
  });
});

describe('token/payload version 11 rules', () => {
  const restriction = { id: 'aabbccddeeff00112233445566778899', allowRenew: false, allowRescope: true };

  it('is chosen for any token with a restriction, and round-trips', () => {
    const data = content({ projectId: 'fedcba9876543210fedcba9876543210', restriction, auditIds: ['EREREREREREREREREREREQ', 'IiIiIiIiIiIiIiIiIiIiIg'] });
    assert.equal(selectPayloadVersion(data), PayloadVersion.Restricted);
    const issuedAt = new Date('2026-01-01T00:00:00Z');
    assert.deepEqual(codec.decodeToken(codec.encodeToken(data), issuedAt), { ...data, issuedAt });
  });

  it('refuses to encode a restricted token that is not project scoped or carries another delegation', () => {
    assert.throws(() => codec.encodeToken(content({ restriction })), TokenPayloadError);
    assert.throws(() => codec.encodeToken(content({ restriction, domainId: 'default' })), TokenPayloadError);
    const project = 'fedcba9876543210fedcba9876543210';
    for (const extra of [{ trustId: '33333333333333333333333333333333' }, { appCredId: '77777777777777777777777777777777' }, { accessTokenId: '66666666666666666666666666666666' }, { federatedGroupIds: [] }]) {
      assert.throws(() => codec.encodeToken(content({ restriction, projectId: project, ...extra })), TokenPayloadError, JSON.stringify(extra));
    }
  });

  it('refuses malformed version-11 plaintexts as invalid tokens', () => {
    const user = [true, Buffer.alloc(16, 1)];
    const id = [true, Buffer.alloc(16, 2)];
    const audit = [Buffer.alloc(16, 3)];
    const bad: unknown[][] = [
      [11, user, 2, id, 1767229200.0, id, true, false], // 8 elements
      [11, user, 2, id, 1767229200.0, id, 1, false, audit], // renew is not a boolean
      [11, user, 2, id, 1767229200.0, id, true, 'no', audit], // rescope is not a boolean
      [11, user, 2, [false, null], 1767229200.0, id, true, false, audit], // no restriction id
      [11, user, 2, id, 1767229200.0, [false, null], true, false, audit], // no project
    ];
    const encoder = new Encoder();
    for (const elements of bad) {
      const plaintext = Buffer.from(encoder.encode(elements));
      assert.throws(() => codec.decodeToken(plaintext, new Date()), MalformedPayload, JSON.stringify(elements));
    }
    // Through the formatter the same refusal is Keystone's "invalid token" (a 404 as subject).
    const fernet = new MultiFernet(options.keys.keys());
    assert.throws(() => formatter.parse(fernet.encrypt(Buffer.from(encoder.encode(bad[1]!)), { padding: false })), InvalidToken);
  });
});

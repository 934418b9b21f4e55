import assert from 'node:assert/strict';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { TokenPayloadError } from '../../src/token/errors.js';
import {
  MalformedPayload,
  PayloadCodec,
  PayloadVersion,
  UnknownPayloadVersion,
  selectPayloadVersion,
} from '../../src/token/payload.js';
import type { TokenContent, TokenData } from '../../src/token/payload.js';
import { METHODS_WITH_TOTP } from './fixtures.js';
import { content } from './token-content.js';

const codec = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: 'default' });
const ISSUED = new Date('2026-01-01T00:00:00Z');
const USER = '0123456789abcdef0123456789abcdef';
const PROJECT = 'fedcba9876543210fedcba9876543210';
const DOMAIN = '00112233445566778899aabbccddeeff';
const UUID_A = '44444444444444444444444444444444';

function roundTrip(data: TokenContent): TokenData {
  return codec.decodeToken(codec.encodeToken(data), ISSUED);
}

/** The version element as any msgpack decoder reads it. */
function versionOf(data: TokenContent): unknown {
  return (new Decoder().decode(codec.encodeToken(data)) as unknown[])[0];
}

/** One token of each payload version, with the fields that version carries. */
const EACH_VERSION: [number, TokenContent][] = [
  [0, content({})],
  [1, content({ domainId: DOMAIN })],
  [2, content({ projectId: PROJECT, auditIds: ['EREREREREREREREREREREQ', 'IiIiIiIiIiIiIiIiIiIiIg'] })],
  [3, content({ projectId: PROJECT, trustId: '33333333333333333333333333333333' })],
  [4, content({ methods: ['mapped'], federatedGroupIds: [UUID_A, 'grp-non-uuid'], identityProviderId: 'myidp', protocolId: 'saml2' })],
  [5, content({ methods: ['mapped', 'token'], projectId: PROJECT, federatedGroupIds: [UUID_A], identityProviderId: 'myidp', protocolId: 'openid' })],
  [6, content({ methods: ['mapped', 'token'], domainId: DOMAIN, federatedGroupIds: [], identityProviderId: UUID_A, protocolId: 'openid' })],
  [7, content({ methods: ['oauth1'], projectId: PROJECT, accessTokenId: '66666666666666666666666666666666' })],
  [8, content({ system: 'all' })],
  [9, content({ methods: ['application_credential'], projectId: PROJECT, appCredId: '77777777777777777777777777777777' })],
  [10, content({ methods: [], projectId: PROJECT, thumbprint: 'ARHXStCIRLVUdYkoqOnKOfrgV0ZpMWXQaRtlnvh4g9w=' })],
];

describe('token/payload PayloadCodec', () => {
  it('round-trips every payload version 0-10 with all its fields', () => {
    for (const [version, data] of EACH_VERSION) {
      assert.equal(selectPayloadVersion(data), version);
      assert.equal(versionOf(data), version);
      assert.deepEqual(roundTrip(data), { ...data, issuedAt: ISSUED }, `version ${version}`);
    }
  });

  it('round-trips non-UUID ids in every ID tuple', () => {
    const cases: TokenContent[] = [
      content({ userId: 'cn=alice,ou=people' }),
      content({ userId: 'ldap-user', projectId: 'admin-project' }),
      content({ userId: 'ldap-user', projectId: 'admin-project', trustId: UUID_A }),
      content({ federatedGroupIds: ['g1', 'g2'], identityProviderId: 'idp', protocolId: 'p', domainId: 'dom' }),
      content({ projectId: 'p', accessTokenId: 'at' }),
      content({ projectId: 'p', appCredId: 'ac' }),
      content({ projectId: 'p', domainId: 'd', thumbprint: 'tp' }),
      content({ userId: 'üñíçødé ユーザー' }),
    ];
    for (const data of cases) assert.deepEqual(roundTrip(data), { ...data, issuedAt: ISSUED });
  });

  it('brings hyphenated, braced and upper-case UUIDs back as lowercase hex, like Keystone', () => {
    const data = content({
      userId: '3F2504E0-4F89-11D3-9A0C-0305E82C3301',
      projectId: '{fedcba98-7654-3210-fedc-ba9876543210}',
      appCredId: 'urn:uuid:77777777-7777-7777-7777-777777777777',
    });
    const back = roundTrip(data);
    assert.equal(back.userId, '3f2504e04f8911d39a0c0305e82c3301');
    assert.equal(back.projectId, PROJECT);
    assert.equal(back.appCredId, '77777777777777777777777777777777');
  });

  it('packs UUID ids as [true, bin16] and others as [false, str] (spec 1.3)', () => {
    const packed = codec.encodeToken(content({ userId: USER, projectId: 'admin-project' })).toString('hex');
    assert.ok(packed.startsWith(`960292c3c410${USER}0292c2ad${Buffer.from('admin-project').toString('hex')}cb`), packed);
  });

  it('encodes expires_at as float64 even when integral, truncating milliseconds', () => {
    const packed = codec.encodeToken(content({ expiresAt: new Date('2026-01-01T01:00:00.999Z') }));
    assert.ok(packed.toString('hex').includes('cb41da5571c4000000'), packed.toString('hex'));
    assert.deepEqual(roundTrip(content({ expiresAt: new Date('2026-01-01T01:00:00.999Z') })).expiresAt, new Date('2026-01-01T01:00:00Z'));
  });

  it('encodes the pseudo-method bits as uint64', () => {
    const packed = codec.encodeToken(content({ methods: ['ec2credential'], projectId: PROJECT }));
    assert.ok(packed.toString('hex').includes('cf0000000100000000'), packed.toString('hex'));
    assert.deepEqual(roundTrip(content({ methods: ['ec2credential'] })).methods, ['ec2credential']);
  });

  describe('domain-scoped (v1) bare domain id', () => {
    it('stores a UUID domain as 16 bytes and the default domain as a plain string', () => {
      assert.ok(codec.encodeToken(content({ domainId: DOMAIN })).toString('hex').includes(`02c410${DOMAIN}cb`));
      assert.ok(codec.encodeToken(content({ domainId: 'default' })).toString('hex').includes('02a764656661756c74cb'));
      assert.equal(roundTrip(content({ domainId: 'default' })).domainId, 'default');
    });

    it('refuses at issue a non-UUID domain other than the default domain', () => {
      assert.throws(() => codec.encodeToken(content({ domainId: 'other-domain' })), TokenPayloadError);
    });

    it('refuses at issue a 16-byte default domain id, which every decoder reads back as UUID bytes', () => {
      const odd = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: 'sixteen-chars-id' });
      assert.throws(() => odd.encodeToken(content({ domainId: 'sixteen-chars-id' })), TokenPayloadError);
    });

    it('refuses on decode a string domain that is not the default domain', () => {
      const other = new PayloadCodec({ methods: METHODS_WITH_TOTP, defaultDomainId: 'another' });
      const packed = codec.encodeToken(content({ domainId: 'default' }));
      assert.throws(() => other.decodeToken(packed, ISSUED), MalformedPayload);
    });

    it('uses an ID tuple for the federated domain scope (v6), so any domain id works there', () => {
      const data = content({ domainId: 'not-a-uuid', federatedGroupIds: [], identityProviderId: 'i', protocolId: 'p' });
      assert.deepEqual(roundTrip(data), { ...data, issuedAt: ISSUED });
    });
  });

  it('refuses at issue a trust id that is not a UUID (Keystone: ValueError)', () => {
    assert.throws(() => codec.encodeToken(content({ projectId: PROJECT, trustId: 'not-a-uuid' })), TokenPayloadError);
  });

  it('refuses at issue an audit id that is not base64', () => {
    assert.throws(() => codec.encodeToken(content({ auditIds: ['not base64!'] })), TokenPayloadError);
    assert.throws(() => codec.encodeToken(content({ auditIds: ['AAAAA'] })), TokenPayloadError);
  });

  describe('payload class selection (first match wins, spec 1.5)', () => {
    const all = content({
      accessTokenId: 'at',
      trustId: UUID_A,
      federatedGroupIds: [],
      identityProviderId: 'idp',
      protocolId: 'p',
      appCredId: 'ac',
      thumbprint: 'tp',
      projectId: PROJECT,
      domainId: DOMAIN,
      system: 'all',
    });
    it('takes OAuth1, trust, federated, app cred, mTLS, project, domain, system, unscoped in that order', () => {
      const steps: [Partial<TokenContent>, PayloadVersion][] = [
        [{}, PayloadVersion.OauthScoped],
        [{ accessTokenId: null }, PayloadVersion.TrustScoped],
        [{ accessTokenId: null, trustId: null }, PayloadVersion.FederatedProjectScoped],
        [{ accessTokenId: null, trustId: null, projectId: null }, PayloadVersion.FederatedDomainScoped],
        [{ accessTokenId: null, trustId: null, projectId: null, domainId: null, system: null }, PayloadVersion.FederatedUnscoped],
        [{ accessTokenId: null, trustId: null, federatedGroupIds: null }, PayloadVersion.ApplicationCredentialScoped],
        [{ accessTokenId: null, trustId: null, federatedGroupIds: null, appCredId: null }, PayloadVersion.Oauth2CredentialsScoped],
        [{ accessTokenId: null, trustId: null, federatedGroupIds: null, appCredId: null, thumbprint: null }, PayloadVersion.ProjectScoped],
        [
          { accessTokenId: null, trustId: null, federatedGroupIds: null, appCredId: null, thumbprint: null, projectId: null },
          PayloadVersion.DomainScoped,
        ],
        [
          { accessTokenId: null, trustId: null, federatedGroupIds: null, appCredId: null, thumbprint: null, projectId: null, domainId: null },
          PayloadVersion.SystemScoped,
        ],
        [
          {
            accessTokenId: null, trustId: null, federatedGroupIds: null, appCredId: null, thumbprint: null,
            projectId: null, domainId: null, system: null,
          },
          PayloadVersion.Unscoped,
        ],
      ];
      for (const [overrides, version] of steps) {
        assert.equal(selectPayloadVersion({ ...all, ...overrides }), version, JSON.stringify(overrides));
      }
    });

    it('has no payload for a federated system-scoped token (Keystone fails too)', () => {
      assert.throws(
        () => selectPayloadVersion(content({ federatedGroupIds: [], identityProviderId: 'i', protocolId: 'p', system: 'all' })),
        TokenPayloadError,
      );
    });
  });

  describe('decoding', () => {
    const encoder = new Encoder();
    const u = (hex: string): Uint8Array => Buffer.from(hex, 'hex');
    const audit = [u('11111111111111111111111111111111')];
    const plain = (value: unknown): Buffer => Buffer.from(encoder.encode(value));

    it("rejects an unknown version with Keystone's message (11 is Keystone-NG's restricted token, known here)", () => {
      const error = assertThrows(() => codec.decodeToken(plain([12, [true, u(USER)], 2, 1767229200.5, audit]), ISSUED));
      assert.ok(error instanceof UnknownPayloadVersion);
      assert.equal(error.message, 'This is not a recognized Fernet payload version: 12');
    });

    it('reads UUID bytes stored as raw str by msgpack < 1.0 (spec 1.3)', () => {
      // 0xb0: fixstr of 16 bytes holding the raw UUID bytes, as old msgpack wrote Python 2 bytes.
      const oldFormat = Buffer.concat([
        u('950092c3b0'), u(USER), u('02cb41da5571c400000091b0'), u('11111111111111111111111111111111'),
      ]);
      const data = codec.decodeToken(oldFormat, ISSUED);
      assert.equal(data.userId, USER);
      assert.deepEqual(data.auditIds, ['EREREREREREREREREREREQ']);
    });

    it('accepts an integral expires_at packed as an int (what a naive encoder writes)', () => {
      const data = codec.decodeToken(plain([0, [true, u(USER)], 2, 1767229200, audit]), ISSUED);
      assert.deepEqual(data.expiresAt, new Date('2026-01-01T01:00:00Z'));
    });

    it('rounds expires_at to microseconds, half to even, before dropping them (Python datetime)', () => {
      const at = (f: number): string => codec.decodeToken(plain([0, [true, u(USER)], 2, f, audit]), ISSUED).expiresAt.toISOString();
      assert.equal(at(1767229200 + 0.9999994), '2026-01-01T01:00:00.000Z');
      assert.equal(at(1767229200 + 0.9999996), '2026-01-01T01:00:01.000Z');
      assert.equal(at(-0.5), '1969-12-31T23:59:59.000Z');
    });

    it('rejects malformed but authentic payloads', () => {
      const bad: unknown[] = [
        [0, [true, u(USER)], 2, 1767229200.5], // too short
        [0, [true, u(USER)], 2, 1767229200.5, audit, 'extra'], // too long
        [0, [true, u('0123')], 2, 1767229200.5, audit], // UUID bytes not 16
        [0, [false, null], 2, 1767229200.5, audit], // no user
        [0, [true, u(USER), 1], 2, 1767229200.5, audit], // not an ID tuple
        [0, [1, u(USER)], 2, 1767229200.5, audit], // flag not a bool
        [0, [false, u('ff')], 2, 1767229200.5, audit], // not UTF-8
        [0, [true, u(USER)], 'password', 1767229200.5, audit], // methods not an int
        [0, [true, u(USER)], 2, 'tomorrow', audit], // expires not a number
        [0, [true, u(USER)], 2, 1e12, audit], // expires past year 9999
        [0, [true, u(USER)], 2, 1767229200.5, 'audit'], // audit ids not a list
        [3, [true, u(USER)], 2, [true, u(PROJECT)], 1767229200.5, audit, 'x'], // trust not bytes
        'not an array',
        [],
      ];
      for (const value of bad) {
        assert.throws(() => codec.decodeToken(plain(value), ISSUED), MalformedPayload, JSON.stringify(value));
      }
      assert.throws(() => codec.decodeToken(Buffer.from('c1', 'hex'), ISSUED), MalformedPayload);
      assert.throws(() => codec.decodeToken(Buffer.concat([plain([0]), Buffer.from([0])]), ISSUED), MalformedPayload);
    });
  });

  describe('receipts', () => {
    it('round-trips a receipt: 3 elements, no version (spec 1.7)', () => {
      const receipt = { userId: USER, methods: ['password', 'totp'], expiresAt: new Date('2026-01-01T00:05:00Z') };
      const packed = codec.encodeReceipt(receipt);
      assert.equal(packed[0], 0x93);
      assert.deepEqual(codec.decodeReceipt(packed, ISSUED), { ...receipt, methods: ['totp', 'password'], issuedAt: ISSUED });
    });

    it('rejects a token payload as a receipt', () => {
      assert.throws(() => codec.decodeReceipt(codec.encodeToken(content({})), ISSUED), MalformedPayload);
    });
  });
});

function assertThrows(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected an exception');
}

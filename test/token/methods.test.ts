import assert from 'node:assert/strict';
import { AuthMethodCodec } from '../../src/token/methods.js';
import { DEFAULT_METHODS, METHODS_WITH_TOTP } from './fixtures.js';

describe('token/methods AuthMethodCodec', () => {
  const codec = new AuthMethodCodec(METHODS_WITH_TOTP);

  it('assigns bits in [auth] methods order (spec 1.4 table)', () => {
    const expected: [string, number][] = [
      ['external', 1],
      ['password', 2],
      ['token', 4],
      ['oauth1', 8],
      ['mapped', 16],
      ['application_credential', 32],
      ['totp', 64],
    ];
    for (const [method, bit] of expected) {
      assert.equal(codec.encode([method]), bit, method);
      assert.deepEqual(codec.decode(bit), [method]);
    }
  });

  it('decodes highest bit first', () => {
    assert.deepEqual(codec.decode(codec.encode(['password', 'token'])), ['token', 'password']);
    assert.deepEqual(codec.decode(66), ['totp', 'password']);
    assert.deepEqual(codec.decode(0), []);
  });

  it('depends on the configured order', () => {
    const reordered = new AuthMethodCodec(['password', 'external']);
    assert.equal(reordered.encode(['password']), 1);
    assert.deepEqual(reordered.decode(2), ['external']);
  });

  it('drops unconfigured methods and counts a repeated method twice, as Keystone does', () => {
    assert.equal(new AuthMethodCodec(DEFAULT_METHODS).encode(['password', 'totp']), 2);
    assert.equal(codec.encode(['password', 'password']), 4);
  });

  it('has fixed bits 2^32 and 2^33 for ec2credential and oauth2_credential, beyond 32-bit arithmetic', () => {
    assert.equal(codec.encode(['ec2credential']), 2 ** 32);
    assert.equal(codec.encode(['oauth2_credential']), 2 ** 33);
    const mask = codec.encode(['ec2credential', 'oauth2_credential', 'password']);
    assert.equal(mask, 2 ** 33 + 2 ** 32 + 2);
    assert.deepEqual(codec.decode(mask), ['oauth2_credential', 'ec2credential', 'password']);
  });

  it("keeps Keystone's int(n / bit) == 1 quirk: an unknown high bit hides every bit below it", () => {
    // 128 is not configured: int(130 / 64) == 2, int(130 / 2) == 65, ... nothing matches.
    assert.deepEqual(codec.decode(128 + 2), []);
    assert.deepEqual(codec.decode(-2), []);
  });

  it('lets a configured method past bit 31 work (no 32-bit wrap-around)', () => {
    const many = Array.from({ length: 33 }, (_, i) => `m${i}`);
    const wide = new AuthMethodCodec(many);
    assert.equal(wide.encode(['m31']), 2 ** 31);
    assert.deepEqual(wide.decode(2 ** 31 + 1), ['m31', 'm0']);
    // The 33rd method would take 2^32, which the pseudo-method overrides, as dict.update does.
    assert.deepEqual(wide.decode(2 ** 32), ['ec2credential']);
  });
});

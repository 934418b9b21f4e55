import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { InvalidFernetToken } from '../../src/token/errors.js';
import { MultiFernet, generateFernetKey } from '../../src/token/fernet.js';
import { readJson } from './fixtures.js';
import type { AppendixA } from './fixtures.js';

const appendix = readJson<AppendixA>('appendix-a.json');
const KEY_1 = Buffer.from(appendix.keys['1'] as string, 'base64');
const KEY_0 = Buffer.from(appendix.keys['0'] as string, 'base64');
const IV = Buffer.from(appendix.iv, 'hex');

/** A raw Fernet token from parts, built independently of the implementation under test. */
function rawToken(key: Buffer, parts: { version?: number; timestamp?: number; iv?: Buffer; ciphertext: Buffer }): string {
  const header = Buffer.alloc(25);
  header[0] = parts.version ?? 0x80;
  header.writeBigUInt64BE(BigInt(parts.timestamp ?? 1767225600), 1);
  (parts.iv ?? IV).copy(header, 9);
  const signed = Buffer.concat([header, parts.ciphertext]);
  const mac = createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
  return Buffer.concat([signed, mac]).toString('base64url');
}

function cbc(key: Buffer, plaintext: Buffer, autoPadding = true): Buffer {
  const cipher = createCipheriv('aes-128-cbc', key.subarray(16), IV);
  cipher.setAutoPadding(autoPadding);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

function rejects(fernet: MultiFernet, token: unknown): void {
  assert.throws(() => fernet.decrypt(token as string), InvalidFernetToken);
}

describe('token/fernet MultiFernet', () => {
  const fernet = new MultiFernet([KEY_1, KEY_0]);

  it('reproduces the Fernet container of Appendix A from the same parts', () => {
    const first = appendix.tokens[0];
    assert.ok(first);
    const token = fernet.encrypt(Buffer.from(first.msgpack, 'hex'), {
      timestamp: appendix.timestamp,
      iv: IV,
      padding: false,
    });
    assert.equal(token, first.token);
  });

  it('round-trips plaintexts of every length around the block size, with the timestamp', () => {
    for (let length = 0; length <= 100; length += 1) {
      const plaintext = randomBytes(length);
      const token = fernet.encrypt(plaintext, { timestamp: 1767225600 + length });
      const opened = fernet.decrypt(token);
      assert.deepEqual(opened.plaintext, plaintext, `length ${length}`);
      assert.equal(opened.timestamp, 1767225600 + length);
    }
  });

  it('decrypts what an independent AES-CBC + HMAC construction made, at every length', () => {
    for (let length = 0; length <= 64; length += 1) {
      const plaintext = randomBytes(length);
      const token = rawToken(KEY_0, { ciphertext: cbc(KEY_0, plaintext) });
      assert.deepEqual(fernet.decrypt(token).plaintext, plaintext, `length ${length}`);
    }
  });

  it('keeps the = padding by default (credential blobs) and strips it on request (tokens)', () => {
    const plaintext = Buffer.from('credential blob');
    const padded = fernet.encrypt(plaintext);
    const stripped = fernet.encrypt(plaintext, { padding: false });
    assert.equal(padded.length % 4, 0);
    assert.match(padded, /=$/);
    assert.doesNotMatch(stripped, /=/);
    assert.match(stripped, /^gAAAAA/);
    assert.deepEqual(fernet.decrypt(padded).plaintext, plaintext);
    assert.deepEqual(fernet.decrypt(stripped).plaintext, plaintext);
  });

  it('encrypts with the first key and decrypts with any key of the list', () => {
    const token = fernet.encrypt(Buffer.from('x'));
    assert.deepEqual(new MultiFernet([KEY_1]).decrypt(token).plaintext, Buffer.from('x'));
    rejects(new MultiFernet([KEY_0]), token);
    const older = new MultiFernet([KEY_0]).encrypt(Buffer.from('y'));
    assert.deepEqual(fernet.decrypt(older).plaintext, Buffer.from('y'));
  });

  it('encodes the timestamp as a 64-bit big-endian integer', () => {
    const timestamp = 2 ** 40 + 5;
    const token = fernet.encrypt(Buffer.from('t'), { timestamp });
    assert.equal(Buffer.from(token, 'base64url').readBigUInt64BE(1), BigInt(timestamp));
    assert.equal(fernet.decrypt(token).timestamp, timestamp);
  });

  it('rejects a token whose HMAC does not match: a key not in the list, any flipped byte', () => {
    const token = fernet.encrypt(Buffer.from('some payload'), { padding: false });
    rejects(new MultiFernet([randomBytes(32)]), token);
    const bytes = Buffer.from(token, 'base64url');
    for (let i = 1; i < bytes.length; i += 1) {
      const tampered = Buffer.from(bytes);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      rejects(fernet, tampered.toString('base64url'));
    }
  });

  it('rejects a version byte other than 0x80, even with a valid HMAC', () => {
    rejects(fernet, rawToken(KEY_1, { version: 0x81, ciphertext: cbc(KEY_1, Buffer.from('x')) }));
  });

  it('rejects bad PKCS7 padding, even with a valid HMAC', () => {
    const block = Buffer.alloc(16, 0x41);
    const lastByte = (pad: number): Buffer => Buffer.concat([block.subarray(0, 15), Buffer.from([pad])]);
    rejects(fernet, rawToken(KEY_1, { ciphertext: cbc(KEY_1, lastByte(0), false) }));
    rejects(fernet, rawToken(KEY_1, { ciphertext: cbc(KEY_1, lastByte(17), false) }));
    const inconsistent = Buffer.alloc(16, 0x03);
    inconsistent[14] = 0x02;
    rejects(fernet, rawToken(KEY_1, { ciphertext: cbc(KEY_1, inconsistent, false) }));
    // And the well-formed counterpart is accepted, so the rejections above are about the padding.
    const good = Buffer.concat([Buffer.alloc(13, 0x41), Buffer.alloc(3, 0x03)]);
    assert.deepEqual(fernet.decrypt(rawToken(KEY_1, { ciphertext: cbc(KEY_1, good, false) })).plaintext, Buffer.alloc(13, 0x41));
  });

  it('rejects bad lengths: no ciphertext block, a partial block, truncated, too short', () => {
    rejects(fernet, rawToken(KEY_1, { ciphertext: Buffer.alloc(0) }));
    rejects(fernet, rawToken(KEY_1, { ciphertext: randomBytes(17) }));
    const token = fernet.encrypt(Buffer.from('x'), { padding: false });
    rejects(fernet, token.slice(0, -4));
    rejects(fernet, token.slice(0, 20));
    rejects(fernet, '');
  });

  it('rejects text that is not urlsafe base64', () => {
    const token = fernet.encrypt(Buffer.from('x'), { padding: false });
    // Standard base64's + and / in place of one character (a random token need not contain - or _).
    rejects(fernet, `${token.slice(0, 10)}+${token.slice(11)}`);
    rejects(fernet, `${token.slice(0, 10)}/${token.slice(11)}`);
    rejects(fernet, `${token.slice(0, 10)}.${token.slice(10)}`);
    rejects(fernet, `${token} `);
    rejects(fernet, `${token}\n`);
    rejects(fernet, `${token.slice(0, 10)}=${token.slice(10)}`);
    rejects(fernet, `${token}===`);
    rejects(fernet, undefined);
    rejects(fernet, 42);
  });

  it('rejects 4n+1 characters, which Node would decode by dropping the last one', () => {
    // 40 bytes of plaintext → 48 of ciphertext → 105 bytes of token → 140 chars (a multiple of 4).
    const token = fernet.encrypt(randomBytes(40), { padding: false });
    assert.equal(token.length % 4, 0);
    rejects(fernet, `${token}A`);
  });

  it('accepts a padded token with its padding stripped and restored', () => {
    const token = fernet.encrypt(Buffer.from('abc'));
    assert.deepEqual(fernet.decrypt(token.replace(/=+$/, '')).plaintext, Buffer.from('abc'));
  });

  it('refuses keys that are not 32 bytes, an empty key list, bad IVs and timestamps', () => {
    assert.throws(() => new MultiFernet([]), RangeError);
    assert.throws(() => new MultiFernet([randomBytes(16)]), RangeError);
    assert.throws(() => fernet.encrypt(Buffer.from('x'), { iv: randomBytes(8) }), RangeError);
    assert.throws(() => fernet.encrypt(Buffer.from('x'), { timestamp: -1 }), RangeError);
    assert.throws(() => fernet.encrypt(Buffer.from('x'), { timestamp: 1.5 }), RangeError);
  });

  it('does not depend on the caller keeping its key buffers intact', () => {
    const key = Buffer.from(KEY_1);
    const own = new MultiFernet([key]);
    const token = own.encrypt(Buffer.from('x'));
    key.fill(0);
    assert.deepEqual(own.decrypt(token).plaintext, Buffer.from('x'));
  });
});

describe('token/fernet generateFernetKey', () => {
  it('writes keys as Keystone does: 44 characters of urlsafe base64 with padding, 32 random bytes', () => {
    const a = generateFernetKey();
    const b = generateFernetKey();
    assert.match(a, /^[A-Za-z0-9_-]{43}=$/);
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(a, b);
  });
});

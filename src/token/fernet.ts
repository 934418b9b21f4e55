/**
 * Fernet (https://github.com/fernet/spec) as `cryptography.fernet.MultiFernet` does it, on
 * node:crypto. Spec 1.1 describes the container:
 *
 *   0x80 ‖ timestamp (uint64 BE) ‖ IV (16) ‖ AES-128-CBC(PKCS7(plaintext)) ‖ HMAC-SHA256 (32)
 *
 * with key = signing key (16) ‖ encryption key (16). The `fernet` npm package cannot be used: it
 * insists on the `=` padding that Keystone strips.
 *
 * Validation is on the hot path of every API call, so the per-key material is prepared once, and
 * decryption reuses one AES context per key (see {@link FernetKey.decryptCbc}).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Decipher } from 'node:crypto';
import { InvalidFernetToken } from './errors.js';

const VERSION = 0x80;
const BLOCK = 16;
const HEADER = 1 + 8 + BLOCK; // version, timestamp, IV
const MAC = 32;
/** Version, timestamp, IV, one ciphertext block (PKCS7 always pads), HMAC. */
const MIN_TOKEN_BYTES = HEADER + BLOCK + MAC;
const TWO_POW_32 = 2 ** 32;

/** urlsafe base64, with or without the `=` padding that Keystone strips (spec 1.1). */
const TOKEN_TEXT = /^[A-Za-z0-9_-]+={0,2}$/;

export interface FernetEncryptOptions {
  /** Fernet timestamp, seconds since the epoch; default now. Keystone's `issued_at` comes from it. */
  timestamp?: number;
  /** 16-byte IV; default random. Fixed only to reproduce test vectors. */
  iv?: Buffer;
  /**
   * Keep the base64 `=` padding (the Fernet spec's format). Default true. Keystone strips it from
   * tokens and receipts but stores credential blobs with it (spec 1.1, 5.11).
   */
  padding?: boolean;
}

export interface FernetDecrypted {
  plaintext: Buffer;
  /** The Fernet timestamp, seconds since the epoch. Never checked here: Keystone passes no TTL. */
  timestamp: number;
}

/** A random key in the form Keystone writes to a key file: 44 chars of urlsafe base64 with `=`. */
export function generateFernetKey(): string {
  return randomBytes(32).toString('base64url') + '=';
}

/** One 32-byte key, split and prepared for repeated use. */
class FernetKey {
  readonly signingKey: Buffer;
  readonly encryptionKey: Buffer;
  /**
   * AES-128-ECB without padding, never finalized: with input that is a whole number of blocks,
   * `update()` is a stateless block decryption, so one context serves every token. CBC is applied
   * on top in {@link decryptCbc}. Creating a CBC decipher per token costs ~3x more than the whole
   * decryption. Safe only because every ciphertext length is checked to be a multiple of 16 before
   * it gets here (a partial block would stay buffered in the context).
   */
  readonly #blockDecipher: Decipher;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError(`A Fernet key is 32 bytes, got ${key.length}`);
    // Copies: the caller's buffer may be reused; these live as long as the key is in use.
    this.signingKey = Buffer.from(key.subarray(0, 16));
    this.encryptionKey = Buffer.from(key.subarray(16, 32));
    this.#blockDecipher = createDecipheriv('aes-128-ecb', this.encryptionKey, null);
    this.#blockDecipher.setAutoPadding(false);
  }

  mac(signed: Buffer): Buffer {
    return createHmac('sha256', this.signingKey).update(signed).digest();
  }

  /** AES-128-CBC decryption and PKCS7 unpadding; `null` on bad padding. */
  decryptCbc(iv: Buffer, ciphertext: Buffer): Buffer | null {
    const out = this.#blockDecipher.update(ciphertext);
    // CBC: P[i] = D(C[i]) XOR C[i-1], with C[-1] = IV. Backwards, so `ciphertext` stays intact.
    for (let i = out.length - 1; i >= BLOCK; i -= 1) out[i] = (out[i] as number) ^ (ciphertext[i - BLOCK] as number);
    for (let i = 0; i < BLOCK; i += 1) out[i] = (out[i] as number) ^ (iv[i] as number);
    // The HMAC has already authenticated the ciphertext, so a padding check cannot be an oracle.
    const pad = out[out.length - 1] as number;
    if (pad < 1 || pad > BLOCK) return null;
    for (let i = out.length - pad; i < out.length; i += 1) {
      if (out[i] !== pad) return null;
    }
    return out.subarray(0, out.length - pad);
  }
}

/**
 * Fernet over an ordered key list, as Keystone builds it from its key repository: the first key
 * (the primary) encrypts, every key is tried in order to decrypt (spec 1.2).
 */
export class MultiFernet {
  readonly #keys: readonly FernetKey[];

  /** @param keys 32-byte keys, primary first. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new RangeError('MultiFernet needs at least one key');
    this.#keys = keys.map((key) => new FernetKey(key));
  }

  get size(): number {
    return this.#keys.length;
  }

  encrypt(plaintext: Buffer, opts: FernetEncryptOptions = {}): string {
    const key = this.#keys[0] as FernetKey;
    const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new RangeError(`A Fernet timestamp is a non-negative integer, got ${timestamp}`);
    }
    const iv = opts.iv ?? randomBytes(BLOCK);
    if (iv.length !== BLOCK) throw new RangeError(`A Fernet IV is 16 bytes, got ${iv.length}`);

    const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const token = Buffer.allocUnsafe(HEADER + ciphertext.length + MAC);
    token[0] = VERSION;
    token.writeUInt32BE(Math.floor(timestamp / TWO_POW_32), 1);
    token.writeUInt32BE(timestamp % TWO_POW_32, 5);
    iv.copy(token, 9);
    ciphertext.copy(token, HEADER);
    const signedLength = HEADER + ciphertext.length;
    key.mac(token.subarray(0, signedLength)).copy(token, signedLength);

    const text = token.toString('base64url');
    return opts.padding === false ? text : text + '='.repeat((4 - (text.length % 4)) % 4);
  }

  /** @throws InvalidFernetToken whatever is wrong with the token. */
  decrypt(token: string): FernetDecrypted {
    if (typeof token !== 'string' || !TOKEN_TEXT.test(token)) throw new InvalidFernetToken();
    // 4n+1 characters cannot be base64 (Python's decoder refuses them too); Node would silently
    // drop the last character, making a second spelling of a valid token.
    let chars = token.length;
    while (token.charCodeAt(chars - 1) === 0x3d /* = */) chars -= 1;
    if (chars % 4 === 1) throw new InvalidFernetToken();
    const data = Buffer.from(token, 'base64url');
    const length = data.length;
    if (length < MIN_TOKEN_BYTES || (length - HEADER - MAC) % BLOCK !== 0 || data[0] !== VERSION) {
      throw new InvalidFernetToken();
    }
    const signed = data.subarray(0, length - MAC);
    const mac = data.subarray(length - MAC);
    for (const key of this.#keys) {
      // Verify before decrypting, in constant time (the Fernet spec's order).
      if (!timingSafeEqual(key.mac(signed), mac)) continue;
      const plaintext = key.decryptCbc(data.subarray(9, HEADER), data.subarray(HEADER, length - MAC));
      if (plaintext === null) throw new InvalidFernetToken();
      const timestamp = data.readUInt32BE(1) * TWO_POW_32 + data.readUInt32BE(5);
      return { plaintext, timestamp };
    }
    throw new InvalidFernetToken();
  }
}

/**
 * Password hashing and verification, compatible with Keystone (spec 5.5 and 6.1).
 *
 * Writes like Keystone 2026: `[identity] password_hash_algorithm` picks bcrypt (the default),
 * bcrypt_sha256, scrypt or pbkdf2_sha512. Reads every format Keystone writes or has written,
 * including glibc SHA-512 crypt (`$6$`, Zed/passlib only) so that a database shared with an
 * older Keystone keeps working. Key derivation never runs on the event loop: bcrypt in the
 * `bcrypt` package's native async workers and scrypt and PBKDF2 in node:crypto's (both on
 * libuv's thread pool), `$6$` in a worker thread.
 *
 * Nothing here logs: its inputs are passwords and password hashes.
 */
import { createHmac, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcrypt';
import { ForbiddenNotSecurity, ValidationError } from '../common/errors.js';
import { parseSha512CryptHash, sha512CryptChecksumOffThread } from './sha512-crypt.js';

export type PasswordHashAlgorithm = 'bcrypt' | 'bcrypt_sha256' | 'scrypt' | 'pbkdf2_sha512';

/** Keystone's options, same names in camelCase; `null`, `undefined` and 0 all mean "default". */
export interface PasswordHashOptions {
  /** `[identity] password_hash_algorithm`: the format of new hashes (verification reads all). */
  algorithm: PasswordHashAlgorithm;
  /**
   * `[identity] password_hash_rounds`: log2 cost for bcrypt and bcrypt_sha256 (4–31, default 12),
   * iterations for pbkdf2_sha512 (default 25000). Ignored for scrypt: 2026 always writes ln=16
   * (Zed/passlib used it as ln; we write like 2026).
   */
  rounds?: number | null;
  /** `[identity] salt_bytesize`: salt bytes for scrypt and pbkdf2_sha512 (1–96, default 16). */
  saltBytesize?: number | null;
  /** `[identity] scrypt_block_size`: scrypt r (default 8). */
  scryptBlockSize?: number | null;
  /** `[identity] scrypt_parallelism`: scrypt p (default 1). */
  scryptParallelism?: number | null;
  /** `[identity] max_password_length`, in UTF-8 bytes (Keystone: 4096). */
  maxPasswordLength: number;
  /** `[DEFAULT] strict_password_check`: reject over-long passwords instead of truncating them. */
  strictPasswordCheck: boolean;
}

/** Keystone's PasswordVerificationError: a too-long password with strict_password_check (403). */
export class PasswordVerificationError extends ForbiddenNotSecurity {
  constructor(readonly size: number) {
    super(
      `The password length must be less than or equal to ${size}. ` +
        'The server could not comply with the request because the password is invalid.',
    );
  }
}

/** bcrypt keys are at most 72 bytes; everything after is ignored by the algorithm (spec 5.5). */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;

const BCRYPT_DEFAULT_COST = 12;
const BCRYPT_MIN_COST = 4;
const BCRYPT_MAX_COST = 31;
const PBKDF2_SHA512_DEFAULT_ROUNDS = 25_000;
const PBKDF2_SHA512_MAX_ROUNDS = 0xffff_ffff; // passlib's bound
const PBKDF2_SHA512_KEY_BYTES = 64;
/** 2026 always writes ln=16 (N = 65536), whatever password_hash_rounds says. */
const SCRYPT_WRITE_LOG2_N = 16;
const SCRYPT_DEFAULT_BLOCK_SIZE = 8;
const SCRYPT_DEFAULT_PARALLELISM = 1;
const SCRYPT_MAX_LOG2_N = 31; // passlib's bound
const SCRYPT_KEY_BYTES = 32;
/**
 * scrypt needs 128·r·(N + p + 2) bytes. Keystone's own hashes need 64 MiB; a stored hash that
 * would need more than this is refused rather than allowed to exhaust the host's memory.
 */
const SCRYPT_VERIFY_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const DEFAULT_SALT_BYTES = 16;
const MAX_SALT_BYTES = 96; // Keystone's salt_bytesize bound (the hash column is 255 characters)

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Hashes `password` in the configured format, after Keystone's length rules (spec 5.5). */
export async function hashPassword(password: string, opts: PasswordHashOptions): Promise<string> {
  assertPassword(password);
  const policy = lengthPolicy(opts);
  if (LONE_SURROGATE.test(password)) {
    // Python's str.encode('utf-8') raises on these (a 500 in Keystone); Buffer.from would
    // silently turn them into U+FFFD, making distinct passwords collide. Refuse instead.
    throw new ValidationError(PASSWORD_NOT_A_STRING_MESSAGE);
  }
  // Truncated to the policy limit, i.e. to 72 bytes under bcrypt, before hashing (Keystone).
  const secret = encodePassword(password, policy, policy.limit);

  switch (opts.algorithm) {
    case 'bcrypt':
      return writeBcrypt(secret, bcryptCost(opts.rounds));
    case 'bcrypt_sha256':
      return writeBcryptSha256(secret, bcryptCost(opts.rounds));
    case 'scrypt':
      return writeScrypt(secret, opts);
    case 'pbkdf2_sha512':
      return writePbkdf2Sha512(secret, opts);
  }
}

/**
 * Whether `password` matches the stored `hash`, in any format Keystone has written.
 *
 * Keystone raises ValueError (a 500) for an unknown prefix and various exceptions for garbled
 * hashes. Here bad stored data (unknown prefix, malformed fields, parameters out of range, a
 * non-string from a NULL column) verifies as `false`: no password matches it, and a user row
 * with a broken hash should fail like a wrong password, not take down the request. Programming
 * errors (a non-string password, invalid options) still throw, and a too-long password with
 * strict_password_check throws PasswordVerificationError, as in Keystone.
 */
export async function verifyPassword(password: string, hash: string, opts: PasswordHashOptions): Promise<boolean> {
  assertPassword(password);
  const policy = lengthPolicy(opts);
  // No hash can have been written for a password that cannot be encoded (see hashPassword).
  if (LONE_SURROGATE.test(password)) return false;
  // The strict check uses Keystone's limit (72 under bcrypt). Silent truncation here only goes
  // to max_password_length, and the bcrypt (`$2*$`) verifier takes the first 72 bytes itself.
  // That equals Keystone for every hash the configured algorithm can have written, and does
  // better for hashes written under an earlier configuration: Keystone configured for bcrypt
  // cuts a 100-byte password to 72 bytes before checking an old pbkdf2 or `$6$` hash, so the
  // real password can never match it; here it does.
  const secret = encodePassword(password, policy, opts.maxPasswordLength);

  if (typeof hash !== 'string') return false;
  const stored = parseStoredHash(hash);
  if (stored === undefined) return false;
  switch (stored.kind) {
    case 'bcrypt':
      return verifyBcrypt(secret, stored);
    case 'bcrypt_sha256':
      return verifyBcryptSha256(secret, stored);
    case 'scrypt':
      return verifyScrypt(secret, stored);
    case 'pbkdf2_sha512':
      return verifyPbkdf2Sha512(secret, stored);
    case 'sha512_crypt':
      return verifySha512Crypt(secret, stored);
  }
}

// ---------------------------------------------------------------------------------------------
// Length rules (spec 5.5; Keystone's verify_length_and_trunc_password)
// ---------------------------------------------------------------------------------------------

const ALGORITHMS: ReadonlySet<string> = new Set<PasswordHashAlgorithm>(['bcrypt', 'bcrypt_sha256', 'scrypt', 'pbkdf2_sha512']);

/** Matches an unpaired UTF-16 surrogate (with the `u` flag, paired ones are one code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Keystone's ValidationError(attribute='string', target='password'). */
const PASSWORD_NOT_A_STRING_MESSAGE =
  'Expecting to find string in password. The server could not comply with the request since it is either ' +
  'malformed or otherwise incorrect. The client is assumed to be in error.';

interface LengthPolicy {
  /** Keystone's limit in bytes: max_password_length, but at most 72 when the algorithm is bcrypt. */
  limit: number;
  strict: boolean;
}

function assertPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
}

function lengthPolicy(opts: PasswordHashOptions): LengthPolicy {
  if (!ALGORITHMS.has(opts.algorithm)) {
    throw new RangeError(`unknown password hash algorithm ${JSON.stringify(opts.algorithm)}`);
  }
  if (!Number.isSafeInteger(opts.maxPasswordLength) || opts.maxPasswordLength < 1) {
    throw new RangeError('maxPasswordLength must be a positive integer');
  }
  if (typeof opts.strictPasswordCheck !== 'boolean') throw new TypeError('strictPasswordCheck must be a boolean');
  // Keystone lowers the limit only when the *configured* algorithm is bcrypt: bcrypt ignores
  // bytes past 72, so accepting them would let a user believe they matter.
  const limit =
    opts.algorithm === 'bcrypt' ? Math.min(opts.maxPasswordLength, BCRYPT_MAX_PASSWORD_BYTES) : opts.maxPasswordLength;
  return { limit, strict: opts.strictPasswordCheck };
}

/**
 * The password's UTF-8 bytes: over `policy.limit` throws with strict_password_check, otherwise
 * the bytes are cut to `truncateTo`. Keystone measures and cuts bytes, not characters, and so do
 * we: a cut may split a multi-byte character, which is harmless because the bytes are never
 * decoded again.
 */
function encodePassword(password: string, policy: LengthPolicy, truncateTo: number): Buffer {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > policy.limit && policy.strict) throw new PasswordVerificationError(policy.limit);
  return bytes.length > truncateTo ? bytes.subarray(0, truncateTo) : bytes;
}

// ---------------------------------------------------------------------------------------------
// Writing: parameters
// ---------------------------------------------------------------------------------------------

/** Keystone tests these options for truthiness, so 0 selects the default like null does. */
function explicitSetting(value: number | null | undefined): number | undefined {
  return value === null || value === undefined || value === 0 ? undefined : value;
}

function integerInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

function bcryptCost(rounds: number | null | undefined): number {
  const cost = explicitSetting(rounds);
  return cost === undefined ? BCRYPT_DEFAULT_COST : integerInRange('rounds', cost, BCRYPT_MIN_COST, BCRYPT_MAX_COST);
}

function saltBytes(opts: PasswordHashOptions): number {
  const size = explicitSetting(opts.saltBytesize);
  return size === undefined ? DEFAULT_SALT_BYTES : integerInRange('saltBytesize', size, 1, MAX_SALT_BYTES);
}

// ---------------------------------------------------------------------------------------------
// Parsing stored hashes
// ---------------------------------------------------------------------------------------------

type BcryptIdent = '2' | '2a' | '2b' | '2x' | '2y';

type StoredHash =
  | { kind: 'bcrypt'; ident: BcryptIdent; cost: number; salt: Buffer; digest: string }
  | { kind: 'bcrypt_sha256'; cost: number; saltText: string; salt: Buffer; digest: string }
  | { kind: 'scrypt'; log2N: number; blockSize: number; parallelism: number; salt: Buffer; key: Buffer }
  | { kind: 'pbkdf2_sha512'; rounds: number; salt: Buffer; key: Buffer }
  | { kind: 'sha512_crypt'; rounds: number; salt: string; checksum: string };

/**
 * bcrypt modular crypt: `$<ident>$<2-digit cost>$<22-char salt><31-char digest>`. The cost must
 * be two digits, as passlib requires (C bcrypt's atoi() would also take `+4`).
 */
const BCRYPT_PATTERN = /^\$(2|2a|2b|2x|2y)\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

/**
 * passlib's bcrypt_sha256 v2 (`$bcrypt-sha256$v=2,t=2b,r=12$<salt>$<digest>`), the only variant
 * Keystone writes. Rounds are not zero-padded (passlib writes `r=4` and rejects `r=04`). The v1
 * format (`$bcrypt-sha256$2a,12$...`, plain SHA-256, passlib < 1.7.3) was never written by
 * Keystone and 2026 cannot read it either; it verifies as false.
 */
const BCRYPT_SHA256_PATTERN = /^\$bcrypt-sha256\$v=2,t=2b,r=([1-9][0-9]?)\$([./A-Za-z0-9]{22})\$([./A-Za-z0-9]{31})$/;

/**
 * passlib's scrypt: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>`, unpadded base64. 2026 maps
 * `.` to `+` before decoding, so we accept both. The key is always 32 bytes (43 characters).
 * passlib's other scrypt ident, `$7$`, was never written by Keystone and 2026 cannot read it.
 */
const SCRYPT_PATTERN = /^\$scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,10}),p=([0-9]{1,10})\$([A-Za-z0-9+/.]*)\$([A-Za-z0-9+/.]{43})$/;

/**
 * `$pbkdf2-sha512$<rounds>$<salt>$<key>`: passlib writes "ab64" (`.` for `+`), 2026 writes
 * standard base64, both unpadded; both read either. The key is always 64 bytes (86 characters).
 */
const PBKDF2_SHA512_PATTERN = /^\$pbkdf2-sha512\$([0-9]{1,10})\$([A-Za-z0-9+/.]*)\$([A-Za-z0-9+/.]{86})$/;

function parseStoredHash(stored: string): StoredHash | undefined {
  let match: RegExpExecArray | null;
  if ((match = BCRYPT_PATTERN.exec(stored))) {
    const [, ident = '', costText = '', saltText = '', digest = ''] = match;
    const cost = Number(costText);
    if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) return undefined;
    return { kind: 'bcrypt', ident: ident as BcryptIdent, cost, salt: decodeBcryptSalt(saltText), digest };
  }
  if ((match = BCRYPT_SHA256_PATTERN.exec(stored))) {
    const [, costText = '', saltText = '', digest = ''] = match;
    const cost = Number(costText);
    if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) return undefined;
    return { kind: 'bcrypt_sha256', cost, saltText, salt: decodeBcryptSalt(saltText), digest };
  }
  if ((match = SCRYPT_PATTERN.exec(stored))) {
    const [, log2NText = '', blockSizeText = '', parallelismText = '', saltText = '', keyText = ''] = match;
    const log2N = Number(log2NText);
    const blockSize = Number(blockSizeText);
    const parallelism = Number(parallelismText);
    const salt = decodeUnpaddedBase64(saltText);
    const key = decodeUnpaddedBase64(keyText);
    if (salt === undefined || key === undefined || key.length !== SCRYPT_KEY_BYTES) return undefined;
    if (log2N < 1 || log2N > SCRYPT_MAX_LOG2_N || blockSize < 1 || parallelism < 1) return undefined;
    // scrypt's own constraint (RFC 7914 section 2): p ≤ (2^32 − 1)·32 / (128·r), which
    // OpenSSL enforces as r·p < 2^30.
    if (blockSize * parallelism >= 2 ** 30) return undefined;
    if (scryptMemoryBytes(log2N, blockSize, parallelism) > SCRYPT_VERIFY_MAX_MEMORY_BYTES) return undefined;
    return { kind: 'scrypt', log2N, blockSize, parallelism, salt, key };
  }
  if ((match = PBKDF2_SHA512_PATTERN.exec(stored))) {
    const [, roundsText = '', saltText = '', keyText = ''] = match;
    const rounds = Number(roundsText);
    const salt = decodeUnpaddedBase64(saltText);
    const key = decodeUnpaddedBase64(keyText);
    if (salt === undefined || key === undefined || key.length !== PBKDF2_SHA512_KEY_BYTES) return undefined;
    if (rounds < 1 || rounds > PBKDF2_SHA512_MAX_ROUNDS) return undefined;
    return { kind: 'pbkdf2_sha512', rounds, salt, key };
  }
  const sha512Crypt = parseSha512CryptHash(stored);
  if (sha512Crypt) return { kind: 'sha512_crypt', ...sha512Crypt };
  return undefined;
}

/** bcrypt's base64: standard bit order, its own alphabet, no padding. */
const BCRYPT_BASE64_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BCRYPT_SALT_BYTES = 16;

/**
 * bcrypt's base64 of `bytes`; 16 salt bytes give 22 characters, the last one's 4 unused bits
 * zero (the canonical form).
 */
function encodeBcryptBase64(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let bitCount = 0;
  for (const byte of bytes) {
    bits = (bits << 8) | byte;
    bitCount += 8;
    while (bitCount >= 6) {
      bitCount -= 6;
      out += BCRYPT_BASE64_ALPHABET.charAt((bits >>> bitCount) & 0x3f);
    }
    bits &= (1 << bitCount) - 1;
  }
  if (bitCount > 0) out += BCRYPT_BASE64_ALPHABET.charAt((bits << (6 - bitCount)) & 0x3f);
  return out;
}

/**
 * The 16 salt bytes of a 22-character bcrypt salt. The last character carries 4 unused bits;
 * like OpenBSD's decoder (and passlib) we ignore them, so old hashes whose writers set those
 * bits (passlib issue 25) still verify.
 */
function decodeBcryptSalt(text: string): Buffer {
  const out = Buffer.alloc(BCRYPT_SALT_BYTES);
  let bits = 0;
  let bitCount = 0;
  let offset = 0;
  for (const character of text) {
    bits = (bits << 6) | BCRYPT_BASE64_ALPHABET.indexOf(character);
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      if (offset < BCRYPT_SALT_BYTES) out[offset++] = (bits >>> bitCount) & 0xff;
    }
    bits &= (1 << bitCount) - 1;
  }
  return out;
}

/**
 * Unpadded base64 with `.` accepted for `+` (passlib's "ab64"). The caller's pattern already
 * restricts the alphabet; a length that leaves a lone 6-bit group encodes no whole byte, and
 * Python's decoder rejects it too.
 */
function decodeUnpaddedBase64(text: string): Buffer | undefined {
  if (text.length % 4 === 1) return undefined;
  return Buffer.from(text.replaceAll('.', '+'), 'base64');
}

function encodeUnpaddedBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

// ---------------------------------------------------------------------------------------------
// bcrypt and bcrypt_sha256
// ---------------------------------------------------------------------------------------------

/**
 * The 31-character digest bcrypt computes for `key` under a raw salt and cost. We recompute and
 * compare ourselves instead of calling the library's `compare`, so that the comparison is ours
 * (constant time; the library's uses strcmp), the stored string is parsed as strictly as
 * passlib does, and `$2$` and salts with stray padding bits work.
 *
 * The `bcrypt` package takes its salt only as a `$2b$NN$<22 characters>` string, so the 16 raw
 * bytes are re-encoded canonically: a stored salt whose last character has its 4 unused bits
 * set (passlib issue 25) is given to the library without them, and the digest is the same
 * because bcrypt never reads those bits.
 *
 * The key is hashed by length, NUL bytes included: the package copies a Buffer into a
 * std::string and passes its data and length to OpenBSD's bcrypt(), which, for `$2b$`, takes
 * min(length, 72) bytes plus the terminating NUL and cycles through them (test/identity checks
 * this against digests @node-rs/bcrypt wrote). So "a\0b" is not "a", unlike C implementations
 * that take strlen(); but a key and its NUL-joined repetitions ("a", "a\0a", "a\0a\0a") give
 * the same digest, as "", "\0" and "\0\0" do, since each is cycled with a NUL after it.
 *
 * The `$2a$`, `$2b$`, `$2x$` and `$2y$` variants differ only for inputs over 255 bytes
 * (OpenBSD's 2a wraparound) or in crypt_blowfish's 8-bit bug (`$2x$`); our keys are at most 72
 * bytes, so they all use the 2b computation. Genuine `$2x$` hashes of non-ASCII passwords were
 * made with the sign-extension bug and will not verify (passlib refuses `$2x$` outright).
 */
async function bcryptDigest(key: Buffer, salt: Buffer, cost: number): Promise<string> {
  const config = bcryptConfig(salt, cost);
  const full = await bcrypt.hash(key, config);
  // The C code reports some errors as the string ":" rather than failing; never let such a
  // result be stored or compared as a digest.
  if (full.length !== config.length + 31 || !full.startsWith(config)) throw new Error('bcrypt returned a malformed hash');
  return full.slice(-31);
}

/** `$2b$<2-digit cost>$<22-character canonical salt>`: the form the `bcrypt` package takes. */
function bcryptConfig(salt: Buffer, cost: number): string {
  return `$2b$${String(cost).padStart(2, '0')}$${encodeBcryptBase64(salt)}`;
}

async function writeBcrypt(secret: Buffer, cost: number): Promise<string> {
  const salt = randomBytes(BCRYPT_SALT_BYTES);
  // secret is already cut to at most 72 bytes (the bcrypt length policy).
  return `${bcryptConfig(salt, cost)}${await bcryptDigest(secret, salt, cost)}`;
}

async function verifyBcrypt(secret: Buffer, stored: Extract<StoredHash, { kind: 'bcrypt' }>): Promise<boolean> {
  let key = secret.subarray(0, BCRYPT_MAX_PASSWORD_BYTES);
  if (stored.ident === '2' && key.length > 0) {
    // The original `$2$` did not append a NUL to the key and cycled through the password
    // bytes; the 2a/2b algorithm over the password repeated to 72 bytes is the same
    // computation. This is how passlib verifies `$2$`.
    key = repeatToLength(key, BCRYPT_MAX_PASSWORD_BYTES);
  }
  return constantTimeEqualText(await bcryptDigest(key, stored.salt, stored.cost), stored.digest);
}

/**
 * passlib's bcrypt_sha256 v2 key: base64(HMAC-SHA256(key = the salt as its 22 ASCII characters,
 * message = the whole password)), 44 ASCII bytes, so bcrypt's 72-byte limit and its NUL
 * handling never come into play.
 */
function bcryptSha256Key(secret: Buffer, saltText: string): Buffer {
  return Buffer.from(createHmac('sha256', Buffer.from(saltText, 'ascii')).update(secret).digest('base64'), 'ascii');
}

async function writeBcryptSha256(secret: Buffer, cost: number): Promise<string> {
  const salt = randomBytes(BCRYPT_SALT_BYTES);
  const saltText = encodeBcryptBase64(salt);
  const digest = await bcryptDigest(bcryptSha256Key(secret, saltText), salt, cost);
  // passlib's template `r=%d`: not zero-padded.
  return `$bcrypt-sha256$v=2,t=2b,r=${cost}$${saltText}$${digest}`;
}

/**
 * 2026 rebuilds the bcrypt string as `$2b$<r>$` without zero padding, so any hash with r < 10
 * (from passlib, or from 2026 itself with password_hash_rounds < 10) fails to verify there.
 * We pass the cost as a number instead, so those hashes verify, as they do under passlib: a
 * hash Keystone wrote should not lock its user out.
 */
async function verifyBcryptSha256(
  secret: Buffer,
  stored: Extract<StoredHash, { kind: 'bcrypt_sha256' }>,
): Promise<boolean> {
  const digest = await bcryptDigest(bcryptSha256Key(secret, stored.saltText), stored.salt, stored.cost);
  return constantTimeEqualText(digest, stored.digest);
}

// ---------------------------------------------------------------------------------------------
// scrypt
// ---------------------------------------------------------------------------------------------

function scryptMemoryBytes(log2N: number, blockSize: number, parallelism: number): number {
  // OpenSSL's accounting: B is 128·r·p bytes, V is 128·r·(N + 2) bytes.
  return 128 * blockSize * (2 ** log2N + 2 + parallelism);
}

function scryptKey(secret: Buffer, salt: Buffer, log2N: number, blockSize: number, parallelism: number): Promise<Buffer> {
  // node:crypto refuses above 32 MiB unless told; Keystone's ln=16, r=8 needs 64 MiB.
  const maxmem = scryptMemoryBytes(log2N, blockSize, parallelism) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, SCRYPT_KEY_BYTES, { N: 2 ** log2N, r: blockSize, p: parallelism, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

async function writeScrypt(secret: Buffer, opts: PasswordHashOptions): Promise<string> {
  const blockSize = explicitSetting(opts.scryptBlockSize) ?? SCRYPT_DEFAULT_BLOCK_SIZE;
  const parallelism = explicitSetting(opts.scryptParallelism) ?? SCRYPT_DEFAULT_PARALLELISM;
  integerInRange('scryptBlockSize', blockSize, 1, 2 ** 30 - 1);
  integerInRange('scryptParallelism', parallelism, 1, 2 ** 30 - 1);
  if (blockSize * parallelism >= 2 ** 30) throw new RangeError('scryptBlockSize × scryptParallelism must be below 2^30');
  const salt = randomBytes(saltBytes(opts));
  const key = await scryptKey(secret, salt, SCRYPT_WRITE_LOG2_N, blockSize, parallelism);
  return `$scrypt$ln=${SCRYPT_WRITE_LOG2_N},r=${blockSize},p=${parallelism}$${encodeUnpaddedBase64(salt)}$${encodeUnpaddedBase64(key)}`;
}

async function verifyScrypt(secret: Buffer, stored: Extract<StoredHash, { kind: 'scrypt' }>): Promise<boolean> {
  const key = await scryptKey(secret, stored.salt, stored.log2N, stored.blockSize, stored.parallelism);
  return constantTimeEqual(key, stored.key);
}

// ---------------------------------------------------------------------------------------------
// pbkdf2_sha512
// ---------------------------------------------------------------------------------------------

function pbkdf2Sha512Key(secret: Buffer, salt: Buffer, rounds: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(secret, salt, rounds, PBKDF2_SHA512_KEY_BYTES, 'sha512', (error, key) => (error ? reject(error) : resolve(key)));
  });
}

async function writePbkdf2Sha512(secret: Buffer, opts: PasswordHashOptions): Promise<string> {
  const configuredRounds = explicitSetting(opts.rounds);
  const rounds =
    configuredRounds === undefined
      ? PBKDF2_SHA512_DEFAULT_ROUNDS
      : integerInRange('rounds', configuredRounds, 1, PBKDF2_SHA512_MAX_ROUNDS);
  const salt = randomBytes(saltBytes(opts));
  const key = await pbkdf2Sha512Key(secret, salt, rounds);
  // 2026 writes standard base64 (`+`), passlib wrote `.`; each reads both.
  return `$pbkdf2-sha512$${rounds}$${encodeUnpaddedBase64(salt)}$${encodeUnpaddedBase64(key)}`;
}

async function verifyPbkdf2Sha512(
  secret: Buffer,
  stored: Extract<StoredHash, { kind: 'pbkdf2_sha512' }>,
): Promise<boolean> {
  return constantTimeEqual(await pbkdf2Sha512Key(secret, stored.salt, stored.rounds), stored.key);
}

// ---------------------------------------------------------------------------------------------
// sha512_crypt (verify only)
// ---------------------------------------------------------------------------------------------

async function verifySha512Crypt(
  secret: Buffer,
  stored: Extract<StoredHash, { kind: 'sha512_crypt' }>,
): Promise<boolean> {
  return constantTimeEqualText(await sha512CryptChecksumOffThread(secret, stored.salt, stored.rounds), stored.checksum);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Constant-time equality. timingSafeEqual throws on different lengths, so lengths are compared
 * first; that leaks nothing, since every format fixes the length of its derived key.
 */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function constantTimeEqualText(a: string, b: string): boolean {
  return constantTimeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

function repeatToLength(bytes: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += bytes.length) bytes.copy(out, offset);
  return out;
}

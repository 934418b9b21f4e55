/**
 * glibc SHA-512 crypt (`$6$`), verify only.
 *
 * Keystone before Pike wrote these through passlib's `sha512_crypt` with `rounds =
 * [DEFAULT] crypt_strength` (default 10000, at most 100000); passlib's own default is 656000.
 * Zed still verifies them, 2026 cannot (spec 6.1). We verify them so that a database shared with
 * an older Keystone keeps working, and never write them.
 *
 * The algorithm follows Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
 * (https://www.akkadia.org/drepper/SHA-crypt.txt); step numbers below are that document's.
 * In JavaScript 656000 rounds cost about a second of CPU (glibc: a third of that), so
 * `sha512CryptChecksumOffThread` runs the rounds in a worker thread; the event loop only parses
 * and compares.
 */
import { createHash, hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Drepper's bounds: a `rounds=` value outside them never appears in a string glibc wrote. */
export const SHA512_CRYPT_MIN_ROUNDS = 1000;
export const SHA512_CRYPT_MAX_ROUNDS = 999_999_999;
/** Used when the hash has no `rounds=` field. */
export const SHA512_CRYPT_DEFAULT_ROUNDS = 5000;

/** The crypt "hash64" alphabet (not RFC 4648 base64: different order, little-endian groups). */
const HASH64_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * `$6$[rounds=N$]salt$checksum`. Rounds without zero padding (passlib rejects padded values,
 * and glibc never writes them); salt at most 16 characters (glibc truncates longer salts when
 * hashing, so a stored string never has more); checksum exactly 86 hash64 characters (64 bytes).
 */
const SHA512_CRYPT_PATTERN = /^\$6\$(?:rounds=([1-9][0-9]{0,9})\$)?([./0-9A-Za-z]{0,16})\$([./0-9A-Za-z]{86})$/;

export interface Sha512CryptHash {
  rounds: number;
  salt: string;
  checksum: string;
}

/** Parses a stored `$6$` hash; `undefined` for anything glibc or passlib would not have written. */
export function parseSha512CryptHash(stored: string): Sha512CryptHash | undefined {
  const match = SHA512_CRYPT_PATTERN.exec(stored);
  if (!match) return undefined;
  const [, roundsText, salt = '', checksum = ''] = match;
  const rounds = roundsText === undefined ? SHA512_CRYPT_DEFAULT_ROUNDS : Number(roundsText);
  // glibc clamps out-of-range rounds when hashing and writes the clamped value, so a stored
  // string with an out-of-range value was not written by glibc (passlib rejects it as well).
  if (rounds < SHA512_CRYPT_MIN_ROUNDS || rounds > SHA512_CRYPT_MAX_ROUNDS) return undefined;
  return { rounds, salt, checksum };
}

function sha512(data: Buffer): Buffer {
  return hash('sha512', data, 'buffer');
}

/** SHA512(`data` repeated `times` times), streamed: a 4096-byte password repeated is 16 MiB. */
function sha512OfRepeated(data: Buffer, times: number): Buffer {
  const context = createHash('sha512');
  for (let i = 0; i < times; i += 1) context.update(data);
  return context.digest();
}

/** `length` bytes made of `digest` repeated (steps 16 and 20: the P and S byte sequences). */
function repeatToLength(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += digest.length) digest.copy(out, offset);
  return out;
}

/**
 * The 86-character checksum glibc's `crypt(password, "$6$rounds=<rounds>$<salt>$")` ends with.
 * Synchronous and CPU-bound: call it from a worker (see `sha512CryptChecksumOffThread`).
 */
export function sha512CryptChecksum(password: Buffer, salt: string, rounds: number): string {
  if (!Number.isSafeInteger(rounds) || rounds < SHA512_CRYPT_MIN_ROUNDS || rounds > SHA512_CRYPT_MAX_ROUNDS) {
    throw new RangeError(`sha512_crypt rounds must be an integer in ${SHA512_CRYPT_MIN_ROUNDS}..${SHA512_CRYPT_MAX_ROUNDS}`);
  }
  const key = password;
  const saltBytes = Buffer.from(salt.slice(0, 16), 'latin1');

  // Steps 4-8: digest B = SHA512(password || salt || password).
  const digestB = sha512(Buffer.concat([key, saltBytes, key]));

  // Steps 1-3 and 9-12: digest A = SHA512(password || salt || B repeated over the password
  // length || for each bit of the length, lowest first: B if 1, the password if 0).
  const partsA: Buffer[] = [key, saltBytes];
  let remaining = key.length;
  for (; remaining > 64; remaining -= 64) partsA.push(digestB);
  partsA.push(digestB.subarray(0, remaining));
  for (let bits = key.length; bits > 0; bits >>>= 1) partsA.push((bits & 1) !== 0 ? digestB : key);
  let digestC = sha512(Buffer.concat(partsA));

  // Steps 13-16: the P sequence, from DP = SHA512(password repeated password-length times).
  const pSequence = repeatToLength(sha512OfRepeated(key, key.length), key.length);

  // Steps 17-20: the S sequence, from DS = SHA512(salt repeated 16 + A[0] times).
  const saltRepeats = 16 + (digestC[0] ?? 0);
  const sSequence = repeatToLength(sha512OfRepeated(saltBytes, saltRepeats), saltBytes.length);

  // Step 21: the rounds. One scratch buffer, sized for the longest round input, avoids an
  // allocation per round; only the SHA-512 output is new each time.
  const scratch = Buffer.alloc(64 + 2 * pSequence.length + sSequence.length);
  for (let round = 0; round < rounds; round += 1) {
    const odd = (round & 1) !== 0;
    let length = (odd ? pSequence : digestC).copy(scratch, 0);
    if (round % 3 !== 0) length += sSequence.copy(scratch, length);
    if (round % 7 !== 0) length += pSequence.copy(scratch, length);
    length += (odd ? digestC : pSequence).copy(scratch, length);
    digestC = sha512(scratch.subarray(0, length));
  }
  return encodeSha512CryptDigest(digestC);
}

/** Step 22: glibc's byte permutation, each group of three written as four hash64 characters. */
const OUTPUT_GROUPS: readonly (readonly [number, number, number])[] = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function hash64(value: number, characters: number): string {
  let out = '';
  for (let i = 0; i < characters; i += 1) {
    out += HASH64_ALPHABET[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

function encodeSha512CryptDigest(digest: Buffer): string {
  const byte = (index: number): number => digest[index] ?? 0;
  let out = '';
  for (const [high, middle, low] of OUTPUT_GROUPS) out += hash64((byte(high) << 16) | (byte(middle) << 8) | byte(low), 4);
  return out + hash64(byte(63), 2);
}

/** What the worker receives; see sha512-crypt-worker.ts. */
export interface Sha512CryptJob {
  password: Uint8Array;
  salt: string;
  rounds: number;
}

/**
 * `sha512CryptChecksum` in a worker thread, so 656000 rounds do not stall every other request.
 * One short-lived worker per call: `$6$` hashes are legacy, so a pool (which would be shared
 * mutable state) is not worth it. The worker's heap is capped; it needs almost none.
 */
export function sha512CryptChecksumOffThread(password: Buffer, salt: string, rounds: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const job: Sha512CryptJob = { password: new Uint8Array(password), salt, rounds };
    const worker = new Worker(new URL('./sha512-crypt-worker.js', import.meta.url), {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    let settled = false;
    worker.once('message', (checksum: unknown) => {
      settled = true;
      if (typeof checksum === 'string') resolve(checksum);
      else reject(new Error('sha512_crypt worker returned no checksum'));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`sha512_crypt worker exited with code ${code} before answering`));
    });
  });
}

/**
 * The `totp` auth method's passcode check (keystone/auth/plugins/totp.py): RFC 6238 over the
 * user's credentials of type `totp`, HMAC-SHA1, 6 digits, 30-second steps, the current window and
 * `[totp] included_previous_windows` earlier ones (spec 5.11). Never logs a passcode or secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const PASSCODE_LENGTH = 6;
export const PASSCODE_TIME_PERIOD_SECONDS = 30;

/**
 * cryptography's HOTP refuses keys under 128 bits (ValueError, which Keystone reads as "no
 * match"): a short secret never authenticates, here as upstream.
 */
const MIN_KEY_BYTES = 16;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The secret as Keystone reads it: padded with `=` to a multiple of 8, then Python's strict
 * `base64.b32decode` (upper case only, padding of 0, 1, 3, 4 or 6 characters). `undefined` where
 * Python raises, which Keystone treats as a credential that matches nothing.
 */
export function decodeTotpSecret(secret: string): Buffer | undefined {
  let text = secret;
  while (text.length % 8 !== 0) text += '=';
  const body = text.replace(/=+$/, '');
  const padChars = text.length - body.length;
  if (![0, 1, 3, 4, 6].includes(padChars)) return undefined;
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of body) {
    const digit = BASE32_ALPHABET.indexOf(char);
    if (digit < 0) return undefined;
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP with RFC 6238's 8-byte big-endian time counter and dynamic truncation. */
export function hotp(key: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = digest[digest.length - 1]! & 0x0f;
  const code = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(code % 10 ** PASSCODE_LENGTH).padStart(PASSCODE_LENGTH, '0');
}

/** The passcodes accepted at `now`: the current window first, then `previousWindows` older ones. */
export function acceptedPasscodes(key: Buffer, now: Date, previousWindows: number): string[] {
  const counter = Math.floor(now.getTime() / 1000 / PASSCODE_TIME_PERIOD_SECONDS);
  return Array.from({ length: previousWindows + 1 }, (_, back) => hotp(key, counter - back));
}

/** Equal strings, compared without an early exit on the first differing character. */
function passcodeEquals(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface TotpVerifierDeps {
  /** The blobs (base32 secrets) of the user's credentials of type `totp`, decrypted. */
  listSecrets(userId: string): Promise<readonly string[]>;
  /** `[totp] included_previous_windows`. */
  readonly previousWindows: number;
  readonly now: () => Date;
}

export type TotpVerifier = ReturnType<typeof createTotpVerifier>;

export function createTotpVerifier(deps: TotpVerifierDeps) {
  return {
    /**
     * Whether `passcode` is one of the accepted passcodes of any of the user's TOTP secrets.
     * Keystone compares with `in` on a list of strings, so a passcode sent as a JSON number
     * never matches. Every candidate is compared, so the time taken does not tell which
     * secret or window came close.
     */
    async verify(userId: string, passcode: unknown): Promise<boolean> {
      if (typeof passcode !== 'string') return false;
      const now = deps.now();
      let matched = false;
      for (const secret of await deps.listSecrets(userId)) {
        const key = decodeTotpSecret(secret);
        if (!key || key.length < MIN_KEY_BYTES) continue;
        for (const candidate of acceptedPasscodes(key, now, deps.previousWindows)) {
          matched = passcodeEquals(candidate, passcode) || matched;
        }
      }
      return matched;
    },
  };
}

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import bcrypt from 'bcrypt';
import { ForbiddenNotSecurity, ValidationError } from '../../src/common/errors.js';
import {
  BCRYPT_MAX_PASSWORD_BYTES,
  hashPassword,
  PasswordVerificationError,
  verifyPassword,
  type PasswordHashOptions,
} from '../../src/identity/password-hash.js';
import { parseSha512CryptHash, sha512CryptChecksum } from '../../src/identity/sha512-crypt.js';

/** Keystone's defaults (spec 7.2), with bcrypt at its lowest cost so the suite stays fast. */
function options(overrides: Partial<PasswordHashOptions> = {}): PasswordHashOptions {
  return { algorithm: 'bcrypt', rounds: 4, maxPasswordLength: 4096, strictPasswordCheck: false, ...overrides };
}

const FAST_PBKDF2 = options({ algorithm: 'pbkdf2_sha512', rounds: 1000 });

/** Spec Appendix D: hashes of `secret` made by passlib 1.7.4 (Zed) and by the 2026 hashers. */
const APPENDIX_D: readonly (readonly [string, string])[] = [
  ['bcrypt (cost 4)', '$2b$04$zcyJ/T0HCSZt.WtVBkcW9OAnv0L5JvDVKGnnF5Fv9Hf7amn9ae9ey'],
  ['bcrypt_sha256 (passlib)', '$bcrypt-sha256$v=2,t=2b,r=12$VH5JyIldU3g1SE1jwUK27u$ix9L0GKwu0JvnE8pfMIc7A8iPiH/0wC'],
  ['bcrypt_sha256 (2026)', '$bcrypt-sha256$v=2,t=2b,r=12$fDYO6xkjAPlaM2WuSZv7hu$BR1WZnWcsjLiu8zPZiezwM.EOrs3TjG'],
  ['scrypt (passlib, ln=4)', '$scrypt$ln=4,r=8,p=1$J6T0XmutldIao3TOOWeM0Q$PoZq592wCsUKQWodd/pjHlzWdhx5tYlMUI36opCoebM'],
  ['scrypt (2026, ln=4)', '$scrypt$ln=4,r=8,p=1$m8lrxIKjQZEo3P0bkXncNA$8pT1vi6/LZ04UUkpPH9NdA5fnJeJVSIgrfXxaKaCT2c'],
  [
    'pbkdf2_sha512 (passlib, ab64 ".")',
    '$pbkdf2-sha512$1000$2htjDMH43xsjBCAEwHhvDQ$5ZI2zey2VvErjGehir.WsXJQDTtIitc/Eqppo0BRpD/rpqXzUZ8r5f45Wo.BAG0AiItFdsQKto58ZrgsJAZA.w',
  ],
  [
    'pbkdf2_sha512 (2026, "+")',
    '$pbkdf2-sha512$1000$FirhWKbGNt0jl0GRDJxiyg$Bd0tp81fNhOSlChBqjy/6WUbcSLKZTSBOEYT9upufLRbSMbOPWj4xi77lZXh5u5TAva+PeKUX/bzR/1t4JFSKA',
  ],
  [
    'sha512_crypt (Zed only)',
    '$6$rounds=1000$Ybeut6qaQydX1bw3$aiBsqHSbM8MQXnX0xENemvwHPf/RHjxQoWi8s8eMYaAuRkUF78qvkVNev0dXi0ODsgZH99/bo68LT.Tyh9F7H/',
  ],
];

/** `count` ASCII letters, so byte offsets equal character offsets up to the boundary under test. */
function ascii(count: number, letter = 'p'): string {
  return letter.repeat(count);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

describe('identity/password-hash', () => {
  describe('Appendix D vectors (password "secret")', () => {
    for (const [name, hash] of APPENDIX_D) {
      it(`${name}: verifies "secret", rejects a wrong password`, async () => {
        assert.equal(await verifyPassword('secret', hash, options()), true);
        assert.equal(await verifyPassword('Secret', hash, options()), false);
      });
    }

    it('verification does not depend on the configured algorithm', async () => {
      // The cheap vectors only: bcrypt cost 4, scrypt ln=4, pbkdf2 and sha512_crypt at 1000 rounds.
      const cheap = APPENDIX_D.filter(([name]) => !name.startsWith('bcrypt_sha256'));
      for (const algorithm of ['bcrypt', 'bcrypt_sha256', 'scrypt', 'pbkdf2_sha512'] as const) {
        for (const [name, hash] of cheap) {
          assert.equal(await verifyPassword('secret', hash, options({ algorithm })), true, `${algorithm}: ${name}`);
        }
      }
    });
  });

  describe('other stored formats Keystone reads', () => {
    it('bcrypt $2a$ (openwall crypt_blowfish 1.2 vectors)', async () => {
      const hash = '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';
      assert.equal(await verifyPassword('U*U', hash, options()), true);
      assert.equal(await verifyPassword('U*U*', hash, options()), false);
      assert.equal(await verifyPassword('', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy', options()), true);
    });

    it('bcrypt salt with its 4 unused bits set (passlib issue 25) verifies, as in passlib', async () => {
      // Appendix D's cost-4 hash with the salt's last character changed from "O" to "P".
      const hash = '$2b$04$zcyJ/T0HCSZt.WtVBkcW9PAnv0L5JvDVKGnnF5Fv9Hf7amn9ae9ey';
      assert.equal(await verifyPassword('secret', hash, options()), true);
      assert.equal(await verifyPassword('secreu', hash, options()), false);
    });

    it('bcrypt $2y$ of a non-ASCII password, hashed as UTF-8 (passlib test suite)', async () => {
      // "ё" is the bytes d1 91: the vector that catches crypt_blowfish's 8-bit bug.
      const hash = '$2y$05$6bNw2HLQYeqHYyBfLMsv/OUcZd0LKP39b87nBw3.S2tVZSqiQX6eu';
      assert.equal(await verifyPassword('ё', hash, options()), true);
      assert.equal(await verifyPassword('е', hash, options()), false);
    });

    it('bcrypt $2x$ of an ASCII password (the 8-bit bug changes nothing below 0x80)', async () => {
      // The openwall $2a$ vector relabelled: crypt_blowfish gives 2a and 2x the same result here.
      const hash = '$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';
      assert.equal(await verifyPassword('U*U', hash, options()), true);
      assert.equal(await verifyPassword('U*V', hash, options()), false);
    });

    it('bcrypt $2$ (original OpenBSD: no trailing NUL, key cycled; passlib test suite)', async () => {
      const config2 = '$2$05$......................';
      assert.equal(await verifyPassword('abc', `${config2}XuQjdH.wPVNUZ/bOfstdW/FqB8QSjte`, options()), true);
      assert.equal(await verifyPassword('abd', `${config2}XuQjdH.wPVNUZ/bOfstdW/FqB8QSjte`, options()), false);
      assert.equal(await verifyPassword('', `${config2}J2ihDv8vVf7QZ9BsaRrKyqs2tkn55Yq`, options()), true);
      // The equivalence the $2$ emulation rests on: $2$ "abc" is $2a$ "abc" repeated to 72 bytes.
      const config2a = '$2a$05$......................';
      assert.equal(await verifyPassword('abc'.repeat(24), `${config2a}XuQjdH.wPVNUZ/bOfstdW/FqB8QSjte`, options()), true);
    });

    it('bcrypt_sha256 with r < 10, which 2026 cannot verify (it drops the zero padding)', async () => {
      // Made by passlib 1.7.4: bcrypt_sha256.using(rounds=4).hash('secret').
      const hash = '$bcrypt-sha256$v=2,t=2b,r=4$ub9xVpf9GIyu459Yum11ku$02gxjvlimNypPWinMN.hK4am7492oFy';
      assert.equal(await verifyPassword('secret', hash, options()), true);
      assert.equal(await verifyPassword('secrets', hash, options()), false);
    });

    it('scrypt with "." standing for "+" (2026 maps it back before decoding)', async () => {
      // Made by passlib 1.7.4 with a salt whose base64 is all "+".
      const plus = '$scrypt$ln=4,r=8,p=1$++++++++++++++++++++AQ$xjyaGxpje+urYc8K1xrM0i3IpeB0itFBXaKOxTZVE8g';
      const dot = plus.replaceAll('+', '.');
      for (const hash of [plus, dot]) {
        assert.equal(await verifyPassword('secret', hash, options()), true, hash);
        assert.equal(await verifyPassword('secreT', hash, options()), false, hash);
      }
    });

    it('pbkdf2_sha512: "." and "+" are interchangeable both ways', async () => {
      const passlibDot = APPENDIX_D[5]?.[1] ?? '';
      const keystonePlus = APPENDIX_D[6]?.[1] ?? '';
      assert.ok(passlibDot.includes('.') && keystonePlus.includes('+'));
      assert.equal(await verifyPassword('secret', passlibDot.replaceAll('.', '+'), options()), true);
      assert.equal(await verifyPassword('secret', keystonePlus.replaceAll('+', '.'), options()), true);
    });

    it('sha512_crypt with implicit rounds (5000) and with a 16-character salt (Drepper\'s vectors)', async () => {
      const implicit =
        '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
      assert.equal(await verifyPassword('Hello world!', implicit, options()), true);
      assert.equal(await verifyPassword('Hello world?', implicit, options()), false);
      const longSalt =
        '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.';
      assert.equal(await verifyPassword('Hello world!', longSalt, options()), true);
    });
  });

  describe('writing', () => {
    it('bcrypt: $2b$ with cost = rounds, verifies', async () => {
      const hash = await hashPassword('correct horse', options({ rounds: 4 }));
      // The salt's last character is canonical (its 4 unused bits zero): ".", "O", "e" or "u".
      assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}$/);
      assert.equal(await verifyPassword('correct horse', hash, options()), true);
      assert.equal(await verifyPassword('correct horsE', hash, options()), false);
    });

    it('bcrypt: cost 12 (Keystone\'s default) when rounds is unset, null or 0', async () => {
      // Only the prefix is checked; verification at cost 4 is covered above.
      for (const rounds of [undefined, null, 0]) {
        const hash = await hashPassword('x', options({ rounds }));
        assert.match(hash, /^\$2b\$12\$[./A-Za-z0-9]{53}$/, String(rounds));
      }
    });

    it('bcrypt_sha256: passlib v2 format, r not zero-padded, verifies', async () => {
      const hash = await hashPassword('correct horse', options({ algorithm: 'bcrypt_sha256', rounds: 4 }));
      assert.match(hash, /^\$bcrypt-sha256\$v=2,t=2b,r=4\$[./A-Za-z0-9]{21}[.Oeu]\$[./A-Za-z0-9]{31}$/);
      assert.equal(await verifyPassword('correct horse', hash, options()), true);
      assert.equal(await verifyPassword('correct horsE', hash, options()), false);
    });

    it('bcrypt_sha256: r=12 by default', async () => {
      const hash = await hashPassword('x', options({ algorithm: 'bcrypt_sha256', rounds: null }));
      assert.match(hash, /^\$bcrypt-sha256\$v=2,t=2b,r=12\$[./A-Za-z0-9]{22}\$[./A-Za-z0-9]{31}$/);
    });

    it('scrypt: always ln=16 like 2026 (rounds ignored), r=8, p=1, 16-byte salt, 32-byte key', async () => {
      const hash = await hashPassword('correct horse', options({ algorithm: 'scrypt', rounds: 4 }));
      assert.match(hash, /^\$scrypt\$ln=16,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      assert.equal(await verifyPassword('correct horse', hash, options()), true);
      assert.equal(await verifyPassword('correct horsE', hash, options()), false);
    });

    it('scrypt: scryptBlockSize, scryptParallelism and saltBytesize are honoured', async () => {
      const opts = options({ algorithm: 'scrypt', scryptBlockSize: 4, scryptParallelism: 2, saltBytesize: 24 });
      const hash = await hashPassword('correct horse', opts);
      assert.match(hash, /^\$scrypt\$ln=16,r=4,p=2\$[A-Za-z0-9+/]{32}\$[A-Za-z0-9+/]{43}$/);
      assert.equal(await verifyPassword('correct horse', hash, opts), true);
    });

    it('pbkdf2_sha512: 25000 rounds by default, 16-byte salt, 64-byte key, standard base64', async () => {
      const hash = await hashPassword('correct horse', options({ algorithm: 'pbkdf2_sha512', rounds: null }));
      assert.match(hash, /^\$pbkdf2-sha512\$25000\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{86}$/);
      assert.equal(await verifyPassword('correct horse', hash, options()), true);
      assert.equal(await verifyPassword('correct horsE', hash, options()), false);
    });

    it('pbkdf2_sha512: rounds and saltBytesize are honoured', async () => {
      const hash = await hashPassword('correct horse', options({ algorithm: 'pbkdf2_sha512', rounds: 1000, saltBytesize: 32 }));
      assert.match(hash, /^\$pbkdf2-sha512\$1000\$[A-Za-z0-9+/]{43}\$[A-Za-z0-9+/]{86}$/);
      assert.equal(await verifyPassword('correct horse', hash, options()), true);
    });

    it('salts are random: the same password hashes differently each time', async () => {
      for (const opts of [options(), options({ algorithm: 'bcrypt_sha256' }), FAST_PBKDF2]) {
        assert.notEqual(await hashPassword('same', opts), await hashPassword('same', opts), opts.algorithm);
      }
    });

    it('non-ASCII passwords are hashed as UTF-8', async () => {
      const password = 'pässwörd € 🔑';
      for (const opts of [options(), options({ algorithm: 'bcrypt_sha256' }), FAST_PBKDF2]) {
        const hash = await hashPassword(password, opts);
        assert.equal(await verifyPassword(password, hash, opts), true, opts.algorithm);
        assert.equal(await verifyPassword(password.normalize('NFD'), hash, opts), false, opts.algorithm);
      }
    });

    it('bcrypt hashes NUL bytes instead of stopping at them', async () => {
      // C bcrypt implementations that take strlen() stop at the first NUL, so "a\0b" would
      // equal "a". Python's bcrypt refuses NUL (a 500 in Keystone); the `bcrypt` package is
      // given the bytes with their length and hashes every byte (see "the bcrypt package" below).
      const hash = await hashPassword('a\u0000b', options());
      assert.equal(await verifyPassword('a\u0000b', hash, options()), true);
      assert.equal(await verifyPassword('a', hash, options()), false);
      assert.equal(await verifyPassword('a\u0000c', hash, options()), false);
    });

    it('bcrypt: a password and its NUL-joined repetitions are the same key (bcrypt cycles key + NUL)', async () => {
      // A property of $2b$ itself, not of this port: the key is min(length, 72) bytes plus a
      // NUL, repeated to 72 bytes, so "a" gives "a\0a\0a\0…", as "a\0a" does. Documented in
      // password-hash.ts and docs/decisions/0004-bcrypt-package.md; @node-rs/bcrypt did the same.
      const hash = await hashPassword('a', options());
      assert.equal(await verifyPassword('a\u0000a', hash, options()), true);
      assert.equal(await verifyPassword('a\u0000a\u0000a', hash, options()), true);
      assert.equal(await verifyPassword('a\u0000', hash, options()), false);
      assert.equal(await verifyPassword('a\u0000b', hash, options()), false);
      const empty = await hashPassword('', options());
      assert.equal(await verifyPassword('\u0000', empty, options()), true);
      assert.equal(await verifyPassword(' ', empty, options()), false);
    });
  });

  describe('length rules (spec 5.5)', () => {
    it('bcrypt: a 73-byte password verifies with any password sharing its first 72 bytes', async () => {
      const first72 = ascii(BCRYPT_MAX_PASSWORD_BYTES);
      const hash = await hashPassword(`${first72}A`, options());
      assert.equal(await verifyPassword(`${first72}B`, hash, options()), true);
      assert.equal(await verifyPassword(first72, hash, options()), true);
      assert.equal(await verifyPassword(`${first72}${ascii(1000)}`, hash, options()), true);
      assert.equal(await verifyPassword(ascii(71), hash, options()), false);
      // Hashed as 72 bytes, so the truncation happened before hashing, not only inside bcrypt.
      const hash72 = await hashPassword(first72, options());
      assert.equal(await verifyPassword(`${first72}A`, hash72, options()), true);
    });

    it('bcrypt_sha256: all bytes count, no 72-byte truncation', async () => {
      const opts = options({ algorithm: 'bcrypt_sha256' });
      const first72 = ascii(BCRYPT_MAX_PASSWORD_BYTES);
      const hash = await hashPassword(`${first72}A`, opts);
      assert.equal(await verifyPassword(`${first72}A`, hash, opts), true);
      assert.equal(await verifyPassword(`${first72}B`, hash, opts), false);
      assert.equal(await verifyPassword(first72, hash, opts), false);
    });

    it('bcrypt: the 72-byte cut may split a UTF-8 character without error', async () => {
      // "é" is c3 a9 and "è" is c3 a8: at bytes 72-73 only their shared first byte survives.
      const password = `${ascii(71)}é`;
      assert.equal(byteLength(password), 73);
      const hash = await hashPassword(password, options());
      assert.equal(await verifyPassword(password, hash, options()), true);
      assert.equal(await verifyPassword(`${ascii(71)}è`, hash, options()), true);
      assert.equal(await verifyPassword(`${ascii(71)}a`, hash, options()), false);
      assert.equal(await verifyPassword(ascii(71), hash, options()), false);
    });

    it('bcrypt: a 4-byte character straddling byte 72 keeps only its first bytes', async () => {
      const password = `${ascii(69)}🔑`; // f0 9f 94 91 at bytes 70-73: f0 9f 94 survive
      const hash = await hashPassword(password, options());
      assert.equal(await verifyPassword(`${ascii(69)}🔒`, hash, options()), true); // f0 9f 94 92
      assert.equal(await verifyPassword(`${ascii(69)}😀`, hash, options()), false); // f0 9f 98 80
    });

    it('max_password_length: longer passwords are truncated silently, in bytes', async () => {
      const opts = { ...FAST_PBKDF2, maxPasswordLength: 10 };
      const hash = await hashPassword('abcdefghijXYZ', opts);
      assert.equal(await verifyPassword('abcdefghij', hash, opts), true);
      assert.equal(await verifyPassword('abcdefghijQQQ', hash, opts), true);
      assert.equal(await verifyPassword('abcdefghi', hash, opts), false);
      // Five 2-byte characters are 10 bytes; the sixth character is cut off.
      const wide = await hashPassword('ééééé€', opts);
      assert.equal(await verifyPassword('ééééé', wide, opts), true);
    });

    it('max_password_length below 72 also applies under bcrypt', async () => {
      const opts = options({ maxPasswordLength: 8 });
      const hash = await hashPassword('12345678-and-more', opts);
      assert.equal(await verifyPassword('12345678', hash, opts), true);
    });

    it('strict_password_check: over max_password_length is a 403 PasswordVerificationError', async () => {
      const opts = { ...FAST_PBKDF2, maxPasswordLength: 10, strictPasswordCheck: true };
      const expected = (error: unknown): boolean => {
        assert.ok(error instanceof PasswordVerificationError);
        assert.ok(error instanceof ForbiddenNotSecurity);
        assert.equal(error.status, 403);
        assert.equal(error.title, 'Forbidden');
        assert.equal(error.size, 10);
        assert.equal(
          error.message,
          'The password length must be less than or equal to 10. ' +
            'The server could not comply with the request because the password is invalid.',
        );
        assert.equal(error.expose, true);
        return true;
      };
      await assert.rejects(hashPassword('abcdefghijk', opts), expected);
      const hash = await hashPassword('abcdefghij', opts);
      await assert.rejects(verifyPassword('abcdefghijk', hash, opts), expected);
      assert.equal(await verifyPassword('abcdefghij', hash, opts), true);
      // Bytes, not characters: six characters, eleven bytes.
      await assert.rejects(hashPassword('ééééé1', opts), expected);
    });

    it('strict_password_check under bcrypt: the limit is 72 bytes, or max_password_length if lower', async () => {
      const strict = options({ strictPasswordCheck: true });
      await assert.rejects(hashPassword(ascii(73), strict), (error: unknown) => {
        assert.ok(error instanceof PasswordVerificationError);
        assert.equal(error.size, 72);
        assert.match(error.message, /less than or equal to 72\./);
        return true;
      });
      const hash = await hashPassword(ascii(72), strict);
      await assert.rejects(verifyPassword(ascii(73), hash, strict), PasswordVerificationError);
      assert.equal(await verifyPassword(ascii(72), hash, strict), true);
      await assert.rejects(hashPassword(ascii(51), { ...strict, maxPasswordLength: 50 }), (error: unknown) => {
        assert.ok(error instanceof PasswordVerificationError);
        assert.equal(error.size, 50);
        return true;
      });
      // bcrypt_sha256 has no 72-byte limit, so strict mode accepts up to max_password_length.
      const sha = options({ algorithm: 'bcrypt_sha256', strictPasswordCheck: true });
      assert.equal(await verifyPassword(ascii(100), await hashPassword(ascii(100), sha), sha), true);
    });

    it('the strict check comes before the stored hash is looked at, as in Keystone', async () => {
      const strict = options({ strictPasswordCheck: true });
      await assert.rejects(verifyPassword(ascii(73), 'not a hash', strict), PasswordVerificationError);
    });

    it('under bcrypt, an older non-bcrypt hash still sees the whole password', async () => {
      // Keystone cuts the password to 72 bytes whenever bcrypt is configured, so a user whose
      // pbkdf2 hash predates the switch could never log in with a longer password. We cut to 72
      // only for bcrypt hashes.
      const long = ascii(100);
      const legacy = await hashPassword(long, FAST_PBKDF2);
      assert.equal(await verifyPassword(long, legacy, options()), true);
      assert.equal(await verifyPassword(ascii(72), legacy, options()), false);
    });

    it('under another algorithm, a bcrypt hash is checked against the first 72 bytes', async () => {
      // passlib (Zed) truncates here; 2026's bcrypt >= 5 raises (a 500).
      const hash = await hashPassword(ascii(72), options());
      assert.equal(await verifyPassword(ascii(100), hash, options({ algorithm: 'scrypt' })), true);
    });

    it('a password with an unpaired surrogate cannot be hashed (400) and verifies as false', async () => {
      await assert.rejects(hashPassword('abc\uD800', options()), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.status, 400);
        return true;
      });
      // Buffer.from would encode it as U+FFFD, so without the check these two would collide.
      const hash = await hashPassword('abc\uFFFD', options());
      assert.equal(await verifyPassword('abc\uD800', hash, options()), false);
      assert.equal(await verifyPassword('abc\uFFFD', hash, options()), true);
    });
  });

  describe('bad stored data verifies as false, never throws', () => {
    const validBcrypt = '$2b$04$zcyJ/T0HCSZt.WtVBkcW9OAnv0L5JvDVKGnnF5Fv9Hf7amn9ae9ey';
    const validScrypt = '$scrypt$ln=4,r=8,p=1$J6T0XmutldIao3TOOWeM0Q$PoZq592wCsUKQWodd/pjHlzWdhx5tYlMUI36opCoebM';
    const [, validPbkdf2 = ''] = APPENDIX_D[6] ?? [];
    const [, validSha512 = ''] = APPENDIX_D[7] ?? [];
    const garbage: readonly (readonly [string, unknown])[] = [
      ['empty', ''],
      ['plaintext', 'secret'],
      ['a lone dollar', '$'],
      ['unknown ident', '$unknown$abc$def'],
      ['md5_crypt', '$1$saltsalt$8ZeQlOQn0D6XU1ARqENPX/'],
      ['argon2', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'],
      ['bcrypt, truncated', validBcrypt.slice(0, -1)],
      ['bcrypt, one character too many', `${validBcrypt}a`],
      ['bcrypt, trailing newline', `${validBcrypt}\n`],
      ['bcrypt, unknown minor version', validBcrypt.replace('$2b$', '$2c$')],
      ['bcrypt, cost 03', validBcrypt.replace('$04$', '$03$')],
      ['bcrypt, cost 32', validBcrypt.replace('$04$', '$32$')],
      ['bcrypt, cost +4', validBcrypt.replace('$04$', '$+4$')],
      ['bcrypt, one-digit cost', validBcrypt.replace('$04$', '$4$')],
      ['bcrypt, character outside the alphabet', validBcrypt.replace('zcyJ', 'zc+J')],
      ['bcrypt_sha256 v1 (never written by Keystone)', '$bcrypt-sha256$2a,12$LrmaIX5x4TRtAwEfwJZa1.$2ehnw6LvuIUTM0iz4iz9hTxv21B6KFO'],
      ['bcrypt_sha256, zero-padded rounds', '$bcrypt-sha256$v=2,t=2b,r=04$ub9xVpf9GIyu459Yum11ku$02gxjvlimNypPWinMN.hK4am7492oFy'],
      ['bcrypt_sha256, v=3', '$bcrypt-sha256$v=3,t=2b,r=4$ub9xVpf9GIyu459Yum11ku$02gxjvlimNypPWinMN.hK4am7492oFy'],
      ['bcrypt_sha256, t=2a', '$bcrypt-sha256$v=2,t=2a,r=4$ub9xVpf9GIyu459Yum11ku$02gxjvlimNypPWinMN.hK4am7492oFy'],
      ['bcrypt_sha256, r=3', '$bcrypt-sha256$v=2,t=2b,r=3$ub9xVpf9GIyu459Yum11ku$02gxjvlimNypPWinMN.hK4am7492oFy'],
      ['bcrypt_sha256, no digest', '$bcrypt-sha256$v=2,t=2b,r=4$ub9xVpf9GIyu459Yum11ku'],
      ['scrypt, ln=0', validScrypt.replace('ln=4', 'ln=0')],
      ['scrypt, ln=32', validScrypt.replace('ln=4', 'ln=32')],
      ['scrypt, over the memory cap (ln=24 needs 2 GiB)', validScrypt.replace('ln=4', 'ln=24')],
      ['scrypt, r=0', validScrypt.replace('r=8', 'r=0')],
      ['scrypt, p=0', validScrypt.replace('p=1', 'p=0')],
      ['scrypt, r·p ≥ 2^30', validScrypt.replace('r=8,p=1', 'r=32768,p=32768')],
      ['scrypt, parameters reordered', validScrypt.replace('ln=4,r=8,p=1', 'r=8,ln=4,p=1')],
      ['scrypt, short key', validScrypt.slice(0, -4)],
      ['scrypt, salt of impossible length', validScrypt.replace('J6T0XmutldIao3TOOWeM0Q', 'J6T0X')],
      ['scrypt, $7$ ident', '$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D'],
      ['pbkdf2_sha512, 0 rounds', validPbkdf2.replace('$1000$', '$0$')],
      ['pbkdf2_sha512, 2^32 rounds', validPbkdf2.replace('$1000$', '$4294967296$')],
      ['pbkdf2_sha512, short key', validPbkdf2.slice(0, -2)],
      ['pbkdf2_sha512, padded base64', `${validPbkdf2}==`],
      ['pbkdf2_sha256', validPbkdf2.replace('sha512', 'sha256')],
      ['sha512_crypt, rounds below 1000', validSha512.replace('rounds=1000', 'rounds=999')],
      ['sha512_crypt, zero-padded rounds', validSha512.replace('rounds=1000', 'rounds=01000')],
      ['sha512_crypt, 17-character salt', validSha512.replace('Ybeut6qaQydX1bw3', 'Ybeut6qaQydX1bw3X')],
      ['sha512_crypt, short checksum', validSha512.slice(0, -1)],
      ['sha256_crypt', validSha512.replace('$6$', '$5$')],
      ['null (a NULL column)', null],
      ['undefined', undefined],
      ['a number', 42],
    ];
    for (const [name, hash] of garbage) {
      it(name, async () => {
        assert.equal(await verifyPassword('secret', hash as string, options()), false);
      });
    }
  });

  describe('programming errors throw', () => {
    it('a password that is not a string', async () => {
      await assert.rejects(verifyPassword(null as unknown as string, '$2b$04$x', options()), TypeError);
      await assert.rejects(hashPassword(Buffer.from('x') as unknown as string, options()), TypeError);
    });

    it('invalid options', async () => {
      const bad: readonly (readonly [string, Partial<PasswordHashOptions>, typeof RangeError | typeof TypeError])[] = [
        ['unknown algorithm', { algorithm: 'md5' as 'bcrypt' }, RangeError],
        ['maxPasswordLength 0', { maxPasswordLength: 0 }, RangeError],
        ['maxPasswordLength NaN', { maxPasswordLength: Number.NaN }, RangeError],
        ['strictPasswordCheck not boolean', { strictPasswordCheck: 'yes' as unknown as boolean }, TypeError],
      ];
      for (const [name, overrides, type] of bad) {
        await assert.rejects(hashPassword('x', options(overrides)), type, name);
        await assert.rejects(verifyPassword('x', APPENDIX_D[0]?.[1] ?? '', options(overrides)), type, name);
      }
    });

    it('out-of-range write parameters', async () => {
      const bad: readonly Partial<PasswordHashOptions>[] = [
        { rounds: 3 },
        { rounds: 32 },
        { rounds: 4.5 },
        { algorithm: 'bcrypt_sha256', rounds: 3 },
        { algorithm: 'pbkdf2_sha512', rounds: -1 },
        { algorithm: 'pbkdf2_sha512', saltBytesize: 97 },
        { algorithm: 'scrypt', scryptBlockSize: -8 },
        { algorithm: 'scrypt', scryptParallelism: 1.5 },
      ];
      for (const overrides of bad) await assert.rejects(hashPassword('x', options(overrides)), RangeError, JSON.stringify(overrides));
    });
  });

  describe('the bcrypt package (what password-hash.ts relies on)', () => {
    // Made by @node-rs/bcrypt 2.0.0, the library this project used before bcrypt 6, with
    // hash(Buffer.from(password, 'utf8'), { cost: 4, version: '2b' }): passwords with NUL
    // bytes and bytes ≥ 0x80, written before the switch, must still verify.
    const nodeRs: readonly (readonly [string, string])[] = [
      ['a\u0000b', '$2b$04$JZ.KqgAIA2Ln7wYj75L22.08jmj5DCdayrwWPQSyw7ypSmGuBCfgW'],
      ['pässwörd\u0000€ 🔑', '$2b$04$oBNLoVE7J9uhiU.RCMqv3ORYj/hTubFx1EVoxSnox8DPvoe2kE1QC'],
      ['\u0000x\u00ff', '$2b$04$iXhfsoYxsh7EX79tiwRbDegZqfm3ZKGQIT60BFDo/y2nj.Jqu36Ti'],
    ];
    for (const [password, hash] of nodeRs) {
      it(`a hash @node-rs/bcrypt wrote for ${JSON.stringify(password)} verifies`, async () => {
        assert.equal(await verifyPassword(password, hash, options()), true);
        assert.equal(await verifyPassword(password.replace('\u0000', ''), hash, options()), false);
        assert.equal(await verifyPassword(password.split('\u0000')[0] ?? '', hash, options()), false);
      });
    }

    it('hashes a Buffer by its length: NUL bytes and bytes ≥ 0x80 all count', async () => {
      const config = '$2b$04$JZ.KqgAIA2Ln7wYj75L22.';
      const digest = async (bytes: number[]): Promise<string> => (await bcrypt.hash(Buffer.from(bytes), config)).slice(-31);
      // The same digest as @node-rs/bcrypt's for "a\0b" (the first vector above).
      assert.equal(await digest([0x61, 0x00, 0x62]), '08jmj5DCdayrwWPQSyw7ypSmGuBCfgW');
      assert.notEqual(await digest([0x61, 0x00, 0x62]), await digest([0x61]));
      assert.notEqual(await digest([0x61, 0x00, 0x62]), await digest([0x61, 0x00, 0x63]));
      // High bytes are not sign-extended ($2x$'s bug) nor altered: 0x80 and 0xff differ, and
      // a Buffer gives the same digest as the string whose UTF-8 it is.
      assert.notEqual(await digest([0x80]), await digest([0xff]));
      assert.equal(await digest([0xd1, 0x91]), (await bcrypt.hash('ё', config)).slice(-31));
    });

    it('takes a 2b salt string, decodes its 16 bytes and ignores the 4 unused bits of the last character', async () => {
      const canonical = await bcrypt.hash('secret', '$2b$04$zcyJ/T0HCSZt.WtVBkcW9O');
      assert.equal(canonical, APPENDIX_D[0]?.[1]);
      // With the stray bits set, the library re-encodes the salt canonically in its output.
      assert.equal(await bcrypt.hash('secret', '$2b$04$zcyJ/T0HCSZt.WtVBkcW9P'), canonical);
    });

    it('caps a $2b$ key at 72 bytes itself', async () => {
      const config = '$2b$04$zcyJ/T0HCSZt.WtVBkcW9O';
      assert.equal(await bcrypt.hash(ascii(72), config), await bcrypt.hash(ascii(100), config));
      assert.notEqual(await bcrypt.hash(ascii(71), config), await bcrypt.hash(ascii(72), config));
    });

    it('its own compare accepts the hashes written here', async () => {
      const hash = await hashPassword('correct horse', options());
      assert.equal(await bcrypt.compare('correct horse', hash), true);
      assert.equal(await bcrypt.compare('correct horsE', hash), false);
    });
  });

  describe('sha512-crypt core', () => {
    // Ulrich Drepper's SHA-crypt.txt test vectors (the salt is cut to 16 characters when hashing).
    const drepper: readonly (readonly [string, string, number, string])[] = [
      ['Hello world!', 'saltstring', 5000, 'svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
      ['Hello world!', 'saltstringsaltstring', 10000, 'OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
      ['This is just a test', 'toolongsaltstring', 5000, 'lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
      [
        'a very much longer text to encrypt.  This one even stretches over morethan one line.',
        'anotherlongsaltstring',
        1400,
        'POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
      ],
      ['we have a short salt string but not a short password', 'short', 77777, 'WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
      ['a short string', 'asaltof16chars..', 123456, 'BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
    ];
    for (const [password, salt, rounds, checksum] of drepper) {
      it(`Drepper vector: ${rounds} rounds, salt "${salt}"`, () => {
        assert.equal(sha512CryptChecksum(Buffer.from(password), salt, rounds), checksum);
      });
    }

    // Made with glibc 2.36 crypt(3): password lengths around the 64-byte block boundaries.
    const glibc: readonly (readonly [string, string, string])[] = [
      ['', '', 'NPMepfN3/Cv.LPoa7suAzCVH3BhfhhB2wHuwY51WjZgqg.e601K6RWCJ7AHYXHZcp4ilHQ0xlpG1yRxSYX3TP/'],
      ['x', 'abc', 'zaWpAwySRl8PX4W2aEMJwxpN82bCKtDZP0RBdOD6W7BQlilBqAsWnAZuS10iUyJZneS8Ob1gxs1BZkqJi1nTi.'],
      [ascii(63, 'x'), 'abc', 'kgoWwyeVNYL0kPvXGOBnw8MAIgGtX8PjYoZOXCf9WIYikhWwzKs1kRn8DUddoVwNA3dl.gDdHFaIQTpX31UsQ0'],
      [ascii(64, 'x'), 'abc', 'tsMOjyUebLTBZ0azEoE7TmcPWZoRupzR5CpJZc8NYyUQDLloJFeND/Ln2FCkHnUiF4Gm97hBraI8neeq/ezVQ0'],
      [ascii(65, 'x'), 'abc', 'PBjQEvrVg/aoR5nlecBYssiF68TRCRj82nBlXtM.aie.TjgoymcqbH0acLGJ8y3gMtpYRlhz0H4vxf6UTzMcR/'],
      [ascii(128, 'x'), 'abc', 'PsQeEWfPoGTDOlW8.CWWrZcCj6IJf1.tpQB5B6e9L2/FkcSuv2UXJmO2yoDrOX.vW6oGAiF.F.TkDnNfTe5iZ.'],
      [ascii(129, 'x'), 'abc', 'iBZMuQBP4JyMd9e.YeLVX.yk3.pAUxdSyNFgmyau9JXsW/4rBvipxRUR7EpczFj84ByzvnEYnipZI509gqT6I.'],
      ['pässwörd€', '/./.Zz09', 'GV42mp3GliSd/8rMxtRKkHKB/2T.fwwBVTxjnEs9y3ChjcYd.JXosd/0nj7ekPfAml.4C6rffjwCZ6ryy8cSr/'],
    ];
    for (const [password, salt, checksum] of glibc) {
      it(`glibc vector: ${byteLength(password)}-byte password, salt "${salt}"`, async () => {
        assert.equal(sha512CryptChecksum(Buffer.from(password), salt, 1000), checksum);
        assert.equal(await verifyPassword(password, `$6$rounds=1000$${salt}$${checksum}`, options()), true);
      });
    }

    it('parses implicit rounds as 5000 and refuses what glibc would not write', () => {
      const checksum = 'a'.repeat(86);
      assert.deepEqual(parseSha512CryptHash(`$6$salt$${checksum}`), { rounds: 5000, salt: 'salt', checksum });
      assert.deepEqual(parseSha512CryptHash(`$6$rounds=999999999$$${checksum}`), {
        rounds: 999_999_999,
        salt: '',
        checksum,
      });
      assert.equal(parseSha512CryptHash(`$6$rounds=1000000000$salt$${checksum}`), undefined);
      assert.equal(parseSha512CryptHash(`$6$rounds=10$salt$${checksum}`), undefined);
      assert.equal(parseSha512CryptHash(`$6$salt$${checksum}$`), undefined);
    });

    it('refuses rounds outside Drepper\'s bounds', () => {
      assert.throws(() => sha512CryptChecksum(Buffer.from('x'), 'salt', 999), RangeError);
      assert.throws(() => sha512CryptChecksum(Buffer.from('x'), 'salt', 1e9), RangeError);
    });
  });

  describe('cross-check with passlib (/usr/bin/python3)', function () {
    const python = '/usr/bin/python3';

    before(function () {
      const probe = spawnSync(python, ['-c', 'import passlib'], { encoding: 'utf8' });
      if (probe.status === 0) return;
      const detail = probe.error?.message ?? probe.stderr.trim().split('\n').pop();
      const reason = `passlib is not importable by ${python} (${detail})`;
      // CI installs python3-keystone, which pulls in python3-passlib: absence there is a failure.
      if (process.env.CI === 'true') throw new Error(`${reason}; CI must install python3-passlib`);
      // mocha's skip() takes no message, so the reason goes to stderr.
      console.warn(`skipping the passlib cross-check: ${reason}`);
      this.skip();
    });

    /** Runs `script` with JSON on stdin and returns its JSON stdout. */
    function passlib(script: string, input: unknown): unknown {
      const result = spawnSync(python, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout) as unknown;
    }

    const PASSLIB_VERIFY = `
import json, sys
from passlib.hash import bcrypt, bcrypt_sha256, scrypt, pbkdf2_sha512
schemes = {"bcrypt": bcrypt, "bcrypt_sha256": bcrypt_sha256, "scrypt": scrypt, "pbkdf2_sha512": pbkdf2_sha512}
print(json.dumps([schemes[s].verify(p.encode("utf-8"), h) for s, p, h in json.load(sys.stdin)]))
`;

    const PASSLIB_HASH = `
import json, sys
from passlib.hash import bcrypt, bcrypt_sha256, scrypt, pbkdf2_sha512, sha512_crypt
schemes = {
    "sha512_crypt": sha512_crypt,  # passlib's default: 656000 rounds, as pre-Pike Keystone wrote
    "sha512_crypt_1000": sha512_crypt.using(rounds=1000),
    "bcrypt_2a": bcrypt.using(ident="2a", rounds=4),
    "bcrypt_2y": bcrypt.using(ident="2y", rounds=4),
    "bcrypt_2": bcrypt.using(ident="2", rounds=4),
    "bcrypt_sha256": bcrypt_sha256.using(rounds=4),
    "scrypt": scrypt.using(rounds=4),
    "pbkdf2_sha512": pbkdf2_sha512.using(rounds=1000),
}
print(json.dumps([schemes[s].hash(p.encode("utf-8")) for s, p in json.load(sys.stdin)]))
`;

    const passwords = ['secret', 'pässwörd € 🔑', ascii(100, 'L')];

    it('hashes written here verify under passlib, and wrong passwords do not', async () => {
      const cases: [string, string, string][] = [];
      for (const password of passwords) {
        for (const opts of [
          options(),
          options({ algorithm: 'bcrypt_sha256' }),
          options({ algorithm: 'scrypt' }),
          FAST_PBKDF2,
          options({ algorithm: 'pbkdf2_sha512', saltBytesize: 40 }),
        ]) {
          const hash = await hashPassword(password, opts);
          // passlib's bcrypt truncates to 72 bytes as well, so the full password is what to check.
          cases.push([opts.algorithm, password, hash], [opts.algorithm, `${password}!`, hash]);
        }
      }
      const verdicts = passlib(PASSLIB_VERIFY, cases);
      const expected = cases.map(([algorithm, password]) => !password.endsWith('!') || (algorithm === 'bcrypt' && byteLength(password) > 72));
      assert.deepEqual(verdicts, expected);
    });

    it('hashes written by passlib (including sha512_crypt at 656000 rounds) verify here', async () => {
      const schemes = ['sha512_crypt', 'sha512_crypt_1000', 'bcrypt_2a', 'bcrypt_2y', 'bcrypt_2', 'bcrypt_sha256', 'scrypt', 'pbkdf2_sha512'];
      const requests = schemes.flatMap((scheme) => passwords.map((password) => [scheme, password] as const));
      // One 656000-round hash is enough; it is the slow one.
      const selected = requests.filter(([scheme, password]) => scheme !== 'sha512_crypt' || password === passwords[1]);
      const hashes = passlib(PASSLIB_HASH, selected) as string[];
      assert.equal(hashes.length, selected.length);
      for (const [index, [scheme, password]] of selected.entries()) {
        const hash = hashes[index] ?? '';
        assert.equal(await verifyPassword(password, hash, options()), true, `${scheme}: ${hash}`);
        assert.equal(await verifyPassword(`${password}!`, hash, options()), scheme.startsWith('bcrypt_2') && byteLength(password) > 72, `${scheme} wrong password`);
      }
    });
  });
});

import { ConfigError, TokenNotFound, Unauthorized, UnexpectedError } from '../common/errors.js';

/**
 * Any failure to open a Fernet token: bad base64, bad length, bad version byte, no key whose HMAC
 * matches, bad padding. One class and one message on purpose, as in `cryptography.fernet`: telling
 * a caller *which* check failed would help forge tokens.
 */
export class InvalidFernetToken extends Error {
  constructor() {
    super('Invalid Fernet token');
    this.name = 'InvalidFernetToken';
  }
}

/** Why a token is not valid: 'invalid' (cannot be read) or 'expired' (read, but past expires_at). */
export type InvalidTokenReason = 'invalid' | 'expired';

/**
 * A token that cannot be used. Keystone turns its ValidationError into TokenNotFound: 404 when the
 * token is the X-Subject-Token; the auth middleware makes it 401 when it is the X-Auth-Token.
 */
export class InvalidToken extends TokenNotFound {
  constructor(
    override readonly reason: InvalidTokenReason,
    message = reason === 'expired' ? 'Failed to validate token' : 'Could not recognize Fernet token',
  ) {
    super(message, reason);
  }
}

/** Keystone's ReceiptNotFound: an unreadable or expired auth receipt is a 401 (spec 1.7). */
export class InvalidReceipt extends Unauthorized {
  constructor(readonly reason: InvalidTokenReason) {
    super(`receipt ${reason}`);
  }
}

/**
 * Token data that no payload format can carry, found at issue time (e.g. a v1 domain id that is
 * neither a UUID nor the default domain). Keystone fails the same way with a 500.
 */
export class TokenPayloadError extends UnexpectedError {
  constructor(detail: string) {
    super(detail);
  }
}

/** A key repository that is missing, empty, unreadable or holds a malformed key. */
export class KeyRepositoryError extends ConfigError {
  constructor(
    readonly directory: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeyRepositoryError';
  }
}

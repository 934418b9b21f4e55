/**
 * One error hierarchy, rendered by one error middleware into Keystone's body
 * `{"error": {"code", "message", "title"}}`. Handlers and providers throw; nothing else renders.
 *
 * Keystone's "security errors" (401, 403 and 500) never show a custom message to the client:
 * the text that explains *why* (wrong password, locked account, disabled project) would tell an
 * attacker which guess was close. They keep it in `detail`, which only the log sees.
 */
export class KeystoneError extends Error {
  /** Extra members of the error object, e.g. `identity` for auth-method errors. */
  readonly extra: Record<string, unknown> | undefined;
  /** Internal explanation for the log; never sent to the client. */
  readonly detail: string | undefined;

  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    options: { detail?: string; extra?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.detail = options.detail;
    this.extra = options.extra;
  }

  /** Only 4xx messages are shown as is; a 5xx body hides internals. */
  get expose(): boolean {
    return this.status < 500;
  }
}

export class ValidationError extends KeystoneError {
  constructor(message: string) {
    super(400, 'Bad Request', message);
  }
}

export const INVALID_JSON_MESSAGE =
  'Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

/** 401 with Keystone's generic message; the reason goes to `detail` only. */
export class Unauthorized extends KeystoneError {
  constructor(detail?: string, options: { message?: string; extra?: Record<string, unknown> } = {}) {
    super(401, 'Unauthorized', options.message ?? 'The request you have made requires authentication.', {
      detail,
      extra: options.extra,
    });
  }
}

export class AuthMethodNotSupported extends Unauthorized {
  constructor(methods: readonly string[]) {
    super('unsupported auth method', {
      message: 'Attempted to authenticate with an unsupported method.',
      extra: { identity: { methods: [...methods] } },
    });
  }
}

export class PasswordExpired extends Unauthorized {
  constructor(userId: string) {
    // Keystone builds this message from its template, so it is shown despite being a 401.
    super('password expired', { message: `The password is expired and needs to be changed for user: ${userId}.` });
  }
}

export class Forbidden extends KeystoneError {
  constructor(detail?: string) {
    super(403, 'Forbidden', 'You are not authorized to perform the requested action.', { detail });
  }
}

/** A policy denial names the rule, as Keystone's ForbiddenAction does. */
export class ForbiddenAction extends KeystoneError {
  constructor(
    readonly action: string,
    violations?: readonly { field: string; message: string }[],
  ) {
    super(403, 'Forbidden', `You are not authorized to perform the requested action: ${action}.`, {
      extra: violations && violations.length > 0 ? { violations } : undefined,
    });
  }
}

/** Keystone's ForbiddenNotSecurity: a 403 whose text is safe and useful to show. */
export class ForbiddenNotSecurity extends KeystoneError {
  constructor(message: string) {
    super(403, 'Forbidden', message);
  }
}

export class NotFound extends KeystoneError {
  constructor(message: string) {
    super(404, 'Not Found', message);
  }

  static entity(type: string, id: string): NotFound {
    return new NotFound(`Could not find ${type}: ${id}.`);
  }
}

/** Subject-token failures on validate: always 404, never a hint of why beyond Keystone's text. */
export class TokenNotFound extends NotFound {
  constructor(
    message = 'Failed to validate token',
    readonly reason?: string,
  ) {
    super(message);
  }
}

export class MethodNotAllowed extends KeystoneError {
  constructor() {
    super(405, 'Method Not Allowed', 'The method is not allowed for the requested URL.');
  }
}

export class Conflict extends KeystoneError {
  constructor(type: string, details: string) {
    super(409, 'Conflict', `Conflict occurred attempting to store ${type} - ${details}.`);
  }
}

export class PayloadTooLarge extends KeystoneError {
  constructor() {
    super(413, 'Request Entity Too Large', 'Request is too large.');
  }
}

export class UnexpectedError extends KeystoneError {
  constructor(detail?: string) {
    super(
      500,
      'Internal Server Error',
      'An unexpected error prevented the server from fulfilling your request.',
      { detail },
    );
  }
}

/** Start-up configuration problems: the message names the section, option and value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

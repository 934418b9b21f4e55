/**
 * Keystone's `TokenFormatter` and `ReceiptFormatter`: token data ⇄ the text of a Fernet token or
 * auth receipt, readable and writable by Keystone itself given the same key repository and
 * `[auth] methods` (spec 1.1-1.7).
 *
 * Parsing authenticates and decodes only. Expiry, revocation and the entities behind the ids are
 * the token provider's checks (spec 1.6); {@link isExpired} gives the expiry rule.
 */
import { keystoneIsoTime } from '../common/time.js';
import { InvalidFernetToken, InvalidReceipt, InvalidToken } from './errors.js';
import { MultiFernet } from './fernet.js';
import { MalformedPayload, PayloadCodec, UnknownPayloadVersion } from './payload.js';
import type { ReceiptContent, ReceiptData, TokenContent, TokenData } from './payload.js';

export type { ReceiptContent, ReceiptData, TokenContent, TokenData } from './payload.js';

/**
 * Where the keys come from, primary first; a {@link KeyRepository} in production. It should
 * return the same array while the keys do not change: the Fernet instance is rebuilt when the
 * array changes.
 */
export interface KeySource {
  keys(): readonly Buffer[];
}

export interface FormatterOptions {
  keys: KeySource;
  /** `[auth] methods`, in configuration order: it decides the method bits (spec 1.4). */
  methods: readonly string[];
  /** `[identity] default_domain_id`. */
  defaultDomainId: string;
  /** The clock that stamps new tokens; default the system clock. */
  now?: () => Date;
}

export interface CreateOptions {
  /** Fernet timestamp (seconds), which becomes `issued_at`; default `now()`. */
  timestamp?: number;
  /** Fixed IV, only to reproduce test vectors. */
  iv?: Buffer;
}

/** Python's datetime ends with year 9999: a later Fernet timestamp cannot be a Keystone token. */
const MAX_PY_DATETIME = 253402300799;

/** The Fernet layer shared by tokens and receipts: key caching, stripped padding, timestamps. */
class FernetEnvelope {
  readonly #keys: KeySource;
  readonly #now: () => Date;
  #fernetKeys: readonly Buffer[] | undefined;
  #fernet: MultiFernet | undefined;

  constructor(keys: KeySource, now: () => Date) {
    this.#keys = keys;
    this.#now = now;
  }

  seal(plaintext: Buffer, opts: CreateOptions): string {
    const timestamp = opts.timestamp ?? Math.floor(this.#now().getTime() / 1000);
    // Keystone strips the base64 padding of tokens and receipts (spec 1.1).
    return this.#multiFernet().encrypt(plaintext, { timestamp, iv: opts.iv, padding: false });
  }

  /** `null` when the text is not a Fernet token of these keys. */
  open(text: string): { plaintext: Buffer; issuedAt: Date } | null {
    try {
      const { plaintext, timestamp } = this.#multiFernet().decrypt(text);
      if (timestamp > MAX_PY_DATETIME) return null;
      return { plaintext, issuedAt: new Date(timestamp * 1000) };
    } catch (err) {
      if (err instanceof InvalidFernetToken) return null;
      throw err;
    }
  }

  #multiFernet(): MultiFernet {
    const keys = this.#keys.keys();
    if (keys !== this.#fernetKeys || this.#fernet === undefined) {
      this.#fernet = new MultiFernet(keys);
      this.#fernetKeys = keys;
    }
    return this.#fernet;
  }
}

export class TokenFormatter {
  readonly #envelope: FernetEnvelope;
  readonly #codec: PayloadCodec;

  constructor(options: FormatterOptions) {
    this.#envelope = new FernetEnvelope(options.keys, options.now ?? (() => new Date()));
    this.#codec = new PayloadCodec({ methods: options.methods, defaultDomainId: options.defaultDomainId });
  }

  /**
   * The token text (no `=` padding) for the payload version Keystone would choose.
   * @throws TokenPayloadError when no payload can carry the data (Keystone fails with a 500 too)
   */
  create(data: TokenContent, opts: CreateOptions = {}): string {
    return this.#envelope.seal(this.#codec.encodeToken(data), opts);
  }

  /**
   * The data of a token made with one of the keys, expired or not.
   * @throws InvalidToken ('invalid') when the token cannot be decrypted or decoded
   */
  parse(token: string): TokenData {
    const opened = this.#envelope.open(token);
    if (opened === null) throw new InvalidToken('invalid');
    try {
      return this.#codec.decodeToken(opened.plaintext, opened.issuedAt);
    } catch (err) {
      if (err instanceof UnknownPayloadVersion) throw new InvalidToken('invalid', err.message);
      if (err instanceof MalformedPayload) throw new InvalidToken('invalid');
      throw err;
    }
  }
}

/** Auth receipts (spec 1.7): the same container, keys from `[fernet_receipts] key_repository`. */
export class ReceiptFormatter {
  readonly #envelope: FernetEnvelope;
  readonly #codec: PayloadCodec;

  constructor(options: FormatterOptions) {
    this.#envelope = new FernetEnvelope(options.keys, options.now ?? (() => new Date()));
    this.#codec = new PayloadCodec({ methods: options.methods, defaultDomainId: options.defaultDomainId });
  }

  create(data: ReceiptContent, opts: CreateOptions = {}): string {
    return this.#envelope.seal(this.#codec.encodeReceipt(data), opts);
  }

  /** @throws InvalidReceipt ('invalid') when the receipt cannot be decrypted or decoded */
  parse(receipt: string): ReceiptData {
    const opened = this.#envelope.open(receipt);
    if (opened === null) throw new InvalidReceipt('invalid');
    try {
      return this.#codec.decodeReceipt(opened.plaintext, opened.issuedAt);
    } catch (err) {
      if (err instanceof MalformedPayload) throw new InvalidReceipt('invalid');
      throw err;
    }
  }
}

/**
 * Keystone's expiry rule (spec 1.6): valid while `now < expires_at + window`, where the window is
 * `[token] allow_expired_window` for `?allow_expired=true` and 0 otherwise.
 */
export function isExpired(data: { expiresAt: Date }, now: Date, windowSeconds = 0): boolean {
  return now.getTime() >= data.expiresAt.getTime() + windowSeconds * 1000;
}

/**
 * A token's fields as Keystone's `validate_token` returns them, by their Keystone names (the shape
 * of `token inspect` and of the test vectors). `thumbprint` appears only on payload 10 tokens,
 * which the vectors' Keystone (Zed) does not have.
 */
export interface TokenInspection {
  user_id: string;
  methods: string[];
  audit_ids: string[];
  system: string | null;
  domain_id: string | null;
  project_id: string | null;
  trust_id: string | null;
  federated_group_ids: { id: string }[] | null;
  identity_provider_id: string | null;
  protocol_id: string | null;
  access_token_id: string | null;
  app_cred_id: string | null;
  thumbprint?: string;
  /** Restricted tokens (payload 11) only. */
  token_restriction?: { id: string; allow_renew: boolean; allow_rescope: boolean };
  issued_at: string;
  expires_at: string;
}

export function inspectJson(data: TokenData): TokenInspection {
  return {
    user_id: data.userId,
    methods: [...data.methods],
    audit_ids: [...data.auditIds],
    system: data.system,
    domain_id: data.domainId,
    project_id: data.projectId,
    trust_id: data.trustId,
    federated_group_ids: data.federatedGroupIds === null ? null : data.federatedGroupIds.map((id) => ({ id })),
    identity_provider_id: data.identityProviderId,
    protocol_id: data.protocolId,
    access_token_id: data.accessTokenId,
    app_cred_id: data.appCredId,
    ...(data.thumbprint === null ? {} : { thumbprint: data.thumbprint }),
    ...(data.restriction === null
      ? {}
      : { token_restriction: { id: data.restriction.id, allow_renew: data.restriction.allowRenew, allow_rescope: data.restriction.allowRescope } }),
    issued_at: keystoneIsoTime(data.issuedAt),
    expires_at: keystoneIsoTime(data.expiresAt),
  };
}

/**
 * Fernet token and receipt payloads: what Keystone's `token_formatters` / `receipt_formatters`
 * put inside the Fernet container, byte for byte (spec 1.3-1.5, 1.7, Appendix A).
 *
 * A token plaintext is `msgpack.packb((version,) + payload)`, a receipt plaintext
 * `msgpack.packb((user, methods, expires))` with no version. Field encodings:
 * - ID tuple `[is_uuid, value]`: `[true, bin16]` when Python's `uuid.UUID(value)` accepts the id,
 *   else `[false, str | nil]`; comes back as 32 lowercase hex digits or the string as is.
 * - methods: the bitmask of {@link AuthMethodCodec}.
 * - expires_at: always a msgpack float64 (`cb`), integral as Keystone's issue path truncates to
 *   whole seconds; a fraction from another issuer is tolerated (and dropped) on decode.
 * - audit ids: each 22-char urlsafe-base64 id as its 16 raw bytes.
 */
import { isUtf8 } from 'node:buffer';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { epochSeconds } from '../common/time.js';
import { TokenPayloadError } from './errors.js';
import { AuthMethodCodec } from './methods.js';
import { pythonUuidBytes } from './python-compat.js';

/** What a restricted token (payload 11) carries of its restriction. */
export interface TokenRestrictionRef {
  readonly id: string;
  readonly allowRenew: boolean;
  readonly allowRescope: boolean;
}

/** A token as Keystone's `TokenFormatter.validate_token` returns it. */
export interface TokenData {
  userId: string;
  /** Method names, highest bit first (spec 1.4), e.g. ['token', 'password']. */
  methods: string[];
  /** `[audit_id]` or `[audit_id, parent_audit_id]`. */
  auditIds: string[];
  /** 'all' for a system-scoped token. */
  system: string | null;
  domainId: string | null;
  projectId: string | null;
  trustId: string | null;
  /** Non-null exactly for federated tokens (payloads 4-6); may be empty. */
  federatedGroupIds: string[] | null;
  identityProviderId: string | null;
  protocolId: string | null;
  /** OAuth1 access token (payload 7). */
  accessTokenId: string | null;
  /** Application credential (payload 9). */
  appCredId: string | null;
  /** OAuth2 mTLS certificate thumbprint (payload 10, Keystone 2026 only). */
  thumbprint: string | null;
  /**
   * A restricted token (payload 11, Keystone-NG's layout): the token restriction and the two
   * flags copied into the token when it was issued. Always project-scoped.
   */
  restriction: TokenRestrictionRef | null;
  /** From the Fernet timestamp, not the payload (spec 1.1). */
  issuedAt: Date;
  /** Whole seconds. */
  expiresAt: Date;
}

/** What goes into a token: everything but `issuedAt`, which is the Fernet timestamp. */
export type TokenContent = Omit<TokenData, 'issuedAt'>;

/** A token's content with every scope and delegation field absent unless given. */
export function tokenContent(
  fields: Pick<TokenContent, 'userId' | 'methods' | 'auditIds' | 'expiresAt'> & Partial<TokenContent>,
): TokenContent {
  return {
    system: null,
    domainId: null,
    projectId: null,
    trustId: null,
    federatedGroupIds: null,
    identityProviderId: null,
    protocolId: null,
    accessTokenId: null,
    appCredId: null,
    thumbprint: null,
    restriction: null,
    ...fields,
  };
}

/** An MFA auth receipt (spec 1.7). */
export interface ReceiptData {
  userId: string;
  methods: string[];
  issuedAt: Date;
  expiresAt: Date;
}

export type ReceiptContent = Omit<ReceiptData, 'issuedAt'>;

/** Payload versions, named after Keystone's payload classes. */
export const PayloadVersion = {
  Unscoped: 0,
  DomainScoped: 1,
  ProjectScoped: 2,
  TrustScoped: 3,
  FederatedUnscoped: 4,
  FederatedProjectScoped: 5,
  FederatedDomainScoped: 6,
  OauthScoped: 7,
  SystemScoped: 8,
  ApplicationCredentialScoped: 9,
  Oauth2CredentialsScoped: 10,
  /** Keystone-NG's RestrictedPayload; upstream Python Keystone does not know it. */
  Restricted: 11,
} as const;
export type PayloadVersion = (typeof PayloadVersion)[keyof typeof PayloadVersion];

/**
 * The payload version Keystone's Fernet provider picks for a token, first match wins (spec 1.5).
 * A token is federated when it carries federated groups (possibly none: `[]`).
 */
export function selectPayloadVersion(data: TokenContent): PayloadVersion {
  if (data.restriction !== null) {
    // NG's layout has room for a user, a project and the restriction only: anything else the
    // token claimed would be silently dropped, so it is refused instead.
    if (data.projectId === null) throw new TokenPayloadError('a restricted token must be project scoped');
    if (data.trustId !== null || data.accessTokenId !== null || data.appCredId !== null || data.federatedGroupIds !== null || data.thumbprint !== null || data.system !== null || data.domainId !== null) {
      throw new TokenPayloadError('a restricted token carries no other delegation or scope');
    }
    return PayloadVersion.Restricted;
  }
  if (data.accessTokenId !== null) return PayloadVersion.OauthScoped;
  if (data.trustId !== null) return PayloadVersion.TrustScoped;
  if (data.federatedGroupIds !== null) {
    if (data.projectId !== null) return PayloadVersion.FederatedProjectScoped;
    if (data.domainId !== null) return PayloadVersion.FederatedDomainScoped;
    // Keystone finds no payload class for a federated system-scoped token (it fails with a 500).
    if (data.system !== null) throw new TokenPayloadError('a federated token cannot be system scoped');
    return PayloadVersion.FederatedUnscoped;
  }
  if (data.appCredId !== null) return PayloadVersion.ApplicationCredentialScoped;
  if (data.thumbprint !== null) return PayloadVersion.Oauth2CredentialsScoped;
  if (data.projectId !== null) return PayloadVersion.ProjectScoped;
  if (data.domainId !== null) return PayloadVersion.DomainScoped;
  if (data.system !== null) return PayloadVersion.SystemScoped;
  return PayloadVersion.Unscoped;
}

/** A plaintext that is authentic (its HMAC matched) but not a payload this codec understands. */
export class MalformedPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayload';
  }
}

/** Keystone's own message for an unknown version (spec 1.5); it reaches the 404 body. */
export class UnknownPayloadVersion extends MalformedPayload {
  constructor(readonly version: unknown) {
    super(`This is not a recognized Fernet payload version: ${String(version)}`);
    this.name = 'UnknownPayloadVersion';
  }
}

/** Forces msgpack float64 for an element whose value may be integral (expires_at, spec 1.3). */
class Float64 {
  constructor(readonly value: number) {}
}

type Element = string | number | boolean | null | Buffer | Float64 | readonly Element[];

const AUDIT_ID_TEXT = /^[A-Za-z0-9_+/-]*$/;
const MAX_FIXARRAY = 15;
/** Python's datetime range, years 1 to 9999, in epoch seconds. */
const MIN_PY_DATETIME = -62135596800;
const MAX_PY_DATETIME = 253402300799;

/**
 * Element count (version included) and index of expires_at of each payload version; audit_ids
 * follow expires_at (spec 1.5) except in NG's restricted payload, which puts them last.
 */
const TOKEN_LAYOUTS: ReadonlyMap<number, { length: number; expiresAt: number; auditIds?: number }> = new Map([
  [PayloadVersion.Unscoped, { length: 5, expiresAt: 3 }],
  [PayloadVersion.DomainScoped, { length: 6, expiresAt: 4 }],
  [PayloadVersion.ProjectScoped, { length: 6, expiresAt: 4 }],
  [PayloadVersion.TrustScoped, { length: 7, expiresAt: 4 }],
  [PayloadVersion.FederatedUnscoped, { length: 8, expiresAt: 6 }],
  [PayloadVersion.FederatedProjectScoped, { length: 9, expiresAt: 7 }],
  [PayloadVersion.FederatedDomainScoped, { length: 9, expiresAt: 7 }],
  [PayloadVersion.OauthScoped, { length: 7, expiresAt: 5 }],
  [PayloadVersion.SystemScoped, { length: 6, expiresAt: 4 }],
  [PayloadVersion.ApplicationCredentialScoped, { length: 7, expiresAt: 4 }],
  [PayloadVersion.Oauth2CredentialsScoped, { length: 8, expiresAt: 5 }],
  [PayloadVersion.Restricted, { length: 9, expiresAt: 4, auditIds: 8 }],
]);

export interface PayloadCodecOptions {
  /** `[auth] methods`, in configuration order. */
  methods: readonly string[];
  /** `[identity] default_domain_id`: the one non-UUID domain id a v1 payload may carry. */
  defaultDomainId: string;
}

export class PayloadCodec {
  readonly #methods: AuthMethodCodec;
  readonly #defaultDomainId: string;
  readonly #encoder = new Encoder();
  /**
   * Strings come back as raw bytes: tokens from msgpack < 1.0 stored UUID bytes as raw *str*
   * (spec 1.3), so every field is converted here from bytes, whatever its msgpack type.
   */
  readonly #decoder = new Decoder({ rawStrings: true });

  constructor(options: PayloadCodecOptions) {
    this.#methods = new AuthMethodCodec(options.methods);
    this.#defaultDomainId = options.defaultDomainId;
  }

  /** The msgpack plaintext of a token, in the version {@link selectPayloadVersion} picks. */
  encodeToken(data: TokenContent): Buffer {
    const version = selectPayloadVersion(data);
    const user = idTuple(data.userId);
    const methods = this.#methods.encode(data.methods);
    const expires = expiresElement(data.expiresAt);
    const audit = auditIdsElement(data.auditIds);
    switch (version) {
      case PayloadVersion.Unscoped:
        return this.#pack([version, user, methods, expires, audit]);
      case PayloadVersion.DomainScoped:
        return this.#pack([version, user, methods, this.#bareDomain(data.domainId as string), expires, audit]);
      case PayloadVersion.ProjectScoped:
        return this.#pack([version, user, methods, idTuple(data.projectId), expires, audit]);
      case PayloadVersion.TrustScoped:
        return this.#pack([version, user, methods, idTuple(data.projectId), expires, audit, trustBytes(data.trustId)]);
      case PayloadVersion.FederatedUnscoped:
        return this.#pack([
          version, user, methods, groupsElement(data.federatedGroupIds), idTuple(data.identityProviderId),
          data.protocolId, expires, audit,
        ]);
      case PayloadVersion.FederatedProjectScoped:
      case PayloadVersion.FederatedDomainScoped:
        return this.#pack([
          version, user, methods, idTuple(data.projectId ?? data.domainId), groupsElement(data.federatedGroupIds),
          idTuple(data.identityProviderId), data.protocolId, expires, audit,
        ]);
      case PayloadVersion.OauthScoped:
        return this.#pack([version, user, methods, idTuple(data.projectId), idTuple(data.accessTokenId), expires, audit]);
      case PayloadVersion.SystemScoped:
        return this.#pack([version, user, methods, data.system, expires, audit]);
      case PayloadVersion.ApplicationCredentialScoped:
        return this.#pack([version, user, methods, idTuple(data.projectId), expires, audit, idTuple(data.appCredId)]);
      case PayloadVersion.Oauth2CredentialsScoped:
        // The thumbprint is never UUID-converted: always `(False, value)`.
        return this.#pack([
          version, user, methods, idTuple(data.projectId), idTuple(data.domainId), expires, audit,
          [false, data.thumbprint],
        ]);
      case PayloadVersion.Restricted: {
        // Keystone-NG's RestrictedPayload (token-driver-fernet/src/restricted.rs):
        // [11, ID user, M methods, ID restriction, E expires, ID project, renew, rescope, A audit].
        const restriction = data.restriction!;
        return this.#pack([
          version, user, methods, idTuple(restriction.id), expires, idTuple(data.projectId),
          restriction.allowRenew, restriction.allowRescope, audit,
        ]);
      }
    }
  }

  /**
   * The token data of an authentic plaintext; `issuedAt` comes from the Fernet timestamp.
   * @throws MalformedPayload (UnknownPayloadVersion for a version this codec does not know)
   */
  decodeToken(plaintext: Buffer, issuedAt: Date): TokenData {
    const p = this.#unpack(plaintext);
    const version = p[0];
    const layout = typeof version === 'number' ? TOKEN_LAYOUTS.get(version) : undefined;
    if (layout === undefined) throw new UnknownPayloadVersion(version);
    if (p.length !== layout.length) {
      throw new MalformedPayload(`payload version ${version} has ${layout.length} elements, got ${p.length}`);
    }
    const userId = decodeIdTuple(p[1], 'user_id');
    if (userId === null) throw new MalformedPayload('user_id is null');
    const data: TokenData = {
      ...tokenContent({
        userId,
        methods: this.#decodeMethods(p[2]),
        auditIds: decodeAuditIds(p[layout.auditIds ?? layout.expiresAt + 1]),
        expiresAt: decodeExpires(p[layout.expiresAt]),
      }),
      issuedAt,
    };
    switch (version) {
      case PayloadVersion.Unscoped:
        break;
      case PayloadVersion.DomainScoped:
        data.domainId = this.#decodeBareDomain(p[3]);
        break;
      case PayloadVersion.ProjectScoped:
        data.projectId = decodeIdTuple(p[3], 'project_id');
        break;
      case PayloadVersion.TrustScoped:
        data.projectId = decodeIdTuple(p[3], 'project_id');
        data.trustId = uuidHex(p[6], 'trust_id');
        break;
      case PayloadVersion.FederatedUnscoped:
        data.federatedGroupIds = decodeGroups(p[3]);
        data.identityProviderId = decodeIdTuple(p[4], 'identity_provider_id');
        data.protocolId = optionalText(p[5], 'protocol_id');
        break;
      case PayloadVersion.FederatedProjectScoped:
      case PayloadVersion.FederatedDomainScoped: {
        const scope = decodeIdTuple(p[3], 'scope_id');
        if (version === PayloadVersion.FederatedProjectScoped) data.projectId = scope;
        else data.domainId = scope;
        data.federatedGroupIds = decodeGroups(p[4]);
        data.identityProviderId = decodeIdTuple(p[5], 'identity_provider_id');
        data.protocolId = optionalText(p[6], 'protocol_id');
        break;
      }
      case PayloadVersion.OauthScoped:
        data.projectId = decodeIdTuple(p[3], 'project_id');
        data.accessTokenId = decodeIdTuple(p[4], 'access_token_id');
        break;
      case PayloadVersion.SystemScoped:
        data.system = optionalText(p[3], 'system');
        break;
      case PayloadVersion.ApplicationCredentialScoped:
        data.projectId = decodeIdTuple(p[3], 'project_id');
        data.appCredId = decodeIdTuple(p[6], 'app_cred_id');
        break;
      case PayloadVersion.Oauth2CredentialsScoped:
        data.projectId = decodeIdTuple(p[3], 'project_id');
        data.domainId = decodeIdTuple(p[4], 'domain_id');
        data.thumbprint = decodeIdTuple(p[7], 'thumbprint');
        break;
      case PayloadVersion.Restricted: {
        const id = decodeIdTuple(p[3], 'token_restriction_id');
        data.projectId = decodeIdTuple(p[5], 'project_id');
        if (id === null || data.projectId === null) throw new MalformedPayload('a restricted token needs a restriction and a project');
        data.restriction = { id, allowRenew: decodeBool(p[6], 'allow_renew'), allowRescope: decodeBool(p[7], 'allow_rescope') };
        break;
      }
    }
    return data;
  }

  /** A receipt plaintext: `[ID user, M methods, E expires]`, no version element (spec 1.7). */
  encodeReceipt(data: ReceiptContent): Buffer {
    return this.#pack([idTuple(data.userId), this.#methods.encode(data.methods), expiresElement(data.expiresAt)]);
  }

  /** @throws MalformedPayload */
  decodeReceipt(plaintext: Buffer, issuedAt: Date): ReceiptData {
    const p = this.#unpack(plaintext);
    if (p.length !== 3) throw new MalformedPayload(`a receipt has 3 elements, got ${p.length}`);
    const userId = decodeIdTuple(p[0], 'user_id');
    if (userId === null) throw new MalformedPayload('user_id is null');
    return { userId, methods: this.#decodeMethods(p[1]), issuedAt, expiresAt: decodeExpires(p[2]) };
  }

  /**
   * v1 stores the domain bare, not as an ID tuple: 16 bytes for a UUID, else the string, which
   * Keystone only allows for the configured default domain (spec 1.5).
   */
  #bareDomain(domainId: string): Element {
    const bytes = pythonUuidBytes(domainId);
    if (bytes !== null) return bytes;
    if (domainId !== this.#defaultDomainId) {
      throw new TokenPayloadError(
        `domain id '${domainId}' is neither a UUID nor the default domain id; a domain-scoped Fernet payload cannot carry it`,
      );
    }
    if (Buffer.byteLength(domainId) === 16) {
      // Decoders (Keystone's and ours) read any 16-byte value as UUID bytes, so such a default
      // domain id would come back as hex. Keystone issues the token and then cannot validate it.
      throw new TokenPayloadError(
        `default domain id '${domainId}' is 16 bytes long and would be read back as a UUID`,
      );
    }
    return domainId;
  }

  #decodeBareDomain(value: unknown): string {
    const bytes = rawBytes(value, 'domain_id');
    if (bytes.length === 16) return bytes.toString('hex');
    const text = utf8(bytes, 'domain_id');
    if (text !== this.#defaultDomainId) {
      throw new MalformedPayload('domain_id is neither a UUID nor the default domain id');
    }
    return text;
  }

  #decodeMethods(value: unknown): string[] {
    if (typeof value !== 'number') throw new MalformedPayload('methods is not an integer');
    return this.#methods.decode(value);
  }

  #pack(elements: readonly Element[]): Buffer {
    if (elements.length > MAX_FIXARRAY) throw new RangeError('payload too long for a fixarray');
    // A msgpack array is its header followed by its elements, so elements are encoded one by one:
    // the library for everything but the float64 that it would otherwise write as an int.
    const parts: Uint8Array[] = [Uint8Array.of(0x90 | elements.length)];
    for (const element of elements) {
      if (element instanceof Float64) {
        const float = Buffer.allocUnsafe(9);
        float[0] = 0xcb;
        float.writeDoubleBE(element.value, 1);
        parts.push(float);
      } else {
        parts.push(this.#encoder.encode(element));
      }
    }
    return Buffer.concat(parts);
  }

  #unpack(plaintext: Buffer): readonly unknown[] {
    let decoded: unknown;
    try {
      decoded = this.#decoder.decode(plaintext);
    } catch (err) {
      throw new MalformedPayload(`not msgpack: ${(err as Error).message}`);
    }
    if (!Array.isArray(decoded) || decoded.length === 0) throw new MalformedPayload('not a msgpack array');
    return decoded;
  }
}

// ---- encoding helpers -------------------------------------------------------------------------

/** Keystone's `attempt_convert_uuid_hex_to_bytes`: `(True, uuid bytes)` or `(False, value)`. */
function idTuple(value: string | null): Element {
  if (value === null) return [false, null];
  const bytes = pythonUuidBytes(value);
  return bytes !== null ? [true, bytes] : [false, value];
}

function trustBytes(trustId: string | null): Buffer {
  // Keystone's convert_uuid_hex_to_bytes without the fallback: a trust id must be a UUID.
  const bytes = trustId === null ? null : pythonUuidBytes(trustId);
  if (bytes === null) throw new TokenPayloadError(`trust id '${String(trustId)}' is not a UUID`);
  return bytes;
}

function groupsElement(groupIds: readonly string[] | null): Element {
  return (groupIds ?? []).map(idTuple);
}

/** Keystone truncates expiry to whole seconds before packing, so the float is integral. */
function expiresElement(expiresAt: Date): Float64 {
  if (Number.isNaN(expiresAt.getTime())) throw new TokenPayloadError('expires_at is not a valid date');
  return new Float64(epochSeconds(expiresAt));
}

/** `urlsafe_b64decode(audit_id + '==')`: 16 raw bytes for Keystone's 22-character audit ids. */
function auditIdsElement(auditIds: readonly string[]): Element {
  return auditIds.map((auditId) => {
    if (!AUDIT_ID_TEXT.test(auditId) || auditId.length % 4 === 1) {
      throw new TokenPayloadError(`audit id '${auditId}' is not urlsafe base64`);
    }
    return Buffer.from(auditId, 'base64');
  });
}

// ---- decoding helpers -------------------------------------------------------------------------

function rawBytes(value: unknown, field: string): Buffer {
  if (!(value instanceof Uint8Array)) throw new MalformedPayload(`${field} is not bytes`);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Python's strict `bytes.decode('utf-8')` (which keeps a BOM). */
function utf8(bytes: Buffer, field: string): string {
  if (!isUtf8(bytes)) throw new MalformedPayload(`${field} is not UTF-8`);
  return bytes.toString('utf8');
}

function optionalText(value: unknown, field: string): string | null {
  return value === null ? null : utf8(rawBytes(value, field), field);
}

/** Keystone's `uuid.UUID(bytes=value).hex`, which requires exactly 16 bytes. */
function uuidHex(value: unknown, field: string): string {
  const bytes = rawBytes(value, field);
  if (bytes.length !== 16) throw new MalformedPayload(`${field} is not 16 UUID bytes`);
  return bytes.toString('hex');
}

/** Keystone's `_convert_or_decode` over an ID tuple. */
function decodeIdTuple(value: unknown, field: string): string | null {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'boolean') {
    throw new MalformedPayload(`${field} is not an ID tuple`);
  }
  if (value[0]) return uuidHex(value[1], field);
  return optionalText(value[1], field);
}

function decodeBool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new MalformedPayload(`${field} is not a boolean`);
  return value;
}

function decodeGroups(value: unknown): string[] {
  if (!Array.isArray(value)) throw new MalformedPayload('federated_group_ids is not an array');
  return value.map((group) => {
    const id = decodeIdTuple(group, 'federated_group_id');
    if (id === null) throw new MalformedPayload('federated group id is null');
    return id;
  });
}

function decodeAuditIds(value: unknown): string[] {
  if (!Array.isArray(value)) throw new MalformedPayload('audit_ids is not an array');
  // `urlsafe_b64encode(b).rstrip('=')`
  return value.map((auditId) => rawBytes(auditId, 'audit_id').toString('base64url'));
}

/**
 * `datetime.fromtimestamp(f, UTC)` then `isotime`: Python rounds to microseconds (half to even)
 * and `isotime` then drops them, so e.g. x.9999996 lands on the next second.
 */
function decodeExpires(value: unknown): Date {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MalformedPayload('expires_at is not a number');
  let seconds = Math.trunc(value);
  const micros = roundHalfEven((value - seconds) * 1e6);
  if (micros >= 1e6) seconds += 1;
  else if (micros < 0) seconds -= 1;
  if (seconds < MIN_PY_DATETIME || seconds > MAX_PY_DATETIME) throw new MalformedPayload('expires_at out of range');
  return new Date(seconds * 1000);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

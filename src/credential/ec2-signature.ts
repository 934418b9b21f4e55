/**
 * AWS-style request signatures as Keystone checks them for /v3/ec2tokens and /v3/s3tokens:
 * keystoneclient's `contrib.ec2.utils.Ec2Signer` (signature versions 0, 1, 2 and 4) and the v1/v4
 * string-to-sign checks of keystone/api/s3tokens.py. The signer recomputes the signature from the
 * credential's secret and the request description the client (ec2-api, swift3, s3api) forwards;
 * callers compare with {@link signaturesEqual}, in constant time.
 *
 * Keystone lets a malformed request description escape as a 500; here it is an
 * {@link Ec2SignatureError}, which the caller answers as an invalid signature (401).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export class Ec2SignatureError extends Error {}

/** The `credentials` member of an ec2tokens request (keystoneclient's Ec2Signer input). */
export interface SignedRequest {
  readonly params?: unknown;
  readonly headers?: unknown;
  readonly verb?: unknown;
  readonly host?: unknown;
  readonly path?: unknown;
  readonly body_hash?: unknown;
}

type Params = Record<string, unknown>;

function objectOf(value: unknown): Params | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Params) : undefined;
}

function required(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Ec2SignatureError(`${what} missing or not a string`);
  return value;
}

/** Python's `str(value)` for what JSON can carry, as Ec2Signer._get_utf8_value renders values. */
function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  throw new Ec2SignatureError('a parameter value is neither a string nor a number');
}

/**
 * `urllib.parse.quote(value, safe='-_~')`: everything but letters, digits and `_.-~`
 * percent-encoded as UTF-8 with upper-case hex.
 */
function quote(value: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    throw new Ec2SignatureError('a parameter is not valid UTF-16');
  }
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Python's default string order: by code point. */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Ec2Signer._canonical_qs: sorted `key=value` pairs, both quoted. */
function canonicalQuery(params: Params): string {
  return Object.keys(params)
    .sort(byCodePoint)
    .map((key) => `${quote(key)}=${quote(pythonStr(params[key]))}`)
    .join('&');
}

const hmac = (algorithm: 'sha1' | 'sha256', key: string | Buffer, data: string | Buffer) => createHmac(algorithm, key).update(data).digest();

function signatureV0(secret: string, params: Params): string {
  return hmac('sha1', secret, required(params['Action'], 'Action') + required(params['Timestamp'], 'Timestamp')).toString('base64');
}

function signatureV1(secret: string, params: Params): string {
  const mac = createHmac('sha1', secret);
  // Sorted case-insensitively (key=str.lower), stably; the key and value are fed one after the other.
  const keys = Object.keys(params).sort((a, b) => byCodePoint(a.toLowerCase(), b.toLowerCase()));
  for (const key of keys) mac.update(key, 'utf8').update(pythonStr(params[key]), 'utf8');
  return mac.digest('base64');
}

function signatureV2(secret: string, params: Params, verb: string, host: string, path: string): string {
  // The signer adds the method it uses to the signed parameters, as the client's signer did.
  params['SignatureMethod'] = 'HmacSHA256';
  return hmac('sha256', secret, `${verb}\n${host}\n${path}\n${canonicalQuery(params)}`).toString('base64');
}

/** Ec2Signer._v4_creds: an `AWS4-HMAC-SHA256` Authorization header, else the X-Amz-Algorithm parameter. */
function isV4(request: SignedRequest, params: Params | undefined): boolean {
  const headers = objectOf(request.headers);
  if (headers && Object.hasOwn(headers, 'Authorization')) {
    const auth = headers['Authorization'];
    return typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256');
  }
  return params?.['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256';
}

function signingKeyV4(secret: string, date: string | Buffer, region: string | Buffer, service: string | Buffer): Buffer {
  const kDate = hmac('sha256', Buffer.concat([Buffer.from('AWS4'), Buffer.from(secret, 'utf8')]), date);
  return hmac('sha256', hmac('sha256', hmac('sha256', kDate, region), service), 'aws4_request');
}

function signatureV4(secret: string, request: SignedRequest, params: Params): string {
  const headers = objectOf(request.headers);
  if (!headers) throw new Ec2SignatureError('headers missing');
  const verb = required(request.verb, 'verb');
  const path = required(request.path, 'path');
  const bodyHash = required(request.body_hash, 'body_hash');

  /** From the Authorization header when there is one, else the X-Amz-<name> query parameter. */
  const authParam = (name: string): string => {
    if (Object.hasOwn(headers, 'Authorization')) {
      const auth = required(headers['Authorization'], 'Authorization');
      const at = auth.indexOf(`${name}=`);
      return at < 0 ? '' : auth.slice(at + name.length + 1).split(',')[0]!;
    }
    return required(params[`X-Amz-${name}`], `X-Amz-${name}`);
  };
  const lowered = new Map<string, string>();
  for (const [key, value] of Object.entries(headers)) lowered.set(key.toLowerCase().trim(), required(value, `header ${key}`).trim());
  // Boto < 2.9.3 signed the host without its port (keystoneclient's transitional workaround).
  const stripPort = /^Boto\/2\.[0-9]\.[0-2]/.test(lowered.get('user-agent') ?? '');
  const signedHeaders = authParam('SignedHeaders');
  const canonicalHeaders =
    signedHeaders
      .split(';')
      .filter((h) => lowered.has(h))
      .map((h) => (h === 'host' && stripPort ? `${h}:${lowered.get(h)!.split(':')[0]}` : `${h}:${lowered.get(h)}`))
      .join('\n') + '\n';
  // POST requests carry their parameters in the body, which body_hash covers.
  const query = verb.toUpperCase() === 'POST' ? '' : canonicalQuery(params);
  const canonicalRequest = [verb.toUpperCase(), path, query, canonicalHeaders, signedHeaders, bodyHash].join('\n');

  const credentialParts = authParam('Credential').split('/');
  if (credentialParts.length < 4) throw new Ec2SignatureError('malformed credential scope');
  const [, date, region, service] = credentialParts as [string, string, string, string];
  const requestDate = Object.hasOwn(headers, 'X-Amz-Date') ? headers['X-Amz-Date'] : params['X-Amz-Date'];
  // A date outside the credential scope is refused before any signing (Request date mismatch).
  if (typeof requestDate !== 'string' || !requestDate.startsWith(date)) throw new Ec2SignatureError('request date mismatch');
  const stringToSign = ['AWS4-HMAC-SHA256', requestDate, credentialParts.slice(1).join('/'), createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  return createHmac('sha256', signingKeyV4(secret, date, region, service)).update(stringToSign, 'utf8').digest('hex');
}

/**
 * Ec2Signer(secret).generate(request). Version 2 adds `SignatureMethod` to `request.params`, as
 * the Python signer does; a second call (Keystone's retry without the port) sees it.
 * @throws Ec2SignatureError for an unknown version or a request description that cannot be signed
 */
export function ec2Signature(secret: string, request: SignedRequest): string {
  const params = objectOf(request.params);
  if (!params) throw new Ec2SignatureError('params missing');
  const version = params['SignatureVersion'];
  if (version === '0') return signatureV0(secret, params);
  if (version === '1') return signatureV1(secret, params);
  if (version === '2') return signatureV2(secret, params, required(request.verb, 'verb'), required(request.host, 'host'), required(request.path, 'path'));
  if (isV4(request, params)) return signatureV4(secret, request, params);
  throw new Ec2SignatureError(version === undefined || version === null ? 'unexpected signature format' : 'unknown signature version');
}

/**
 * s3tokens: the signature of the base64 string-to-sign the S3 middleware forwards, v1 (HMAC-SHA1,
 * base64) unless it starts with `AWS4`; v4 only for a well-formed string whose scope names the
 * s3, iam or sts service.
 */
export function s3Signature(secret: string, token: string): string {
  const stringToSign = Buffer.from(token, 'base64');
  if (stringToSign.subarray(0, 4).toString('latin1') !== 'AWS4') return hmac('sha1', secret, stringToSign).toString('base64');
  const parts = stringToSign.toString('latin1').split('\n');
  if (parts.length !== 4 || parts[0] !== 'AWS4-HMAC-SHA256') throw new Ec2SignatureError('malformed v4 string to sign');
  const scope = parts[2]!.split('/');
  if (scope.length !== 4 || scope[3] !== 'aws4_request') throw new Ec2SignatureError('malformed v4 scope');
  if (!['s3', 'iam', 'sts'].includes(scope[2]!)) throw new Ec2SignatureError('v4 scope names another service');
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  return createHmac('sha256', signingKeyV4(secret, latin1(scope[0]!), latin1(scope[1]!), latin1(scope[2]!))).update(stringToSign).digest('hex');
}

/** utils.auth_str_equal: equal strings, compared in time independent of where they differ. */
export function signaturesEqual(provided: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(provided), digest(expected)) && provided === expected;
}

/** `urlsplit('//' + host).hostname`: the host without port, lower-cased, IPv6 brackets removed. */
export function hostWithoutPort(host: string): string {
  const bracketed = /^\[([^\]]*)\]/.exec(host);
  if (bracketed) return bracketed[1]!.toLowerCase();
  return host.split(':')[0]!.toLowerCase();
}

/**
 * The signed request's timestamp (v1/v2 `Timestamp`, v4 `X-Amz-Date` header or parameter), as
 * iso8601.parse_date reads it (extended or basic format, UTC when no offset). Undefined when the
 * request carries none; null when it is unreadable.
 */
export function signedTimestamp(request: SignedRequest): Date | null | undefined {
  const params = objectOf(request.params) ?? {};
  const headers = objectOf(request.headers) ?? {};
  const value = [params['Timestamp'], headers['X-Amz-Date'], params['X-Amz-Date']].find((v) => v !== undefined && v !== null && v !== '');
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return null;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const millis = Number(`0.${frac || '0'}`) * 1000;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0'));
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.floor(millis)) - offsetMinutes * 60_000;
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  // Date.UTC rolls 2024-02-31 over into March; iso8601 refuses it.
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  return new Date(utc);
}

/**
 * OAuth 1.0a request signatures (RFC 5849) exactly as Keystone checks them through oauthlib
 * (keystone/oauth1/core.py, validator.py): which parameters are signed, how the base string URI
 * is normalized, which protocol checks come before the signature and what each failure is.
 *
 * Pure functions: no storage, no clock of their own. The service looks secrets up and decides.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** oauthlib's OAuth1Error subclasses Keystone turns into a 400 (`validate_oauth_params`). */
export class OAuthRequestError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_signature_method',
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthRequestError';
  }
}

/** The Authorization header is not `OAuth k="v", ...` (oauthlib's ValueError). */
export class MalformedAuthorizationHeader extends Error {
  constructor() {
    super('Malformed authorization header');
    this.name = 'MalformedAuthorizationHeader';
  }
}

/**
 * The signature methods accepted. oauthlib (and so Keystone) also accepts PLAINTEXT, which puts
 * the consumer and token secrets themselves on the wire, and RSA-*, which Keystone cannot verify
 * (its validator has no RSA keys, so they always fail). Only the HMAC family is accepted here:
 * PLAINTEXT is refused like any unsupported method, a deliberate narrowing.
 */
const HMAC_DIGESTS: Readonly<Record<string, 'sha1' | 'sha256' | 'sha512'>> = {
  'HMAC-SHA1': 'sha1',
  'HMAC-SHA256': 'sha256',
  'HMAC-SHA512': 'sha512',
};

/** oauthlib's RequestValidator.timestamp_lifetime: how far oauth_timestamp may be from now. */
export const TIMESTAMP_LIFETIME_SECONDS = 600;

/** Keystone's OAuthValidator: consumer, request and access token keys are uuid4().hex. */
const TOKEN_KEY = /^[0-9a-f]{32}$/;
/** Keystone's check_nonce: only the characters of its "safe" set, any length. */
const NONCE = /^[0-9a-f]*$/;
/** Keystone's VERIFIER_CHARS: letters and digits minus the easily confused `jiIl1oO0`. */
export const VERIFIER_CHARS = 'abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** RFC 5849 section 3.6 percent-encoding: everything but ALPHA, DIGIT, `-._~` (Python's quote(s, safe='~')). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Python's urllib.parse.unquote: each run of %XX escapes is decoded as UTF-8 with invalid bytes
 * replaced, and a `%` not followed by two hex digits stays as it is (decodeURIComponent throws).
 */
export function percentDecode(value: string): string {
  return value.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  });
}

/** urllib.request.parse_http_list: split on commas outside quoted strings, honouring `\` escapes in quotes. */
function parseHttpList(text: string): string[] {
  const parts: string[] = [];
  let part = '';
  let escape = false;
  let quote = false;
  for (const c of text) {
    if (escape) {
      part += c;
      escape = false;
    } else if (quote) {
      if (c === '\\') escape = true;
      else {
        if (c === '"') quote = false;
        part += c;
      }
    } else if (c === ',') {
      parts.push(part);
      part = '';
    } else {
      if (c === '"') quote = true;
      part += c;
    }
  }
  if (part) parts.push(part);
  return parts.map((p) => p.trim());
}

/**
 * oauthlib's parse_authorization_header: `OAuth ` (any case), then `k=v` or `k="v"` items. Values
 * are returned as sent, still percent-encoded; a repeated name keeps its last value (a dict).
 */
export function parseAuthorizationHeader(header: string): [string, string][] {
  if (!header.slice(0, 6).toLowerCase().startsWith('oauth ')) throw new MalformedAuthorizationHeader();
  const parsed = new Map<string, string>();
  for (const item of parseHttpList(header.slice(6))) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new MalformedAuthorizationHeader();
    const key = item.slice(0, eq);
    let value = item.slice(eq + 1);
    if (value === '') throw new MalformedAuthorizationHeader();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    else if (value === '"') value = '';
    parsed.set(key, value);
  }
  return [...parsed];
}

/** Characters oauthlib's urldecode accepts in a form-encoded string. */
const URLENCODED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;

/** oauthlib's urldecode: a strict application/x-www-form-urlencoded parse (blank values kept). */
function urldecode(query: string): [string, string][] {
  if (!URLENCODED.test(query) || /%(?![0-9a-fA-F]{2})/.test(query)) {
    throw new OAuthRequestError('invalid_request', 'Error trying to decode a non urlencoded string.');
  }
  const pairs: [string, string][] = [];
  for (const item of query.split('&')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const [k, v] = eq < 0 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)];
    pairs.push([percentDecode(k.replace(/\+/g, ' ')), percentDecode(v.replace(/\+/g, ' '))]);
  }
  return pairs;
}

/** collect_parameters' last step: every `oauth_` value is unescaped (again, for decoded sources). */
function unescapeOAuthValues(params: [string, string][]): [string, string][] {
  return params.map(([k, v]) => [k, k.startsWith('oauth_') ? percentDecode(v) : v]);
}

export interface SignedRequestInput {
  readonly method: string;
  /** The Authorization header as received. */
  readonly authorization: string;
  /** The raw query string, without `?`. */
  readonly queryString: string;
  readonly contentType: string | undefined;
}

/** A request's OAuth protocol parameters and the parameters its signature covers. */
export interface SignedRequest {
  readonly method: string;
  readonly signature: string | undefined;
  readonly consumerKey: string | undefined;
  readonly token: string | undefined;
  readonly nonce: string | undefined;
  readonly timestamp: string | undefined;
  readonly callback: string | undefined;
  readonly verifier: string | undefined;
  readonly signatureMethod: string | undefined;
  readonly realm: string | undefined;
  readonly version: string | undefined;
  /** Every signed parameter, oauth_signature (and a header realm) excluded. */
  readonly params: readonly [string, string][];
}

/**
 * oauthlib's BaseEndpoint._create_request as Keystone calls it: the header's parameters, then the
 * "body" (Keystone passes the *query* arguments as the body, so with a form-encoded Content-Type
 * the query parameters are signed twice, first value per name), then the query. The protocol
 * parameters must all come from one of those sources.
 */
export function parseSignedRequest(input: SignedRequestInput): SignedRequest {
  let headerParams: [string, string][];
  try {
    headerParams = unescapeOAuthValues(parseAuthorizationHeader(input.authorization));
  } catch {
    throw new OAuthRequestError('invalid_request', 'Malformed authorization header');
  }
  const queryPairs = input.queryString ? urldecode(input.queryString) : [];
  const formBody = (input.contentType ?? '').includes('application/x-www-form-urlencoded');
  const firstPerName = new Map<string, string>();
  for (const [k, v] of queryPairs) if (!firstPerName.has(k)) firstPerName.set(k, v);
  const bodyParams = formBody ? unescapeOAuthValues([...firstPerName]) : [];
  const queryParams = unescapeOAuthValues(queryPairs);

  const sources = [
    ['AUTH_HEADER', headerParams],
    ['BODY', bodyParams],
    ['QUERY', queryParams],
  ] as const;
  const withOAuth = sources.filter(([, params]) => params.some(([k]) => k.startsWith('oauth_')));
  if (withOAuth.length > 1) {
    throw new OAuthRequestError('invalid_request', `oauth_ params must come from only 1 signature type but were found in ${withOAuth.map(([name]) => name).join(', ')}`);
  }
  if (withOAuth.length === 0) throw new OAuthRequestError('invalid_request', 'Missing mandatory OAuth parameters.');
  const oauthParams = withOAuth[0]![1].filter(([k]) => k.startsWith('oauth_'));
  const oauth = new Map(oauthParams);
  if (oauth.size !== oauthParams.length) throw new OAuthRequestError('invalid_request', 'Duplicate OAuth1 entries.');

  const all = [...headerParams, ...bodyParams, ...queryParams];
  let params = all.filter(([k]) => k !== 'oauth_signature');
  // oauthlib drops every `realm` when the header mentions one: RFC 5849 3.4.1.3.1 excludes it.
  if (input.authorization.includes('realm')) params = params.filter(([k]) => k !== 'realm');
  return {
    method: input.method,
    signature: oauth.get('oauth_signature'),
    consumerKey: oauth.get('oauth_consumer_key'),
    token: oauth.get('oauth_token'),
    nonce: oauth.get('oauth_nonce'),
    timestamp: oauth.get('oauth_timestamp'),
    callback: oauth.get('oauth_callback'),
    verifier: oauth.get('oauth_verifier'),
    signatureMethod: oauth.get('oauth_signature_method'),
    realm: new Map(all).get('realm'),
    version: oauth.get('oauth_version'),
    params,
  };
}

/**
 * oauthlib's _check_mandatory_parameters: the protocol parameters present, a known signature
 * method, version 1.0, a 10-digit timestamp within the lifetime, and Keystone's key and nonce
 * formats. Keystone keeps no record of nonces (its validate_timestamp_and_nonce says yes).
 */
export function checkMandatoryParameters(request: SignedRequest, nowSeconds: number): void {
  if (!request.signature || !request.consumerKey || !request.nonce || !request.timestamp || !request.signatureMethod) {
    throw new OAuthRequestError('invalid_request', 'Missing mandatory OAuth parameters.');
  }
  if (!Object.hasOwn(HMAC_DIGESTS, request.signatureMethod)) {
    throw new OAuthRequestError('invalid_signature_method', `Invalid signature, ${request.signatureMethod} not in ${Object.keys(HMAC_DIGESTS).join(', ')}.`);
  }
  if (request.version !== undefined && request.version !== '1.0') throw new OAuthRequestError('invalid_request', 'Invalid OAuth version.');
  if (request.timestamp.length !== 10) throw new OAuthRequestError('invalid_request', 'Invalid timestamp size');
  if (!/^\s*[+-]?\d+\s*$/.test(request.timestamp)) throw new OAuthRequestError('invalid_request', 'Timestamp must be an integer.');
  if (Math.abs(nowSeconds - Number(request.timestamp)) > TIMESTAMP_LIFETIME_SECONDS) {
    throw new OAuthRequestError('invalid_request', `Timestamp given is invalid, differ from allowed by over ${TIMESTAMP_LIFETIME_SECONDS} seconds.`);
  }
  if (!isTokenKey(request.consumerKey)) throw new OAuthRequestError('invalid_request', 'Invalid client key format.');
  if (!NONCE.test(request.nonce)) throw new OAuthRequestError('invalid_request', 'Invalid nonce format.');
}

export function isTokenKey(key: string): boolean {
  return TOKEN_KEY.test(key);
}

/** Keystone's check_verifier: 8 characters of VERIFIER_CHARS. */
export function isVerifierFormat(verifier: string): boolean {
  return verifier.length === 8 && [...verifier].every((c) => VERIFIER_CHARS.includes(c));
}

/**
 * RFC 5849 3.4.1.2 as oauthlib's base_string_uri: scheme and host lower-cased, userinfo, query
 * and fragment dropped, the default port (80 for http, 443 for https) dropped, an empty path
 * becomes `/`, and only spaces are percent-encoded.
 */
export function baseStringUri(uri: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(uri);
  if (!match) throw new OAuthRequestError('invalid_request', 'Invalid request URI.');
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!.slice(match[2]!.lastIndexOf('@') + 1);
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hostPort || hostPort[1] === '') throw new OAuthRequestError('invalid_request', 'Invalid request URI.');
  const host = hostPort[1]!.toLowerCase();
  const port = hostPort[2] ? Number(hostPort[2]) : undefined;
  const defaultPort = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const netloc = port === undefined || defaultPort ? host : `${host}:${port}`;
  const path = match[3] || '/';
  return `${scheme}://${netloc}${path}`.replace(/ /g, '%20');
}

/** RFC 5849 3.4.1.3.2: names and values encoded, sorted by name then value, joined with `&`. */
export function normalizeParameters(params: readonly (readonly [string, string])[]): string {
  const encoded = params.map(([k, v]) => [percentEncode(k), percentEncode(v)] as const);
  encoded.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/** RFC 5849 3.4.1: METHOD&encoded-base-string-URI&encoded-normalized-parameters. */
export function signatureBaseString(method: string, uri: string, params: readonly (readonly [string, string])[]): string {
  return [percentEncode(method.toUpperCase()), percentEncode(baseStringUri(uri)), percentEncode(normalizeParameters(params))].join('&');
}

/** RFC 5849 3.4.2: HMAC over the base string, keyed by `encode(consumer secret)&encode(token secret)`. */
export function hmacSignature(signatureMethod: string, baseString: string, consumerSecret: string, tokenSecret: string | null): string {
  const digest = HMAC_DIGESTS[signatureMethod];
  if (!digest) throw new OAuthRequestError('invalid_signature_method', `Invalid signature method ${signatureMethod}.`);
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret ?? '')}`;
  return createHmac(digest, key).update(baseString, 'utf8').digest('base64');
}

/**
 * Whether the request's signature is the one computed over any of `uris`, the forms under which
 * this same endpoint may have been addressed (see the service). Compared in constant time.
 */
export function verifySignature(request: SignedRequest, uris: readonly string[], consumerSecret: string, tokenSecret: string | null): boolean {
  const given = Buffer.from(request.signature ?? '', 'utf8');
  let valid = false;
  for (const uri of new Set(uris)) {
    const expected = Buffer.from(hmacSignature(request.signatureMethod!, signatureBaseString(request.method, uri, request.params), consumerSecret, tokenSecret), 'utf8');
    // Every candidate is computed and compared, so timing does not tell which form matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}

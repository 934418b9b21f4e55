import { isIP } from 'node:net';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JSONWebKeySet,
} from 'jose';
import type { IssuerRecord } from './store.js';
import { SUPPORTED_ALGORITHMS } from './presets.js';

/** What jose imports a PEM key as (a WebCrypto key; Node 20's types do not name it globally). */
type CryptoKey = Awaited<ReturnType<typeof importSPKI>>;

/** A token this issuer's configuration refuses; `reason` goes to the log, never to the caller. */
export class JwtRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface VerifierOptions {
  /** Longest JWT accepted, in characters (checked before any parsing). */
  readonly maxJwtLength: number;
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
  readonly clockLeeway: number;
  /** Least time between two fetches of one JWKS, so unknown `kid`s cannot make us a proxy for load. */
  readonly jwksRefreshInterval: number;
  /** How long fetched discovery documents and key sets are used before being fetched again. */
  readonly jwksMaxAge: number;
  /** Outbound HTTP (injected so tests and deployments choose the client). */
  readonly fetch: typeof fetch;
  readonly now: () => Date;
}

/**
 * Outbound URLs must be https; plain http only to a loopback address (a local issuer in a test or
 * a sidecar), never to a name that might resolve elsewhere tomorrow.
 */
export function outboundUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol !== 'http:') return 'must be https';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  return loopback ? null : 'must be https (http is allowed to loopback addresses only)';
}

interface DiscoveryDocument {
  readonly issuer: string;
  readonly jwks_uri: string;
}

interface KeySource {
  readonly fingerprint: string;
  readonly expectedIssuer: () => Promise<string>;
  /** One getter per candidate key set: a JWKS selects by `kid`, PEM keys are each a candidate. */
  readonly candidates: (alg: string) => Promise<readonly (JWTVerifyGetKey | CryptoKey)[]>;
}

/**
 * Strict JWT verification for workload issuers (RFC 7519, RFC 8725): the size, the algorithm
 * allow-list (asymmetric only), the signature against the issuer's keys, exact `iss`, `aud`,
 * `exp`/`nbf`/`iat` with bounded leeway, the maximum age, and a `jti` present (its single use is
 * the caller's business, through the database).
 */
export function createJwtVerifier(options: VerifierOptions) {
  const sources = new Map<string, KeySource>();

  async function fetchJson(url: string): Promise<unknown> {
    const problem = outboundUrlProblem(url);
    if (problem) throw new JwtRefused(`${url} ${problem}`);
    // No redirects: the URL an operator trusted is the only one we read keys from.
    const response = await options.fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (response.status !== 200) throw new JwtRefused(`${url} answered ${response.status}`);
    return response.json();
  }

  function discovery(url: string): () => Promise<DiscoveryDocument> {
    let cached: { at: number; document: Promise<DiscoveryDocument> } | undefined;
    return () => {
      const now = Date.now();
      if (!cached || now - cached.at > options.jwksMaxAge * 1000) {
        const document = fetchJson(url).then((body) => {
          const doc = body as Partial<DiscoveryDocument>;
          if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string') throw new JwtRefused(`${url} is not an OpenID discovery document`);
          return doc as DiscoveryDocument;
        });
        // A failed fetch is not kept: the next login tries again (still rate-limited by JWKS cooldown).
        document.catch(() => (cached = undefined));
        cached = { at: now, document };
      }
      return cached.document;
    };
  }

  function remoteKeys(jwksUrl: () => Promise<string>): JWTVerifyGetKey {
    let remote: { url: string; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;
    return async (header, token) => {
      const url = await jwksUrl();
      const problem = outboundUrlProblem(url);
      if (problem) throw new JwtRefused(`jwks_uri ${url} ${problem}`);
      if (remote?.url !== url) {
        remote = {
          url,
          keys: createRemoteJWKSet(new URL(url), {
            cooldownDuration: options.jwksRefreshInterval * 1000,
            cacheMaxAge: options.jwksMaxAge * 1000,
            timeoutDuration: 5000,
            [customFetch]: (input, init) => options.fetch(input, { ...init, redirect: 'error' }),
          }),
        };
      }
      return remote.keys(header, token);
    };
  }

  /** PEM keys carry no `kid`: every key is a candidate, tried in order (a rotation overlap). */
  function pemKeys(pems: readonly string[]): (alg: string) => Promise<CryptoKey[]> {
    const imported = new Map<string, Promise<CryptoKey[]>>();
    return (alg) => {
      let keys = imported.get(alg);
      if (!keys) imported.set(alg, (keys = Promise.all(pems.map((pem) => importSPKI(pem, alg)))));
      return keys;
    };
  }

  function sourceFor(issuer: IssuerRecord): KeySource {
    const fingerprint = JSON.stringify([issuer.bound_issuer, issuer.oidc_discovery_url, issuer.jwks_url, issuer.jwks, issuer.jwt_validation_pubkeys]);
    const known = sources.get(issuer.id);
    if (known?.fingerprint === fingerprint) return known;
    const discover = issuer.oidc_discovery_url ? discovery(issuer.oidc_discovery_url) : undefined;
    const expectedIssuer = async () => {
      if (issuer.bound_issuer) return issuer.bound_issuer;
      if (!discover) throw new JwtRefused('no bound_issuer and no discovery document');
      return (await discover()).issuer;
    };
    let getKey: JWTVerifyGetKey | undefined;
    let candidates: KeySource['candidates'];
    if (issuer.jwks) getKey = createLocalJWKSet(issuer.jwks as JSONWebKeySet);
    else if (issuer.jwt_validation_pubkeys && issuer.jwt_validation_pubkeys.length > 0) candidates = pemKeys(issuer.jwt_validation_pubkeys);
    else if (issuer.jwks_url) getKey = remoteKeys(async () => issuer.jwks_url!);
    else if (discover) {
      getKey = remoteKeys(async () => {
        const document = await discover();
        // The discovery document speaks for the issuer we were told to trust, or for nobody.
        if (issuer.bound_issuer && document.issuer !== issuer.bound_issuer) throw new JwtRefused(`discovery names issuer ${document.issuer}`);
        return document.jwks_uri;
      });
    } else throw new JwtRefused('issuer has no key source');
    if (getKey) {
      const only = [getKey];
      candidates = async () => only;
    }
    const source: KeySource = { fingerprint, expectedIssuer, candidates: candidates! };
    sources.set(issuer.id, source);
    return source;
  }

  return {
    /** The verified claims, or JwtRefused saying why not. */
    async verify(issuer: IssuerRecord, jwt: string): Promise<JWTPayload> {
      if (jwt.length > options.maxJwtLength) throw new JwtRefused(`token of ${jwt.length} characters exceeds ${options.maxJwtLength}`);
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(jwt).alg;
      } catch {
        throw new JwtRefused('not a JWS compact serialization');
      }
      // Checked here as well as by jose: an HMAC or `none` token never reaches key selection.
      const allowed = issuer.allowed_algorithms.filter((a) => SUPPORTED_ALGORITHMS.includes(a));
      if (!alg || !allowed.includes(alg)) throw new JwtRefused(`algorithm ${String(alg)} is not allowed`);
      const source = sourceFor(issuer);
      try {
        const verifyOptions = {
          algorithms: allowed,
          issuer: await source.expectedIssuer(),
          audience: [...issuer.bound_audiences],
          clockTolerance: options.clockLeeway,
          currentDate: options.now(),
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
          ...(issuer.max_token_age ? { maxTokenAge: issuer.max_token_age } : {}),
        };
        const keys = await source.candidates(alg);
        let payload: JWTPayload | undefined;
        for (const [index, key] of keys.entries()) {
          try {
            // Overloads differ for a key and a getter; both verify the same way.
            payload = (typeof key === 'function' ? await jwtVerify(jwt, key, verifyOptions) : await jwtVerify(jwt, key, verifyOptions)).payload;
            break;
          } catch (error) {
            // Only a signature mismatch moves on to the next PEM key; a claim failure is final.
            if (!(error instanceof joseErrors.JWSSignatureVerificationFailed) || index === keys.length - 1) throw error;
          }
        }
        if (!payload) throw new JwtRefused('no key');
        if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 255) throw new JwtRefused('jti is not a usable string');
        // jose accepts an `iat` up to the leeway in the future only when maxTokenAge is set.
        if (payload.iat! > options.now().getTime() / 1000 + options.clockLeeway) throw new JwtRefused('iat is in the future');
        return payload;
      } catch (error) {
        if (error instanceof JwtRefused) throw error;
        if (error instanceof joseErrors.JOSEError) throw new JwtRefused(`${error.code}: ${error.message}`);
        throw error;
      }
    },
  };
}

export type JwtVerifier = ReturnType<typeof createJwtVerifier>;

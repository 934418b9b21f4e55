import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: PrivateKey;
  readonly publicJwk: Record<string, unknown>;
  readonly publicKey: Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];
}

export async function newSigningKey(alg = 'RS256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * A JWT issuer on loopback, as a CI platform or a cluster publishes one: per path prefix, an
 * OpenID discovery document and a JWKS whose keys the test can rotate. It counts JWKS fetches.
 */
export interface FakeIssuer {
  readonly base: string;
  issuerUrl(prefix: string): string;
  /** The keys a prefix publishes from now on. */
  publish(prefix: string, keys: readonly SigningKey[]): void;
  jwksFetches(prefix: string): number;
  sign(prefix: string, key: SigningKey, claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startFakeIssuer(): Promise<FakeIssuer> {
  const published = new Map<string, readonly SigningKey[]>();
  const fetches = new Map<string, number>();
  let base = '';
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const match = /^\/([\w-]+)\/(\.well-known\/openid-configuration|jwks)$/.exec(url);
    const prefix = match?.[1];
    if (!match || !prefix || !published.has(prefix)) {
      res.writeHead(404).end();
      return;
    }
    let body: unknown;
    if (match[2] === 'jwks') {
      fetches.set(prefix, (fetches.get(prefix) ?? 0) + 1);
      body = { keys: published.get(prefix)!.map((key) => key.publicJwk) };
    } else {
      body = { issuer: `${base}/${prefix}`, jwks_uri: `${base}/${prefix}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] };
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    issuerUrl: (prefix) => `${base}/${prefix}`,
    publish: (prefix, keys) => void published.set(prefix, keys),
    jwksFetches: (prefix) => fetches.get(prefix) ?? 0,
    async sign(prefix, key, claims, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: `${base}/${prefix}`, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
        .sign(key.privateKey);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

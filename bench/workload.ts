/**
 * Workload JWT login under load: a JWKS-serving issuer on loopback (in the bench process),
 * an identity provider and a mapping configured over the API, and one pre-signed GitHub-shaped
 * RS256 token per request (each `jti` can be spent once). The JWKS is fetched by the first
 * login, so the measured run sees a warm key cache, as a deployment does between rotations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const WORKLOAD_AUDIENCE = 'https://keystone.bench.test';

export interface BenchIssuer {
  readonly url: string;
  /** Writes `count` distinct tokens, one per line, and returns how long signing took (ms). */
  writeTokens(file: string, count: number): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const kid = randomUUID();
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  let url = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    else if (req.url === '/.well-known/openid-configuration') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async writeTokens(file, count) {
      const started = performance.now();
      const now = Math.floor(Date.now() / 1000);
      const lines: string[] = [];
      for (let i = 0; i < count; i += 1) {
        lines.push(
          await new SignJWT({
            iss: url, aud: WORKLOAD_AUDIENCE, sub: 'repo:org/app:ref:refs/heads/main', repository: 'org/app', repository_owner: 'org',
            ref: 'refs/heads/main', ref_type: 'branch', event_name: 'push', actor: 'bench', iat: now, exp: now + 3600, jti: randomUUID(),
          })
            .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
            .sign(privateKey),
        );
      }
      writeFileSync(file, `${lines.join('\n')}\n`);
      return performance.now() - started;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function call(url: string, token: string, method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** A service-account-like user with member on a project, an issuer and its mapping; returns the login path. */
export async function configureWorkload(url: string, adminToken: string, issuerUrl: string): Promise<string> {
  const project = (await call(url, adminToken, 'POST', '/v3/projects', { project: { name: 'bench-workload', domain_id: 'default' } }))['project'] as { id: string };
  const user = (await call(url, adminToken, 'POST', '/v3/users', { user: { name: 'bench-ci-bot', domain_id: 'default' } }))['user'] as { id: string };
  const roles = (await fetch(`${url}/v3/roles?name=member`, { headers: { 'X-Auth-Token': adminToken } }).then((r) => r.json())) as { roles: { id: string }[] };
  const grant = await fetch(`${url}/v3/projects/${project.id}/users/${user.id}/roles/${roles.roles[0]!.id}`, { method: 'PUT', headers: { 'X-Auth-Token': adminToken } });
  if (grant.status !== 204) throw new Error(`grant: ${grant.status}`);
  const idp = (await call(url, adminToken, 'POST', '/v4/federation/identity_providers', {
    identity_provider: { name: 'bench-github', domain_id: 'default', preset: 'github-actions', bound_issuer: issuerUrl, oidc_discovery_url: `${issuerUrl}/.well-known/openid-configuration`, bound_audiences: [WORKLOAD_AUDIENCE] },
  }))['identity_provider'] as { id: string };
  await call(url, adminToken, 'POST', '/v4/federation/mappings', {
    mapping: { name: 'bench', idp_id: idp.id, bound_claims: { repository: 'org/app', ref: { glob: 'refs/heads/*' } }, token_user_id: user.id, token_project_id: project.id },
  });
  return `/v4/federation/identity_providers/${idp.id}/jwt`;
}

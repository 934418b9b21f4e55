import { claimAt } from './bindings.js';

/**
 * What is known about the common workload token issuers, so an operator configures the parts
 * that are theirs (audience, project, the repository or namespace to trust) and not the parts
 * that are the platform's. A preset fills defaults at write time and checks the claim shape of
 * every token at login: a token that does not look like its platform's is refused.
 */
export interface Preset {
  /** The platform's fixed issuer, when it has one (self-hosted instances override it). */
  readonly issuer: string | null;
  readonly algorithms: readonly string[];
  /** Seconds since `iat` after which a token is too old, unless the operator says otherwise. */
  readonly maxTokenAge: number;
  /** Claims copied into `credentials.attributes` by bindings that name none. */
  readonly attributeClaims: readonly string[];
  /** Why a token's claims are not this platform's shape, or null. */
  shapeFailure(claims: Readonly<Record<string, unknown>>): string | null;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Every algorithm an issuer may be allowed: public-key signatures only, never `none` or HMAC. */
export const SUPPORTED_ALGORITHMS: readonly string[] = ASYMMETRIC;

function requireStrings(claims: Readonly<Record<string, unknown>>, paths: readonly string[]): string | null {
  for (const path of paths) {
    if (typeof claimAt(claims, path) !== 'string') return `claim ${path} is missing or not a string`;
  }
  return null;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  // https://docs.github.com/en/actions/reference/security/oidc: sub is
  // `repo:<owner>/<repo>:ref:<ref>` (or `:environment:<name>`, `:pull_request`, ...).
  'github-actions': {
    issuer: 'https://token.actions.githubusercontent.com',
    algorithms: ['RS256'],
    maxTokenAge: 3600,
    attributeClaims: ['sub', 'repository', 'repository_owner', 'ref', 'ref_type', 'environment', 'workflow_ref', 'job_workflow_ref', 'event_name', 'actor'],
    shapeFailure(claims) {
      const missing = requireStrings(claims, ['sub', 'repository', 'repository_owner', 'ref']);
      if (missing) return missing;
      return String(claims['sub']).startsWith(`repo:${String(claims['repository'])}:`) ? null : 'sub does not name the repository';
    },
  },
  // https://docs.gitlab.com/ci/secrets/id_token_authentication/: sub is
  // `project_path:<group>/<project>:ref_type:<type>:ref:<ref>`.
  'gitlab-ci': {
    issuer: 'https://gitlab.com',
    algorithms: ['RS256'],
    maxTokenAge: 3600,
    attributeClaims: ['sub', 'project_path', 'namespace_path', 'ref', 'ref_type', 'ref_protected', 'environment', 'pipeline_source', 'user_login'],
    shapeFailure(claims) {
      const missing = requireStrings(claims, ['sub', 'project_path', 'namespace_path', 'ref', 'ref_type']);
      if (missing) return missing;
      return String(claims['sub']).startsWith(`project_path:${String(claims['project_path'])}:`) ? null : 'sub does not name the project';
    },
  },
  // Projected service-account tokens: the issuer is the cluster's (--service-account-issuer),
  // its keys come through the API server's OIDC discovery; sub is
  // `system:serviceaccount:<namespace>:<name>` and `kubernetes.io` holds the details.
  kubernetes: {
    issuer: null,
    algorithms: ['RS256', 'ES256'],
    maxTokenAge: 86400,
    attributeClaims: ['sub', 'kubernetes.io.namespace', 'kubernetes.io.serviceaccount.name', 'kubernetes.io.pod.name'],
    shapeFailure(claims) {
      const missing = requireStrings(claims, ['sub', 'kubernetes.io.namespace', 'kubernetes.io.serviceaccount.name']);
      if (missing) return missing;
      const expected = `system:serviceaccount:${String(claimAt(claims, 'kubernetes.io.namespace'))}:${String(claimAt(claims, 'kubernetes.io.serviceaccount.name'))}`;
      return claims['sub'] === expected ? null : 'sub does not name the namespace and service account';
    },
  },
  // SPIFFE JWT-SVIDs (SPIFFE JWT-SVID spec §3): sub is the SPIFFE ID, aud is required, and the
  // issuer is the trust domain's OIDC discovery provider (SPIRE's sets `iss`).
  spiffe: {
    issuer: null,
    algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'],
    maxTokenAge: 3600,
    attributeClaims: ['sub'],
    shapeFailure(claims) {
      const sub = claims['sub'];
      return typeof sub === 'string' && /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(sub) ? null : 'sub is not a SPIFFE ID';
    },
  },
};

/**
 * Authentication by a signed EC2 or S3 request (keystone/api/_shared/EC2_S3_Resource.py
 * handle_authenticate): the access key names an ec2 credential, its secret must reproduce the
 * request's signature, and the result is a token for the credential's user on its project with
 * the pseudo-method `ec2credential`.
 *
 * Keystone's order decides which error wins: body, access key (404 when unknown, whether absent
 * or not ec2, so as not to tell which), signature, project and user (404), enabled checks,
 * signed timestamp, then roles.
 */
import { NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import type { User } from '../identity/service.js';
import type { DomainRef, ProjectRef } from '../resource/store.js';
import type { ValidatedToken } from '../token/provider.js';
import { blobObject, EC2, hashAccessKey, type CredentialService } from './service.js';
import { ec2Signature, Ec2SignatureError, hostWithoutPort, s3Signature, signaturesEqual, signedTimestamp, type SignedRequest } from './ec2-signature.js';

export const EC2_METHOD = 'ec2credential';

export interface Ec2AuthDeps {
  readonly credentials: CredentialService;
  readonly getUser: (id: string) => Promise<User | undefined>;
  readonly getProject: (id: string) => Promise<ProjectRef | undefined>;
  readonly getDomain: (id: string) => Promise<DomainRef | undefined>;
  readonly issue: (userId: string, project: ProjectRef) => Promise<{ tokenText: string; token: ValidatedToken }>;
  /** `[credential] auth_ttl`: minutes a signed request stays valid after its timestamp. */
  readonly authTtlMinutes: number;
  readonly now: () => Date;
}

export type SignatureKind = 'ec2' | 's3';

/** Python truthiness of a JSON value: empty strings, objects and lists, 0, false and null are false. */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** ec2tokens: Ec2Signer over the request description, retried without the host's port. */
function checkEc2Signature(secret: string, request: Record<string, unknown>): void {
  const expected = ec2Signature(secret, request as SignedRequest);
  const provided = request['signature'];
  if (!truthy(provided)) throw new Unauthorized('EC2 signature not supplied');
  if (typeof provided === 'string' && signaturesEqual(provided, expected)) return;
  // Some client libraries sign without the port.
  const host = request['host'];
  if (typeof provided === 'string' && typeof host === 'string' && host.includes(':')) {
    const again = ec2Signature(secret, { ...(request as SignedRequest), host: hostWithoutPort(host) });
    if (signaturesEqual(provided, again)) return;
  }
  throw new Unauthorized('Invalid EC2 signature');
}

/** s3tokens: the signature of the forwarded string-to-sign. */
function checkS3Signature(secret: string, request: Record<string, unknown>): void {
  const token = request['token'];
  const provided = request['signature'];
  if (typeof token !== 'string') throw new Ec2SignatureError('token missing');
  const expected = s3Signature(secret, token);
  if (typeof provided !== 'string' || !signaturesEqual(provided, expected)) throw new Unauthorized('Credential signature mismatch');
}

export function createEc2Authenticator(deps: Ec2AuthDeps) {
  function assertFresh(request: SignedRequest): void {
    const at = signedTimestamp(request);
    if (at === undefined) return; // the signer left it out on purpose
    if (at === null) throw new Unauthorized('Credential timestamp is invalid');
    if (deps.now().getTime() > at.getTime() + deps.authTtlMinutes * 60_000) throw new Unauthorized('Credential is expired');
  }

  return {
    /** @returns the issued token; throws Keystone's 400/401/404 otherwise. */
    async authenticate(body: unknown, kind: SignatureKind): Promise<{ tokenText: string; token: ValidatedToken }> {
      if (!truthy(body) || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('request must include a request body');
      const fields = body as Record<string, unknown>;
      // Keystone has accepted all three spellings over time.
      const chosen = [fields['credentials'], fields['credential'], fields['ec2Credentials']].find(truthy);
      const request = chosen !== null && typeof chosen === 'object' && !Array.isArray(chosen) ? ({ ...(chosen as object) } as Record<string, unknown>) : {};
      const access = request['access'];
      if (!('access' in request)) throw new Unauthorized('EC2 signature not supplied');
      if (typeof access !== 'string') throw new Unauthorized('EC2 access key is not a string');

      const credential = await deps.credentials.find(hashAccessKey(access));
      // Unknown and not-ec2 alike: the answer must not tell whether the key exists.
      if (!credential || credential.type !== EC2) throw new NotFound('EC2 access key not found.');
      const blob = blobObject(credential.blob) ?? {};
      const secret = blob['secret'];
      if (typeof secret !== 'string') throw new Unauthorized(`EC2 credential ${credential.id} has no secret`);

      try {
        if (kind === 'ec2') checkEc2Signature(secret, request);
        else checkS3Signature(secret, request);
      } catch (error) {
        // Keystone lets these escape as a 500; an unsignable request is a bad signature.
        if (error instanceof Ec2SignatureError) throw new Unauthorized(`Invalid EC2 signature: ${error.message}`);
        throw error;
      }

      const projectId = credential.project_id;
      const project = projectId === null ? undefined : await deps.getProject(projectId);
      if (!project) throw NotFound.entity('project', String(projectId));
      const user = await deps.getUser(credential.user_id);
      if (!user) throw NotFound.entity('user', credential.user_id);
      const userDomain = await deps.getDomain(user.domain_id);
      const projectDomain = await deps.getDomain(project.domain_id);
      if (!user.enabled || !userDomain?.enabled) throw new Unauthorized(`user ${user.id} or its domain is disabled`);
      if (!project.enabled || !projectDomain?.enabled) throw new Unauthorized(`project ${project.id} or its domain is disabled`);

      assertFresh(request as SignedRequest);

      if (blob['trust_id'] || blob['app_cred_id'] || blob['access_token_id']) {
        // A delegated EC2 credential must yield a token carrying that delegation; until trusts,
        // application credentials and OAuth1 tokens can be issued here, refuse rather than hand
        // out an undelegated token with the user's full roles.
        throw new Unauthorized(`delegated EC2 credential ${credential.id} cannot be used yet`);
      }
      // Issuing runs Keystone's mint checks: no role on the project is a 401.
      return deps.issue(user.id, project);
    },
  };
}

export type Ec2Authenticator = ReturnType<typeof createEc2Authenticator>;

/**
 * OS-OAUTH1 as Keystone serves it (keystone/api/os_oauth1.py, keystone/oauth1/core.py and
 * validator.py, keystone/auth/plugins/oauth1.py): consumers, the request token → authorize →
 * access token dance, and authentication with a signed request. Each signed step is Keystone's
 * list of checks in Keystone's order; the statuses are Keystone's.
 */
import { randomInt } from 'node:crypto';
import { Forbidden, NotFound, Unauthorized, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import type { RevocationService } from '../revoke/service.js';
import {
  checkMandatoryParameters,
  isTokenKey,
  isVerifierFormat,
  OAuthRequestError,
  parseSignedRequest,
  verifySignature,
  VERIFIER_CHARS,
  type SignedRequest,
} from './signature.js';
import type { AccessTokenRecord, ConsumerRecord, OAuth1Store, RequestTokenRecord } from './store.js';

/** What the HTTP layer hands over of a signed request. */
export interface SignedHttpRequest {
  readonly method: string;
  readonly authorization: string | undefined;
  readonly queryString: string;
  readonly contentType: string | undefined;
  /**
   * The absolute URIs this endpoint may have been addressed by: Keystone's own choice (the
   * request URL with the base URL's scheme) and `[DEFAULT] public_endpoint` + path, which is what
   * a client signs when a proxy in front of us rewrote host or path prefix.
   */
  readonly uris: readonly string[];
}

export interface OAuth1ServiceDeps {
  readonly store: OAuth1Store;
  readonly revoke: RevocationService;
  readonly projectExists: (id: string) => Promise<boolean>;
  /** A global role's id by its name (get_unique_role_by_name), undefined when there is none. */
  readonly roleIdByName: (name: string) => Promise<string | undefined>;
  /** The user's effective role ids on the project (get_roles_for_user_and_project). */
  readonly userRoleIdsOnProject: (userId: string, projectId: string) => Promise<readonly string[]>;
  readonly now: () => Date;
  readonly options: {
    /** [oauth1] request_token_duration, seconds; 0: no expiry. */
    readonly requestTokenDuration: number;
    /** [oauth1] access_token_duration, seconds; 0: no expiry. */
    readonly accessTokenDuration: number;
  };
}

/** The caller authorizing a request token, as far as the service needs to know it. */
export interface AuthorizingCaller {
  readonly userId: string;
  /** Trust, OAuth1 or application-credential token: delegated authority cannot be delegated on. */
  readonly delegated: boolean;
}

export type OAuth1Service = ReturnType<typeof createOAuth1Service>;

function expecting(attribute: string, target: string): ValidationError {
  return new ValidationError(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

/** Keystone's utils.isotime(at, subsecond=True): microseconds and `Z`. */
function isoMicros(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

/** oslo's parse_isotime + normalize_time for the stored strings; unparsable means "expired". */
function expiresAtMillis(text: string): number {
  const millis = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
  return Number.isNaN(millis) ? -Infinity : millis;
}

/** Keystone's verifier: 8 distinct characters sampled from VERIFIER_CHARS (random.SystemRandom().sample). */
function newVerifier(): string {
  const pool = [...VERIFIER_CHARS];
  let verifier = '';
  for (let i = 0; i < 8; i += 1) verifier += pool.splice(randomInt(pool.length), 1)[0]!;
  return verifier;
}

/** validate_oauth_params: what oauthlib reports as an error body becomes Keystone's 400. */
function asValidationError(error: OAuthRequestError): ValidationError {
  return new ValidationError(`Validation failed with errors: ${error.error}, detail message is: ${error.description}.`);
}

export function createOAuth1Service(deps: OAuth1ServiceDeps) {
  const { store, options } = deps;
  const nowSeconds = () => Math.floor(deps.now().getTime() / 1000);
  const isExpired = (expiresAt: string | null) => expiresAt !== null && deps.now().getTime() > expiresAtMillis(expiresAt);
  const expiry = (seconds: number) => (seconds > 0 ? isoMicros(new Date(deps.now().getTime() + seconds * 1000)) : null);

  /**
   * get_oauth_headers: the protocol parameters come from the Authorization header only. Keystone
   * answers a missing or malformed header with a 500; it is the client's fault, so 401 here.
   */
  function signedRequest(request: SignedHttpRequest): SignedRequest {
    if (!request.authorization) throw new Unauthorized('No Authorization headers found, cannot proceed with OAuth related calls');
    try {
      return parseSignedRequest({ ...request, authorization: request.authorization });
    } catch (error) {
      if (error instanceof OAuthRequestError && error.description === 'Malformed authorization header') throw new Unauthorized('malformed OAuth Authorization header');
      if (error instanceof OAuthRequestError) throw asValidationError(error);
      throw error;
    }
  }

  /** oauthlib's protocol checks before any signature: their failures are 400s in Keystone. */
  function protocolChecks(request: SignedRequest, more: (request: SignedRequest) => void = () => undefined): void {
    try {
      checkMandatoryParameters(request, nowSeconds());
      more(request);
    } catch (error) {
      if (error instanceof OAuthRequestError) throw asValidationError(error);
      throw error;
    }
  }

  async function requireConsumer(id: string): Promise<ConsumerRecord> {
    const consumer = await store.getConsumer(id);
    if (!consumer) throw new NotFound('Consumer not found');
    return consumer;
  }

  async function requireRequestToken(id: string): Promise<RequestTokenRecord> {
    const token = await store.getRequestToken(id);
    if (!token) throw new NotFound('Request token not found');
    return token;
  }

  async function requireAccessToken(id: string): Promise<AccessTokenRecord> {
    const token = await store.getAccessToken(id);
    if (!token) throw new NotFound('Access token not found');
    return token;
  }

  /** An access token of `userId`; another user's token is "not found" (Keystone's NotFound()). */
  async function ownAccessToken(userId: string, id: string): Promise<AccessTokenRecord> {
    const token = await requireAccessToken(id);
    if (token.authorizing_user_id !== userId) throw new NotFound('Could not find the requested resource.');
    return token;
  }

  return {
    // ---- consumers ----------------------------------------------------------------------------

    /** The secret is generated here, returned once by the API and never shown again. */
    async createConsumer(body: Record<string, unknown>): Promise<ConsumerRecord> {
      const { id: _ignoredId, secret: _ignoredSecret, description, ...extra } = body;
      const consumer: ConsumerRecord = {
        id: newId(),
        description: typeof description === 'string' ? description : null,
        secret: newId(),
        extra,
      };
      await store.createConsumer(consumer);
      return consumer;
    },

    getConsumer: requireConsumer,

    listConsumers: () => store.listConsumers(),

    /** update_consumer: description and extra change; the id and the secret never do. */
    async updateConsumer(id: string, body: Record<string, unknown>): Promise<ConsumerRecord> {
      if (body['id'] !== undefined && body['id'] !== null && body['id'] !== id) throw new ValidationError('Cannot change ID');
      const current = await requireConsumer(id);
      const { id: _id, secret: _secret, description, ...extra } = body;
      const updated = await store.updateConsumer(id, {
        description: 'description' in body ? ((description as string | null | undefined) ?? null) : current.description,
        extra: { ...current.extra, ...extra },
      });
      if (!updated) throw new NotFound('Consumer not found');
      return updated;
    },

    /**
     * The consumer and every request and access token it holds go; tokens issued through them
     * are revoked by a consumer revocation event, as Keystone records one.
     */
    async deleteConsumer(id: string): Promise<void> {
      await requireConsumer(id);
      if (!(await store.deleteConsumer(id))) throw new NotFound('Consumer not found');
      await deps.revoke.revoke({ consumer_id: id });
    },

    // ---- the signed flow ----------------------------------------------------------------------

    /** POST /v3/OS-OAUTH1/request_token (RequestTokenResource.post + oauthlib's RequestTokenEndpoint). */
    async createRequestToken(request: SignedHttpRequest, requestedProjectId: string | undefined): Promise<RequestTokenRecord> {
      const signed = signedRequest(request);
      if (!signed.consumerKey) throw expecting('oauth_consumer_key', 'request');
      if (!requestedProjectId) throw expecting('Requested-Project-Id', 'request');
      if (!(await deps.projectExists(requestedProjectId))) throw NotFound.entity('project', requestedProjectId);
      const consumer = await requireConsumer(signed.consumerKey);

      protocolChecks(signed, (r) => {
        // Keystone's realms are always empty: any realm asked for is not an allowed one.
        if (r.realm) throw new OAuthRequestError('invalid_request', `Invalid realm ${r.realm}. Allowed are [].`);
        if (!r.callback) throw new OAuthRequestError('invalid_request', 'Missing callback URI.');
      });
      // oauthlib signs a request-token request that carries a token with that *access* token's secret.
      const tokenSecret = signed.token ? (await requireAccessToken(signed.token)).access_secret : null;
      if (!verifySignature(signed, request.uris, consumer.secret, tokenSecret)) throw new Unauthorized('Invalid signature');

      const token: RequestTokenRecord = {
        id: newId(),
        request_secret: newId(),
        verifier: null,
        authorizing_user_id: null,
        requested_project_id: requestedProjectId,
        role_ids: null,
        consumer_id: consumer.id,
        expires_at: expiry(options.requestTokenDuration),
      };
      await store.createRequestToken(token);
      return token;
    },

    /**
     * PUT /v3/OS-OAUTH1/authorize/{request_token_id}: the caller delegates some of the roles it
     * has on the requested project. Roles are given by id or by (global) name.
     */
    async authorizeRequestToken(requestTokenId: string, caller: AuthorizingCaller, roles: readonly { id?: string; name?: string }[]): Promise<string> {
      if (caller.delegated) throw new Forbidden('Cannot authorize a request token with a token issued via delegation.');
      const token = await requireRequestToken(requestTokenId);
      if (isExpired(token.expires_at)) throw new Unauthorized('Request token is expired');
      const wanted = new Set<string>();
      for (const role of roles) {
        if (role.id) wanted.add(role.id);
        else {
          const id = await deps.roleIdByName(role.name ?? '');
          if (!id) throw NotFound.entity('role', role.name ?? '');
          wanted.add(id);
        }
      }
      const held = new Set(await deps.userRoleIdsOnProject(caller.userId, token.requested_project_id));
      if (![...wanted].every((id) => held.has(id))) throw new Unauthorized('authorizing user does not have role required');
      const verifier = newVerifier();
      if (!(await store.authorizeRequestToken(requestTokenId, caller.userId, [...wanted], verifier))) throw new NotFound('Request token not found');
      return verifier;
    },

    /** POST /v3/OS-OAUTH1/access_token (AccessTokenResource.post + oauthlib's AccessTokenEndpoint). */
    async createAccessToken(request: SignedHttpRequest): Promise<AccessTokenRecord> {
      const signed = signedRequest(request);
      if (!signed.consumerKey) throw expecting('oauth_consumer_key', 'request');
      if (!signed.token) throw expecting('oauth_token', 'request');
      if (!signed.verifier) throw expecting('oauth_verifier', 'request');
      const requestToken = await requireRequestToken(signed.token);
      if (isExpired(requestToken.expires_at)) throw new Unauthorized('Request token is expired');

      protocolChecks(signed, (r) => {
        if (!isTokenKey(r.token!)) throw new OAuthRequestError('invalid_request', 'Invalid resource owner key format.');
        if (!isVerifierFormat(r.verifier!)) throw new OAuthRequestError('invalid_request', 'Invalid verifier format.');
      });
      const consumer = await store.getConsumer(signed.consumerKey);
      if (!consumer) throw new Unauthorized('Provided consumer does not exist.');
      if (requestToken.consumer_id !== consumer.id) throw new Unauthorized('Provided consumer key does not match stored consumer key.');
      const signatureValid = verifySignature(signed, request.uris, consumer.secret, requestToken.request_secret);
      if (requestToken.verifier !== signed.verifier) throw new Unauthorized('Provided verifier does not match stored verifier');
      if (!signatureValid) throw new Unauthorized('Invalid signature');
      if (!requestToken.authorizing_user_id) throw new Unauthorized('Request Token does not have an authorizing user id.');

      const access = await store.exchangeRequestToken(requestToken.id, signed.verifier, {
        id: newId(),
        access_secret: newId(),
        expires_at: expiry(options.accessTokenDuration),
      });
      // Lost a race with another exchange of the same verifier: the request token is gone.
      if (!access) throw new NotFound('Request token not found');
      return access;
    },

    /**
     * The `oauth1` auth method (keystone/auth/plugins/oauth1.py + oauthlib's ResourceEndpoint):
     * a request signed with the consumer's and the access token's secrets. Every failure after
     * the token lookup is the same 401, as oauthlib answers only valid or not.
     */
    async authenticate(request: SignedHttpRequest): Promise<{ userId: string; projectId: string; accessTokenId: string }> {
      const signed = signedRequest(request);
      if (!signed.token) throw expecting('oauth_token', 'request');
      const access = await requireAccessToken(signed.token);
      if (isExpired(access.expires_at)) throw new Unauthorized('Access token is expired');
      try {
        checkMandatoryParameters(signed, nowSeconds());
      } catch (error) {
        if (error instanceof OAuthRequestError) throw new Unauthorized(`Could not validate the access token: ${error.description}`);
        throw error;
      }
      const consumer = signed.consumerKey ? await store.getConsumer(signed.consumerKey) : undefined;
      // Keystone never compares the access token's consumer with the signing one; an access
      // token is only usable by the consumer it was issued to here.
      if (!consumer || consumer.id !== access.consumer_id || !verifySignature(signed, request.uris, consumer.secret, access.access_secret)) {
        throw new Unauthorized('Could not validate the access token');
      }
      return {
        userId: access.authorizing_user_id,
        projectId: access.project_id,
        accessTokenId: access.id,
      };
    },

    // ---- a user's access tokens ---------------------------------------------------------------

    listAccessTokens: (userId: string) => store.listAccessTokens(userId),

    getAccessToken: ownAccessToken,

    /** Tokens issued with it stop validating at once: their delegation is looked up each time. */
    async deleteAccessToken(userId: string, id: string): Promise<void> {
      const token = await requireAccessToken(id);
      if (token.authorizing_user_id !== userId) throw new Unauthorized('User IDs do not match');
      await store.deleteAccessToken(id);
    },

    async accessTokenRoleIds(userId: string, id: string): Promise<readonly string[]> {
      return (await ownAccessToken(userId, id)).role_ids;
    },

    /** GET .../roles/{role_id}: Keystone says 401 for another user's token here, not 404. */
    async accessTokenRoleId(userId: string, id: string, roleId: string): Promise<string> {
      const token = await requireAccessToken(id);
      if (token.authorizing_user_id !== userId) throw new Unauthorized('User IDs do not match');
      if (!token.role_ids.includes(roleId)) throw NotFound.entity('role', roleId);
      return roleId;
    },

    /** What validating an OAuth1 token needs: undefined once the access token is deleted. */
    async delegation(accessTokenId: string): Promise<{ consumerId: string; roleIds: readonly string[] } | undefined> {
      const token = await store.getAccessToken(accessTokenId);
      return token && { consumerId: token.consumer_id, roleIds: token.role_ids };
    },
  };
}

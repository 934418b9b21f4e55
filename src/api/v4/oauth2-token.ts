import { KeystoneError } from '../../common/errors.js';
import type { Credentials, PolicyEngine } from '../../policy/pdp.js';
import type { RestrictedTokenIssuer } from '../../token-restriction/exchange.js';
import type { TokenRestrictionRecord } from '../../token-restriction/store.js';
import { policyView } from './token-restrictions.js';
import type { ValidatedToken } from '../../token/provider.js';
import type { RequestContext, Reply, Route } from '../http.js';

/**
 * POST /v4/oauth2/token: OAuth 2.0 token exchange (RFC 8693) for Keystone tokens. The grant is
 * dispatched on `subject_token_type`, one handler per type, so each kind of subject (a Keystone
 * token, a workload JWT, ...) is its own module registered in main.ts.
 */

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** The policy action of every down-scoping exchange, whichever route it came by. */
export const CREATE_RESTRICTED_TOKEN = 'keystone_ts:create_restricted_token';

/** An RFC 6749 section 5.2 error: `error` is one of its codes (or RFC 8693's). */
export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_target',
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export interface TokenExchangeRequest {
  readonly subjectToken: string;
  /** Every form parameter, each given once (checked before the handler runs). */
  readonly params: ReadonlyMap<string, string>;
  readonly sourceAddress: string | undefined;
}

/** What a handler issued: the Keystone token and when it expires. */
export interface TokenExchangeResult {
  readonly tokenText: string;
  readonly expiresAt: Date;
  /** Keystone's token body, for handlers that answer with it beside RFC 8693's members (a workload login). */
  readonly tokenBody?: Readonly<Record<string, unknown>>;
}

/**
 * Exchanges one kind of subject token for a Keystone token. Throws OAuthError for a refusal in
 * RFC terms; a KeystoneError below 500 is answered as `invalid_request` with its message.
 */
export type SubjectTokenHandler = (request: TokenExchangeRequest) => Promise<TokenExchangeResult>;

export interface OAuth2TokenRoutesDeps {
  /** subject_token_type → handler. */
  readonly handlers: ReadonlyMap<string, SubjectTokenHandler>;
  readonly now: () => Date;
}

function oauthError(error: OAuthError): Reply {
  // RFC 6749 section 5.2; no-store as for any token endpoint answer (section 5.1).
  return { status: error.status, body: { error: error.error, error_description: error.description }, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' } };
}

function single(form: URLSearchParams): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of form) {
    // RFC 6749 section 3.2: "Request and response parameters MUST NOT be included more than once."
    if (params.has(name)) throw new OAuthError('invalid_request', `parameter ${name} is given more than once`);
    params.set(name, value);
  }
  return params;
}

export function oauth2TokenRoutes(deps: OAuth2TokenRoutesDeps): Route[] {
  async function exchange(ctx: RequestContext): Promise<Reply> {
    const params = single((ctx.body as URLSearchParams | undefined) ?? new URLSearchParams());
    const grantType = params.get('grant_type');
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType !== TOKEN_EXCHANGE_GRANT) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
    const subjectToken = params.get('subject_token');
    const subjectTokenType = params.get('subject_token_type');
    if (!subjectToken) throw new OAuthError('invalid_request', 'subject_token is required');
    if (!subjectTokenType) throw new OAuthError('invalid_request', 'subject_token_type is required');
    // RFC 8693 section 2.2.2: an unsupported subject_token_type is an invalid_request.
    const handler = deps.handlers.get(subjectTokenType);
    if (!handler) throw new OAuthError('invalid_request', `unsupported subject_token_type ${subjectTokenType}`);
    const requested = params.get('requested_token_type');
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new OAuthError('invalid_request', `unsupported requested_token_type ${requested}`);
    if (params.has('actor_token')) throw new OAuthError('invalid_request', 'delegation with actor_token is not supported');
    const issued = await handler({ subjectToken, params, sourceAddress: ctx.sourceAddress });
    return {
      status: 200,
      body: {
        access_token: issued.tokenText,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: Math.max(0, Math.floor((issued.expiresAt.getTime() - deps.now().getTime()) / 1000)),
        ...issued.tokenBody,
      },
      headers: { 'X-Subject-Token': issued.tokenText, 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    };
  }

  return [
    {
      method: 'POST',
      path: '/v4/oauth2/token',
      // The subject token is the credential, checked by its handler (each enforces its own
      // policy action), as POST /v3/auth/tokens checks its methods.
      action: null,
      authenticated: false,
      bodyFormat: 'form',
      statuses: [200, 400, 401, 413],
      async handle(ctx) {
        try {
          return await exchange(ctx);
        } catch (error) {
          if (error instanceof OAuthError) return oauthError(error);
          // Keystone's refusals (an invalid subject token, a restriction that is not the
          // caller's) become RFC 8693's invalid_request (section 2.2.2), with Keystone's text.
          if (error instanceof KeystoneError && error.status < 500) return oauthError(new OAuthError('invalid_request', error.message));
          throw error;
        }
      },
    },
  ];
}

export interface KeystoneTokenExchangeDeps {
  readonly validate: (tokenText: string) => Promise<ValidatedToken>;
  readonly issuer: RestrictedTokenIssuer;
  readonly restrictions: { find(id: string): Promise<TokenRestrictionRecord | undefined> };
  readonly policy: PolicyEngine;
  readonly credentialsFor: (token: ValidatedToken, service: ValidatedToken | undefined) => Credentials;
}

/**
 * `subject_token_type` access_token: a Keystone token is exchanged for a restricted token, the
 * restriction named by the `restriction_id` parameter (an extension parameter, RFC 8693
 * section 2.1 lets a server define them). The same checks as POST
 * /v4/tokens/restrictions/{id}/tokens, under the same policy action.
 */
export function keystoneTokenExchange(deps: KeystoneTokenExchangeDeps): SubjectTokenHandler {
  return async (request) => {
    const restrictionId = request.params.get('restriction_id');
    if (!restrictionId) throw new OAuthError('invalid_request', 'restriction_id is required to exchange a Keystone token');
    const subject = await deps.validate(request.subjectToken).catch((error: unknown) => {
      if (error instanceof KeystoneError && error.status < 500) throw new OAuthError('invalid_request', 'the subject_token is not a valid token');
      throw error;
    });
    const restriction = await deps.restrictions.find(restrictionId);
    if (!restriction) throw new OAuthError('invalid_request', `Could not find token restriction: ${restrictionId}.`);
    const decision = deps.policy.decide(CREATE_RESTRICTED_TOKEN, {
      credentials: deps.credentialsFor(subject, undefined),
      path: { restriction_id: restrictionId },
      target: { restriction: policyView(restriction) },
      request: { method: 'POST', path: '/v4/oauth2/token', ...(request.sourceAddress !== undefined ? { source: request.sourceAddress } : {}) },
    });
    if (!decision.allow) throw new OAuthError('invalid_request', `the subject_token may not be exchanged: ${CREATE_RESTRICTED_TOKEN} denied`);
    const issued = await deps.issuer.exchange(subject, restrictionId);
    return { tokenText: issued.tokenText, expiresAt: issued.token.data.expiresAt };
  };
}

import { assertedCredentials } from '../../policy/credentials.js';
import type { Credentials, PolicyEngine } from '../../policy/pdp.js';
import type { ValidatedToken } from '../../token/provider.js';
import type { Caller } from '../http.js';
import type { SchemaRegistry } from '../validation.js';

/** What the authorization APIs for other services need besides the route table's checks. */
export interface AuthzApiDeps {
  readonly policy: PolicyEngine;
  readonly tokens: { validate(token: string): Promise<ValidatedToken> };
  readonly schemas: SchemaRegistry;
  readonly credentialsFor: (token: ValidatedToken, service: ValidatedToken | undefined) => Credentials;
}

/**
 * The subject as a Keystone token the calling service holds on a user's behalf. The caller's
 * own token plays the part of keystonemiddleware's X-Service-Token: its roles become the
 * subject's `service_roles`, so composite rules (`role:member and service_roles:service`) work.
 * A token that does not validate is the provider's 404 (TokenNotFound), as for X-Subject-Token.
 */
export async function tokenSubject(deps: AuthzApiDeps, subjectToken: string, caller: Caller): Promise<Credentials> {
  return deps.credentialsFor(await deps.tokens.validate(subjectToken), caller.token);
}

/** Credentials asserted by the caller, checked field by field (`at` names them in errors). */
export function assertedSubject(deps: AuthzApiDeps, asserted: unknown, at: string): Credentials {
  deps.schemas.validate('policy-credentials', asserted, at);
  return assertedCredentials(asserted as Parameters<typeof assertedCredentials>[0]);
}

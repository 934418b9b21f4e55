import { decodeJwt } from 'jose';
import { Unauthorized, ValidationError } from '../common/errors.js';
import type { ValidatedToken } from '../token/provider.js';
import type { WorkloadService } from './service.js';

/** RFC 8693 §3: the subject token is a JWT. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * RFC 8693 token exchange of a workload JWT for a Keystone token: one handler of the
 * `POST /v4/oauth2/token` dispatcher, keyed by `subject_token_type`. The issuer is the one the
 * `identity_provider` field names, else the single enabled issuer whose bound_issuer is the
 * token's (unverified, only used to choose) `iss`; `openstack_mapping` names the binding.
 */
export function createJwtExchange(workload: WorkloadService) {
  return async (fields: Readonly<Record<string, string>>): Promise<{ tokenText: string; token: ValidatedToken }> => {
    if (fields['grant_type'] !== TOKEN_EXCHANGE_GRANT) throw new ValidationError(`grant_type must be ${TOKEN_EXCHANGE_GRANT}.`);
    if (fields['subject_token_type'] !== JWT_TOKEN_TYPE) throw new ValidationError(`subject_token_type must be ${JWT_TOKEN_TYPE}.`);
    const jwt = fields['subject_token'];
    if (!jwt) throw new ValidationError('subject_token is required.');
    let issuerId = fields['identity_provider'];
    if (!issuerId) {
      let iss: unknown;
      try {
        iss = decodeJwt(jwt).iss;
      } catch {
        throw new Unauthorized('workload login refused: subject_token is not a JWT');
      }
      const candidates = typeof iss === 'string' ? await workload.issuersFor(iss) : [];
      if (candidates.length !== 1) {
        throw new Unauthorized(`workload login refused: ${candidates.length} identity providers trust iss ${String(iss)}; name one with identity_provider`);
      }
      issuerId = candidates[0]!.id;
    }
    const { tokenText, token } = await workload.login(issuerId, jwt, fields['openstack_mapping'] || undefined);
    return { tokenText, token };
  };
}

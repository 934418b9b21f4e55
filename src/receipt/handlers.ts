/**
 * The auth receipt response (keystone/receipt/handlers.py build_receipt): when every method
 * succeeded but the user's MFA rules want more, POST /v3/auth/tokens answers 401 with a receipt
 * in `Openstack-Auth-Receipt` and its description in the body, and no WWW-Authenticate (spec 1.7).
 */
import { keystoneIsoTime } from '../common/time.js';
import { requiredAuthMethods } from '../auth/mfa.js';
import type { IdentityService } from '../identity/service.js';
import type { ResourceStore } from '../resource/store.js';
import type { Reply } from '../api/http.js';
import type { ReceiptProvider } from './provider.js';

export const AUTH_RECEIPT_HEADER = 'Openstack-Auth-Receipt';

export interface ReceiptRepliesDeps {
  readonly receipts: Pick<ReceiptProvider, 'issue'>;
  readonly identity: Pick<IdentityService, 'getUser'>;
  readonly resource: Pick<ResourceStore, 'getDomain'>;
  /** `[auth] methods`: rules are narrowed to the loaded methods. */
  readonly loadedMethods: readonly string[];
}

export type ReceiptReplies = ReturnType<typeof createReceiptReplies>;

export function createReceiptReplies(deps: ReceiptRepliesDeps) {
  const loaded = new Set(deps.loadedMethods);
  return {
    /** The receipt reply for `methods`, which already succeeded for `userId`. */
    async reply(userId: string, methods: readonly string[]): Promise<Reply> {
      const user = await deps.identity.getUser(userId);
      if (!user) throw new Error(`user ${userId} vanished while its receipt was issued`);
      const domain = await deps.resource.getDomain(user.domain_id);
      const issued = deps.receipts.issue(userId, methods);
      const body = {
        receipt: {
          methods: issued.data.methods,
          user: { id: user.id, name: user.name, domain: { id: user.domain_id, name: domain?.name ?? null } },
          expires_at: keystoneIsoTime(issued.data.expiresAt),
          issued_at: keystoneIsoTime(issued.data.issuedAt),
        },
        required_auth_methods: requiredAuthMethods(user.options, new Set(methods), loaded),
      };
      // Keystone's flask response: jsonutils.dumps, no trailing newline.
      return { status: 401, body, headers: { [AUTH_RECEIPT_HEADER]: issued.text }, trailingNewline: false };
    },
  };
}

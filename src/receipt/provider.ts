/**
 * Auth receipts (keystone/receipt/provider.py): the proof, handed back in a 401, that some of a
 * user's authentication methods already succeeded, so that the next request may supply only the
 * missing ones (spec 1.7). Always Fernet, with the `[fernet_receipts]` keys.
 */
import { isExpired, type ReceiptFormatter } from '../token/formatter.js';
import { InvalidReceipt } from '../token/errors.js';
import type { ReceiptData } from '../token/payload.js';

export interface ReceiptProviderDeps {
  readonly formatter: ReceiptFormatter;
  readonly now: () => Date;
  /** `[receipt] expiration`, seconds. */
  readonly expiration: number;
}

export interface IssuedReceipt {
  readonly text: string;
  readonly data: ReceiptData;
}

export type ReceiptProvider = ReturnType<typeof createReceiptProvider>;

export function createReceiptProvider(deps: ReceiptProviderDeps) {
  return {
    /** A fresh receipt; Keystone truncates its expiry to whole seconds, as a token's. */
    issue(userId: string, methods: readonly string[]): IssuedReceipt {
      const now = deps.now();
      const issuedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const expiresAt = new Date(issuedAt.getTime() + deps.expiration * 1000);
      const text = deps.formatter.create({ userId, methods: [...methods], expiresAt }, { timestamp: issuedAt.getTime() / 1000 });
      return { text, data: { userId, methods: [...methods], issuedAt, expiresAt } };
    },

    /**
     * The receipt's user and methods. Keystone's ReceiptNotFound (401) for one that cannot be
     * read or has expired.
     */
    validate(text: string): ReceiptData {
      const data = deps.formatter.parse(text);
      if (isExpired(data, deps.now())) throw new InvalidReceipt('expired');
      return data;
    },
  };
}

import { randomBytes, randomUUID } from 'node:crypto';

/** Keystone's server-generated ids: `uuid4().hex`, 32 lowercase hex characters. */
export function newId(): string {
  return randomUUID().replaceAll('-', '');
}

/** Audit ids: 16 random bytes, urlsafe base64 without the `==` padding (22 characters). */
export function newAuditId(): string {
  return randomBytes(16).toString('base64url');
}

/** Parses an `extra` JSON column; Keystone writes `{}` when empty and tolerates NULL. */
export function parseExtra(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

import { ValidationError } from '../../common/errors.js';
import type { RevocationEvent } from '../../revoke/store.js';
import type { RevocationService } from '../../revoke/service.js';
import type { Route } from '../http.js';

/** Keystone's utils.isotime: whole seconds, optionally with a `.000000` fraction, and `Z`. */
function isotime(date: Date, subsecond = false): string {
  const text = date.toISOString().slice(0, 19);
  return `${text}${subsecond ? '.000000' : ''}Z`;
}

/** RevokeEvent.to_dict: only the members that are set, OS-TRUST / OS-OAUTH1 names for theirs. */
export function revokeEventDict(event: RevocationEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['user_id', 'role_id', 'domain_id', 'project_id', 'audit_id', 'audit_chain_id'] as const) {
    const value = event[key];
    if (value !== null) out[key] = value;
  }
  if (event.trust_id !== null) out['OS-TRUST:trust_id'] = event.trust_id;
  if (event.consumer_id !== null) out['OS-OAUTH1:consumer_id'] = event.consumer_id;
  if (event.access_token_id !== null) out['OS-OAUTH1:access_token_id'] = event.access_token_id;
  if (event.expires_at !== null) out['expires_at'] = isotime(event.expires_at);
  out['issued_before'] = isotime(event.issued_before, true);
  out['revoked_at'] = isotime(event.revoked_at, true);
  return out;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * oslo's parse_isotime then normalize_time: an ISO 8601 date or time, naive meaning UTC.
 * Undefined for anything else, including impossible dates (2026-02-30).
 */
export function parseIsoTime(text: string): Date | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const millis = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const utc = Date.UTC(year!, month! - 1, day!, hour, minute, second, millis);
  const check = new Date(utc);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month! - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const zone = m[8]?.toUpperCase();
  if (!zone || zone === 'Z') return check;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return new Date(utc - sign * offset * 60_000);
}

/** OS-REVOKE: the revocation events, for services that match tokens themselves. */
export function revokeRoutes(deps: { revoke: RevocationService }): Route[] {
  return (['GET', 'HEAD'] as const).map((method) => ({
    method,
    path: '/v3/OS-REVOKE/events',
    action: 'identity:list_revoke_events',
    authenticated: true,
    statuses: [200, 400, 401, 403],
    async handle(ctx) {
      const since = ctx.query['since'];
      let lastFetch: Date | undefined;
      if (typeof since === 'string' && since !== '') {
        lastFetch = parseIsoTime(since);
        // Keystone's message (its typo included) without the value: a query string is echoed nowhere.
        if (!lastFetch) throw new ValidationError('invalidate date format');
      } else if (since !== undefined && typeof since !== 'string') {
        throw new ValidationError('invalidate date format');
      }
      const events = await deps.revoke.listEvents(lastFetch);
      return {
        status: 200,
        body: { events: events.map(revokeEventDict), links: { next: null, self: `${ctx.baseUrl}/v3/OS-REVOKE/events`, previous: null } },
      };
    },
  }));
}

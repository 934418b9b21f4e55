/**
 * Keystone's `utils.isotime(at, subsecond=True)`: the timestamp format of token `issued_at` /
 * `expires_at`, trust `expires_at` and revocation events (spec Appendix E).
 *
 * Keystone drops the microseconds *before* formatting (`at.replace(microsecond=0)`), so the
 * fraction is always `.000000`: the milliseconds of `date` are truncated, never rounded.
 *
 * @example keystoneIsoTime(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 999))) === '2026-01-01T00:00:00.000000Z'
 */
export function keystoneIsoTime(date: Date): string {
  const iso = date.toISOString(); // 'YYYY-MM-DDTHH:MM:SS.sssZ' for years 0000..9999, longer otherwise
  if (iso.length !== 24) {
    // Python's datetime stops at year 9999; such a timestamp cannot come from Keystone.
    throw new RangeError(`Time out of Keystone's range (years 0-9999): ${iso}`);
  }
  return `${iso.slice(0, 19)}.000000Z`;
}

/** Whole seconds since the Unix epoch, truncated towards the past (as Keystone drops microseconds). */
export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * oslo's jsonutils rendering of a naive datetime: `YYYY-MM-DDTHH:MM:SS.ffffff`, microseconds kept,
 * no zone (user `password_expires_at`, app-credential `expires_at`; Appendix E).
 */
export function naiveIsoTime(date: Date, micros = (date.getTime() % 1000) * 1000): string {
  return `${date.toISOString().slice(0, 19)}.${String(Math.max(0, micros)).padStart(6, '0')}`;
}

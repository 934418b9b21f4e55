/**
 * How SQL values become JS values, identically on `pg` and PGlite (docs/decisions/0001).
 *
 * - `timestamp without time zone` (Keystone's DATETIME) holds naive **UTC** (spec §6). Both
 *   drivers parse it as *local* time by default, which is wrong on any host whose TZ is not UTC.
 *   We parse it as UTC into a `Date`. PostgreSQL keeps microseconds and `Date` does not, so the
 *   sub-millisecond part rides along on the Date (see {@link epochMicros}) and is written back
 *   when the Date is a query parameter: a row read and written again keeps Keystone's
 *   `18:21:31.135872` instead of becoming `.135000`.
 * - `timestamptz` is parsed the same way, honouring its offset.
 * - `bigint` (Keystone's DateTimeInt `*_int` columns, µs since the epoch; `count(*)`) becomes a
 *   JS number. Values beyond 2^53 would silently lose digits, so they fail the query instead.
 * - `date` (`user.last_active_at`) stays the `'YYYY-MM-DD'` string PostgreSQL sends: a calendar
 *   day has no time zone, and a Date would invite exactly the local/UTC confusion above.
 * - booleans, integers, text and enums are left to the drivers, which already agree.
 */

/** PostgreSQL type OIDs we parse ourselves (pg_type.oid; stable across versions). */
export const PgOid = {
  INT8: 20,
  DATE: 1082,
  TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184,
  INT8_ARRAY: 1016,
  DATE_ARRAY: 1182,
  TIMESTAMP_ARRAY: 1115,
  TIMESTAMPTZ_ARRAY: 1185,
} as const;

/**
 * The microseconds (0..999) below a Date's millisecond, read from or bound for the database, kept
 * beside it rather than on it: a property defined on each Date costs more than the parse itself
 * over a 10,000-row list, and a WeakMap leaves the Date plain for deepStrictEqual, JSON, inspect.
 */
const subMilliMicrosOf = new WeakMap<Date, number>();

/**
 * A Date for `micros` microseconds since the Unix epoch, keeping the microseconds for the
 * database. Writers of Keystone's paired columns (`created_at` + `created_at_int`) take one clock
 * reading in µs and store `dateFromEpochMicros(us)` and `us`, as Keystone does.
 */
export function dateFromEpochMicros(micros: number): Date {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer number of microseconds: ${micros}`);
  const millis = Math.floor(micros / 1000);
  const date = new Date(millis);
  setSubMilliMicros(date, micros - millis * 1000);
  return date;
}

/** Microseconds since the Unix epoch of a Date, including microseconds read from the database. */
export function epochMicros(date: Date): number {
  return date.getTime() * 1000 + subMilliMicros(date);
}

function subMilliMicros(date: Date): number {
  return subMilliMicrosOf.get(date) ?? 0;
}

function setSubMilliMicros(date: Date, micros: number): void {
  if (micros !== 0) subMilliMicrosOf.set(date, micros);
}

const TIMESTAMP_TEXT =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?( BC)?$/;

/**
 * Parses PostgreSQL's ISO text output of `timestamp` (read as UTC) and `timestamptz` (offset
 * honoured). `infinity` maps to the largest Date; BC dates are unsupported (Invalid Date).
 */
export function parseTimestamp(text: string): Date {
  if (text === 'infinity') return new Date(8.64e15);
  if (text === '-infinity') return new Date(-8.64e15);
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m || m[12] !== undefined) return new Date(Number.NaN);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const micros = Number((frac ?? '').padEnd(6, '0'));
  const year = Number(y);
  let date: Date;
  if (year >= 100) {
    date = new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.floor(micros / 1000)));
  } else {
    // setUTCFullYear(y, m, d) keeps years 0..99 literal (Date.UTC would map them to 19xx).
    date = new Date(0);
    date.setUTCFullYear(year, Number(mo) - 1, Number(d));
    date.setUTCHours(Number(h), Number(mi), Number(s), Math.floor(micros / 1000));
  }
  const millis = date.getTime();
  if (sign !== undefined) {
    const offsetSeconds = Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0);
    date.setTime(millis - (sign === '+' ? 1 : -1) * offsetSeconds * 1000);
  }
  setSubMilliMicros(date, micros % 1000);
  return date;
}

/**
 * The text we bind for a Date parameter: UTC with microseconds and a `Z`. For `timestamp without
 * time zone` PostgreSQL ignores the zone and stores the UTC wall time, which is Keystone's
 * convention; for `timestamptz` the zone makes it the right instant. (pg's own serialiser would
 * send *local* time with an offset, which a naive column stores as local wall time.)
 */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid Date passed as a query parameter');
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ (or ±YYYYYY-... outside 0..9999)
  return `${iso.slice(0, -1)}${String(subMilliMicros(date)).padStart(3, '0')}Z`;
}

/** int8 → number; refusing values a double cannot hold rather than returning wrong digits. */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`bigint value ${text} is beyond Number.MAX_SAFE_INTEGER; cast it to text in SQL`);
  }
  return n;
}

/** `date` stays 'YYYY-MM-DD' (see the module comment). */
export function parseDate(text: string): string {
  return text;
}

/**
 * One-dimensional PostgreSQL array text (`{a,"b c",NULL}`) → elements parsed by `element`.
 * Enough for arrays of int8, date and timestamps; nested arrays are not used by this project.
 */
export function parseArray<T>(text: string, element: (value: string) => T): (T | null)[] {
  if (text.length < 2 || text[0] !== '{' || text[text.length - 1] !== '}') {
    throw new RangeError(`not a one-dimensional array literal: ${text}`);
  }
  const out: (T | null)[] = [];
  const body = text.slice(1, -1);
  let i = 0;
  while (i < body.length) {
    let raw: string;
    let quoted = false;
    if (body[i] === '"') {
      quoted = true;
      let value = '';
      i += 1;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i += 1;
        value += body[i] ?? '';
        i += 1;
      }
      i += 1; // closing quote
      raw = value;
    } else {
      const end = body.indexOf(',', i);
      raw = body.slice(i, end === -1 ? body.length : end);
      i = end === -1 ? body.length : end;
    }
    out.push(!quoted && raw === 'NULL' ? null : element(raw));
    i += 1; // comma
  }
  return out;
}

/** The parsers both drivers get, keyed by type OID. */
export const TEXT_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [PgOid.INT8]: parseInt8,
  [PgOid.DATE]: parseDate,
  [PgOid.TIMESTAMP]: parseTimestamp,
  [PgOid.TIMESTAMPTZ]: parseTimestamp,
  [PgOid.INT8_ARRAY]: (text) => parseArray(text, parseInt8),
  [PgOid.DATE_ARRAY]: (text) => parseArray(text, parseDate),
  [PgOid.TIMESTAMP_ARRAY]: (text) => parseArray(text, parseTimestamp),
  [PgOid.TIMESTAMPTZ_ARRAY]: (text) => parseArray(text, parseTimestamp),
};

/**
 * Query parameters as both drivers should see them: Dates (also inside arrays) become
 * {@link formatTimestamp} text. Other values pass through unchanged.
 */
export function normalizeParameters(parameters: ReadonlyArray<unknown>): unknown[] {
  return parameters.map(normalizeParameter);
}

function normalizeParameter(value: unknown): unknown {
  if (value instanceof Date) return formatTimestamp(value);
  if (Array.isArray(value)) return value.map(normalizeParameter);
  return value;
}

/**
 * Keystone's list "hints" (spec 5.4): the filters a list route honours, read from the query
 * string, applied to the rendered records, then the `list_limit` truncation.
 *
 * - `attr=value` is exact; on a boolean attribute the value is read as oslo's attr_as_boolean.
 * - `attr__contains|startswith|endswith=value` is case-sensitive; an `i` before the operator
 *   (`attr__icontains`) makes it case-insensitive; an unknown operator matches everything.
 * - Query keys for other attributes are ignored.
 */
import { NotFound, ValidationError } from './errors.js';

export interface ListFilter {
  readonly name: string;
  readonly value: string;
  readonly comparator: string;
  readonly caseSensitive: boolean;
}

function values(raw: unknown): string[] {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw)) return raw.filter((v): v is string => typeof v === 'string');
  return [];
}

export function readListFilters(query: Readonly<Record<string, unknown>>, supported: readonly string[]): ListFilter[] {
  const filters: ListFilter[] = [];
  for (const [key, raw] of Object.entries(query)) {
    for (const value of values(raw)) {
      if (supported.includes(key)) {
        filters.push({ name: key, value, comparator: 'equals', caseSensitive: true });
        continue;
      }
      for (const name of supported) {
        if (!key.startsWith(`${name}__`)) continue;
        let comparator = key.slice(name.length + 2);
        const caseSensitive = !comparator.startsWith('i');
        if (!caseSensitive) comparator = comparator.slice(1);
        filters.push({ name, value, comparator, caseSensitive });
      }
    }
  }
  return filters;
}

/** The query members a list's policy sees as `filter_attr`: only the honoured filters. */
export function filterAttributes(query: Readonly<Record<string, unknown>>, supported: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of supported) {
    const [first] = values(query[name]);
    if (first !== undefined) out[name] = first;
  }
  return out;
}

/**
 * Keystone's attr_as_boolean for identity and resource filters: 0, f, false, n, no, off (any
 * case, trimmed) are false, everything else true.
 */
export function attrAsBoolean(value: string): boolean {
  return !['0', 'f', 'false', 'n', 'no', 'off'].includes(value.trim().toLowerCase());
}

/**
 * Keystone's filter_by_attributes for what the database did not answer: booleans through
 * attr_as_boolean, other values by equality, the string comparators on strings only; an unknown
 * comparator matches everything, as Keystone ignores it.
 */
export function matchesFilter(filter: ListFilter, record: Readonly<Record<string, unknown>>): boolean {
  const actual = record[filter.name];
  if (filter.comparator === 'equals') {
    if (typeof actual === 'boolean') return actual === attrAsBoolean(filter.value);
    return actual === filter.value;
  }
  if (typeof actual !== 'string') return false;
  const target = filter.caseSensitive ? actual : actual.toLowerCase();
  const wanted = filter.caseSensitive ? filter.value : filter.value.toLowerCase();
  switch (filter.comparator) {
    case 'contains':
      return target.includes(wanted);
    case 'startswith':
      return target.startsWith(wanted);
    case 'endswith':
      return target.endsWith(wanted);
    default:
      return true;
  }
}

/** Filters, then cuts to `limit` (null or 0: no limit) and says whether it did. */
export function applyListHints<T extends Readonly<Record<string, unknown>>>(
  records: readonly T[],
  filters: readonly ListFilter[],
  limit: number | null,
): { records: T[]; truncated: boolean } {
  const kept = records.filter((record) => filters.every((f) => matchesFilter(f, record)));
  if (limit && limit > 0 && kept.length > limit) return { records: kept.slice(0, limit), truncated: true };
  return { records: kept, truncated: false };
}

/**
 * Keystone 2026's pagination of users, groups, projects and domains (spec 5.4): `limit` (capped
 * at `[DEFAULT] max_db_limit`; 0 means that cap) and `marker`, the id after which the page
 * starts, over results sorted by id. Absent both, lists are not paged.
 */
export interface Page {
  /** The requested page size, capped; null when only a marker was given. */
  readonly limit: number | null;
  readonly marker: string | null;
  /** The most a page may hold: `limit`, else `max_db_limit`. */
  readonly size: number;
}

export class MarkerNotFound extends NotFound {
  constructor(marker: string) {
    super(`Marker ${marker} could not be found.`);
  }
}

export function readPage(query: Readonly<Record<string, unknown>>, maxDbLimit: number): Page | null {
  const limitText = values(query['limit'])[0];
  const marker = values(query['marker'])[0] || null;
  if (limitText === undefined && marker === null) return null;
  let limit: number | null = null;
  if (limitText !== undefined) {
    // Keystone's int(limit) fails with a 500 on anything but an integer; a 400 says why.
    if (!/^\d{1,9}$/.test(limitText)) throw new ValidationError(`Invalid input for field 'limit': ${JSON.stringify(limitText.slice(0, 20))} is not a non-negative integer.`);
    limit = Math.min(Number(limitText) || maxDbLimit, maxDbLimit);
  }
  return { limit, marker, size: limit ?? maxDbLimit };
}

/**
 * One page of records sorted by id: those after the marker, at most `page.size`. A page as
 * long as the requested limit is reported truncated even if nothing follows, as Keystone does.
 */
export function paginate<T extends { readonly id: string }>(sorted: readonly T[], page: Page): { refs: T[]; truncated: boolean } {
  const start = page.marker === null ? 0 : sorted.findIndex((r) => r.id > page.marker!);
  const refs = start === -1 ? [] : sorted.slice(start, start + page.size);
  return { refs, truncated: page.limit !== null && refs.length >= page.limit };
}

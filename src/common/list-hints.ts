/**
 * Keystone's list "hints" (spec 5.4): the filters a list route honours, read from the query
 * string, applied to the rendered records, then the `list_limit` truncation.
 *
 * - `attr=value` is exact; on a boolean attribute the value is read as oslo's attr_as_boolean.
 * - `attr__contains|startswith|endswith=value` is case-sensitive; an `i` before the operator
 *   (`attr__icontains`) makes it case-insensitive; an unknown operator matches everything.
 * - Query keys for other attributes are ignored.
 */

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

/** oslo's attr_as_boolean: 0, false, no, off (any case) are false, everything else true. */
function asBoolean(value: string): boolean {
  return !['0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}

function matches(filter: ListFilter, record: Readonly<Record<string, unknown>>): boolean {
  const actual = record[filter.name];
  if (filter.comparator === 'equals') {
    if (typeof actual === 'boolean') return actual === asBoolean(filter.value);
    return actual === filter.value;
  }
  if (!(filter.name in record)) return false;
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
  const kept = records.filter((record) => filters.every((f) => matches(f, record)));
  if (limit && limit > 0 && kept.length > limit) return { records: kept.slice(0, limit), truncated: true };
  return { records: kept, truncated: false };
}

import { type ListFilter, type Page, readListFilters } from '../../common/list-hints.js';
import type { ProjectRecord } from '../../resource/store.js';
import type { RequestContext } from '../http.js';

/**
 * What the domain and project routes share: Keystone's query parsing (build_driver_hints,
 * query_filter_is_true), its member rendering (to_dict key order, `extra` merged on top) and its
 * collection envelope (wrap_collection).
 */

/** The query's name/value pairs in order, repeated names included (werkzeug's args, multi=True). */
export function queryPairs(ctx: RequestContext): [string, string][] {
  return [...new URLSearchParams(ctx.queryString).entries()];
}

export function queryValue(ctx: RequestContext, name: string): string | undefined {
  return new URLSearchParams(ctx.queryString).get(name) ?? undefined;
}

/** `?flag` and `?flag=anything` are true; only `?flag=0` (or no flag) is false. */
export function queryFlag(ctx: RequestContext, name: string): boolean {
  const params = new URLSearchParams(ctx.queryString);
  return params.has(name) && params.get(name) !== '0';
}

/** Keystone's build_driver_hints over the raw query string (repeated names included). */
export function listFilters(ctx: RequestContext, supported: readonly string[]): ListFilter[] {
  const query: Record<string, string[]> = {};
  for (const [key, value] of queryPairs(ctx)) (query[key] ??= []).push(value);
  return readListFilters(query, supported);
}

/** The supported exact filters as given, for the policy's `filter_attr` (Keystone's filters=...). */
export function filterAttr(ctx: RequestContext, supported: readonly string[]): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const [key, value] of queryPairs(ctx)) if (supported.includes(key)) attrs[key] = value;
  return attrs;
}

export function projectDict(ref: ProjectRecord, options: { withExtraDict?: boolean } = {}): Record<string, unknown> {
  return {
    ...ref.extra,
    id: ref.id,
    name: ref.name,
    domain_id: ref.domain_id,
    description: ref.description,
    enabled: ref.enabled,
    parent_id: ref.parent_id,
    is_domain: ref.is_domain,
    tags: [...ref.tags],
    // Keystone's update_project answers with to_dict(include_extra_dict=True): `extra` twice.
    ...(options.withExtraDict ? { extra: { ...ref.extra } } : {}),
    options: { ...ref.options },
  };
}

/** A domain is its project with parent_id, domain_id, is_domain (and extra) removed. */
export function domainDict(ref: ProjectRecord): Record<string, unknown> {
  return {
    ...ref.extra,
    id: ref.id,
    name: ref.name,
    description: ref.description,
    enabled: ref.enabled,
    tags: [...ref.tags],
    options: { ...ref.options },
  };
}

export function withSelfLink(ctx: RequestContext, collection: string, dict: Record<string, unknown>): Record<string, unknown> {
  const links = typeof dict['links'] === 'object' && dict['links'] !== null ? (dict['links'] as Record<string, unknown>) : {};
  return { ...dict, links: { ...links, self: `${ctx.baseUrl}/v3/${collection}/${String(dict['id'])}` } };
}

/**
 * Keystone's wrap_collection envelope: `links` {next, self (with the query), previous}, then
 * `truncated`. A truncated page of a paged list links to the next one: the same query with
 * `marker` (the last id) and `limit` set.
 */
export function collection(ctx: RequestContext, key: string, members: Record<string, unknown>[], truncated: boolean, page?: Page | null): Record<string, unknown> {
  const lastId = members.length > 0 ? String(members[members.length - 1]!['id']) : undefined;
  return { [key]: members, ...collectionTail(ctx, lastId, truncated, page) };
}

/** What follows the members in {@link collection}'s envelope; `lastId`: the last member's id, if any. */
export function collectionTail(ctx: RequestContext, lastId: string | undefined, truncated: boolean, page?: Page | null): { links: Record<string, string | null>; truncated?: true } {
  const path = ctx.path.replace(/\/+$/, '');
  const self = `${ctx.baseUrl}${path}${ctx.queryString ? `?${ctx.queryString}` : ''}`;
  let next: string | null = null;
  if (page && truncated && lastId !== undefined) {
    const args = new URLSearchParams(ctx.queryString);
    args.set('marker', lastId);
    args.set('limit', String(page.limit ?? page.size));
    next = `${ctx.baseUrl}${path}?${args.toString()}`;
  }
  return { links: { next, self, previous: null }, ...(truncated ? { truncated: true as const } : {}) };
}

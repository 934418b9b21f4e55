import { attrAsBoolean, MarkerNotFound, paginate, type ListFilter, type Page } from '../common/list-hints.js';
import { Conflict, ForbiddenNotSecurity, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import type { RevocationService } from '../revoke/service.js';
import { DuplicateEntry, type ProjectChanges, type ProjectListQuery, type ProjectRecord, type ResourceStore } from './store.js';

/**
 * Keystone's resource manager (keystone/resource/core.py): the rules of domains and projects,
 * their hierarchy, tags and options, over the resource store. Routers call this; it never sees HTTP.
 */
export interface ResourceServiceOptions {
  /** [DEFAULT] max_project_tree_depth (the domain on top is not counted). */
  readonly maxProjectTreeDepth: number;
  /** [resource] list_limit, else [DEFAULT] list_limit; null: no limit. */
  readonly listLimit: number | null;
  readonly projectNameUrlSafe: 'off' | 'new' | 'strict';
  readonly domainNameUrlSafe: 'off' | 'new' | 'strict';
  /** [federation] federated_domain_name: reserved as a domain name and id (case-insensitive). */
  readonly federatedDomainName: string;
}

export interface ResourceServiceDeps {
  readonly store: ResourceStore;
  readonly revoke: RevocationService;
  readonly now: () => Date;
  readonly options: ResourceServiceOptions;
  /**
   * Called after projects or domains were disabled or deleted: what they own (service accounts)
   * is disabled with them. The resource service knows nothing of owners beyond this call.
   */
  readonly ownersDisabled?: (owners: { projectIds: readonly string[]; domainIds: readonly string[] }) => Promise<unknown>;
  /** What other services drop with a deleted domain (identity providers, workload issuers), once it is gone. */
  readonly domainDeleted?: (domainId: string) => Promise<unknown>;
}


export interface TagFilters {
  readonly tags?: string;
  readonly 'tags-any'?: string;
  readonly 'not-tags'?: string;
  readonly 'not-tags-any'?: string;
}

const URL_RESERVED = ":/?#[]@!$&'()*+,;=";
/** Columns Keystone's _WontMatch compares filter values with: longer values match nothing. */
const COLUMN_LENGTH: Readonly<Record<string, number>> = { id: 64, name: 64, domain_id: 64, parent_id: 64 };
const STRING_COLUMNS = new Set(['id', 'name', 'domain_id', 'parent_id', 'description']);
const BOOLEAN_COLUMNS = new Set(['enabled', 'is_domain']);


function unsafeChars(name: string): string {
  return [...name].filter((c) => URL_RESERVED.includes(c)).join('');
}

function isImmutable(record: ProjectRecord): boolean {
  return record.options['immutable'] === true;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export type ResourceService = ReturnType<typeof createResourceService>;

export function createResourceService(deps: ResourceServiceDeps) {
  const { store, options } = deps;

  async function getAny(id: string): Promise<ProjectRecord> {
    const record = await store.getRecord(id);
    if (!record) throw NotFound.entity('project', id);
    return record;
  }

  async function getDomain(id: string): Promise<ProjectRecord> {
    const record = await store.getRecord(id);
    // The database may compare case-insensitively (MySQL): Keystone insists on the exact id.
    if (!record || !record.is_domain || record.id !== id) throw NotFound.entity('domain', id);
    return record;
  }

  /** Ancestors nearest first, ending with the domain (Keystone's list_project_parents). */
  async function parentsOf(record: ProjectRecord): Promise<ProjectRecord[]> {
    const parents: ProjectRecord[] = [];
    const seen = new Set([record.id]);
    let current = record;
    while (current.parent_id) {
      if (seen.has(current.parent_id)) break; // a corrupted cycle: Keystone logs and stops
      const parent = await getAny(current.parent_id);
      seen.add(parent.id);
      parents.push(parent);
      current = parent;
    }
    return parents;
  }

  /** The whole subtree below `id`, breadth first (Keystone's list_projects_in_subtree). */
  async function subtreeOf(id: string): Promise<ProjectRecord[]> {
    const subtree: ProjectRecord[] = [];
    const seen = new Set([id]);
    let level = await store.listChildren([id]);
    while (level.length > 0) {
      const fresh = level.filter((p) => !seen.has(p.id));
      for (const p of fresh) seen.add(p.id);
      subtree.push(...fresh);
      level = await store.listChildren(fresh.map((p) => p.id));
    }
    return subtree;
  }

  function assertNotFederated(id: string, name: string | undefined): void {
    const reserved = options.federatedDomainName.toLowerCase();
    // Keystone raises a bare AssertionError here (a 500); a 400 says what is wrong.
    if (name !== undefined && name.toLowerCase() === reserved) throw new ValidationError(`Domain cannot be named ${name}`);
    if (id.toLowerCase() === reserved) throw new ValidationError(`Domain cannot have ID ${id}`);
  }

  function conflictMessage(record: { is_domain: boolean; name: string; id: string }): string {
    return record.is_domain
      ? `it is not permitted to have two projects acting as domains with the same name: ${record.name}`
      : `it is not permitted to have two projects with either the same name or same id in the same domain: name is ${record.name}, project id ${record.id}`;
  }

  function assertUrlSafe(kind: 'Project' | 'Domain', name: string): void {
    const setting = kind === 'Project' ? options.projectNameUrlSafe : options.domainNameUrlSafe;
    const chars = unsafeChars(name);
    if (setting !== 'off' && chars) throw new ValidationError(`${kind} name cannot contain the following reserved characters: ${chars}`);
  }

  /** Splits a body into model attributes and `extra` (Keystone's from_dict). */
  function extraOf(body: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) if (!known.includes(key)) extra[key] = value;
    return extra;
  }

  /**
   * The domain schemas leave `options` open; Keystone's model then keeps only registered options
   * and checks their values with the option's validator (a TypeError, answered as 400).
   */
  function domainOptions(body: Record<string, unknown>): Record<string, unknown> {
    const given = body['options'];
    if (given === undefined) return body;
    const options: Record<string, unknown> = {};
    if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
      for (const [name, value] of Object.entries(given)) {
        if (!(name in { immutable: 1 })) continue;
        if (value !== null && typeof value !== 'boolean') throw new ValidationError(`Expected boolean value, got ${typeof value}`);
        options[name] = value;
      }
    }
    return { ...body, options };
  }

  const ATTRIBUTES = ['id', 'name', 'domain_id', 'description', 'enabled', 'parent_id', 'is_domain', 'tags', 'options', 'extra'];

  /** Keystone's create_project, for projects and domains alike. */
  async function create(id: string, body: Record<string, unknown>): Promise<ProjectRecord> {
    const isDomain = body['is_domain'] === true;
    const name = String(body['name']);
    const domainId = (body['domain_id'] as string | null | undefined) ?? null;
    const parentId = (body['parent_id'] as string | null | undefined) || domainId;
    if (!isDomain) assertUrlSafe('Project', name);
    const record: ProjectRecord = {
      id,
      name: name.trim(),
      domain_id: domainId,
      description: 'description' in body ? (body['description'] as string | null) : '',
      enabled: 'enabled' in body ? (body['enabled'] as boolean) : true,
      parent_id: parentId,
      is_domain: isDomain,
      tags: ((body['tags'] as string[] | undefined) ?? []).map((t) => t.trim()),
      options: (body['options'] as Record<string, unknown> | undefined) ?? {},
      extra: extraOf(body, ATTRIBUTES),
    };
    if (isDomain) {
      assertNotFederated(id, record.name);
      if (record.parent_id) throw new ValidationError('only root projects are allowed to act as domains.');
    } else {
      if (!record.domain_id) throw NotFound.entity('domain', String(record.domain_id));
      const domain = await getDomain(record.domain_id);
      const parent = await getAny(record.parent_id!);
      if (parent.is_domain && parent.id !== domain.id) {
        throw new ValidationError(
          `Cannot create project, the parent (${parent.id}) is acting as a domain, but this project's domain id (${domain.id}) does not match the parent's id.`,
        );
      }
      if (!parent.is_domain && parent.domain_id !== domain.id) {
        throw new ValidationError(
          `Cannot create project, since it specifies its domain_id ${domain.id}, but specifies a parent in a different domain (${parent.domain_id}).`,
        );
      }
      const chain = [...(await parentsOf(parent)), parent];
      for (const ref of chain) {
        if (ref.enabled === false || ref.enabled === null) {
          throw new ValidationError(`cannot create a project in a branch containing a disabled project: ${ref.id}`);
        }
      }
      // Keystone adds one to the configured depth: domains became projects on top of every tree.
      if (chain.length + 1 > options.maxProjectTreeDepth + 1) {
        throw new ForbiddenNotSecurity(`Max hierarchy depth reached for ${parent.id} branch.`);
      }
    }
    try {
      await store.insertRecord(record);
    } catch (error) {
      if (error instanceof DuplicateEntry) throw new Conflict('project', conflictMessage(record));
      throw error;
    }
    return record;
  }

  /** Keystone's _update_project: immutability, hierarchy rules, then one transactional write. */
  async function update(original: ProjectRecord, body: Record<string, unknown>, kind: 'project' | 'domain'): Promise<ProjectRecord> {
    if ('domain_id' in body && body['domain_id'] !== original.domain_id) throw new ValidationError('Cannot change Domain ID');
    if (isImmutable(original)) {
      const newOptions = body['options'] as Record<string, unknown> | undefined;
      const unsetsOnly = Object.keys(body).length === 1 && newOptions !== undefined && 'immutable' in newOptions && (newOptions['immutable'] === false || newOptions['immutable'] === null);
      if (!unsetsOnly) {
        throw new ForbiddenNotSecurity(`Unable to update immutable ${kind} resource: \`${original.id}. Set resource option "immutable" to false first.`);
      }
    }
    if (original.is_domain) assertNotFederated(original.id, body['name'] as string | undefined);
    let name = body['name'] as string | undefined;
    if (name !== undefined && name !== original.name) {
      assertUrlSafe(original.is_domain ? 'Domain' : 'Project', name);
      name = name.trim();
    }
    if ('parent_id' in body && body['parent_id'] !== original.parent_id) throw new ForbiddenNotSecurity('Update of `parent_id` is not allowed.');
    if ('is_domain' in body && body['is_domain'] !== original.is_domain) throw new ValidationError('Update of `is_domain` is not allowed.');
    const wasEnabled = original.enabled !== false && original.enabled !== null;
    const enabled = 'enabled' in body ? (body['enabled'] as boolean) : true;
    // As Keystone: a body without `enabled` counts as enabling, so any update of a disabled
    // project under a disabled parent is refused.
    if (!wasEnabled && enabled) {
      const parents = await parentsOf(original);
      if (parents.some((p) => p.enabled === false)) throw new ForbiddenNotSecurity(`Cannot enable project ${original.id} since it has disabled parents`);
    }
    if (wasEnabled && 'enabled' in body && !enabled && !original.is_domain) {
      // A project acting as a domain may be disabled with enabled children: that disables them all.
      const subtree = await subtreeOf(original.id);
      if (subtree.some((p) => p.enabled !== false)) {
        throw new ForbiddenNotSecurity(`Cannot disable project ${original.id} since its subtree contains enabled projects.`);
      }
    }
    const extra = { ...original.extra, ...extraOf(body, ATTRIBUTES) };
    const changes: ProjectChanges = {
      ...(name !== undefined ? { name } : {}),
      ...('description' in body ? { description: body['description'] as string | null } : {}),
      ...('enabled' in body ? { enabled: body['enabled'] as boolean } : {}),
      ...('tags' in body ? { tags: (body['tags'] as string[]).map((t) => t.trim()) } : {}),
      ...('options' in body ? { options: body['options'] as Record<string, unknown> } : {}),
      extra,
    };
    try {
      await store.updateRecord(original.id, changes);
    } catch (error) {
      if (error instanceof DuplicateEntry) throw new Conflict('project', conflictMessage({ ...original, name: name ?? original.name }));
      throw error;
    }
    if (wasEnabled && 'enabled' in body && !enabled) {
      await deps.ownersDisabled?.(original.is_domain ? { projectIds: [], domainIds: [original.id] } : { projectIds: [original.id], domainIds: [] });
    }
    return getAny(original.id);
  }

  async function deleteDomainRecord(domain: ProjectRecord): Promise<void> {
    if (isImmutable(domain)) {
      throw new ForbiddenNotSecurity(`Unable to delete immutable domain resource: \`${domain.id}. Set resource option "immutable" to false first.`);
    }
    // Insisting on a disabled domain prevents accidents, and callers deleting their own domain:
    // once disabled, no token scoped to it is valid.
    if (domain.enabled !== false) throw new ForbiddenNotSecurity('Cannot delete a domain that is enabled, please disable it first.');
    const inDomain = await store.listRecords({ equals: { domain_id: domain.id } });
    for (const p of inDomain) {
      if (isImmutable(p)) throw new ForbiddenNotSecurity(`Unable to delete immutable project resource: \`${p.id}. Set resource option "immutable" to false first.`);
    }
    const { userIds } = await store.deleteDomain(domain.id, inDomain.map((p) => p.id), deps.now());
    for (const p of [...inDomain, domain]) await deps.revoke.revoke({ project_id: p.id });
    for (const userId of userIds) await deps.revoke.revoke({ user_id: userId });
    await deps.ownersDisabled?.({ projectIds: inDomain.map((p) => p.id), domainIds: [domain.id] });
    await deps.domainDeleted?.(domain.id);
  }

  return {
    getAny,
    getDomain,
    parentsOf,
    subtreeOf,
    projectsDeeperThan: store.projectsDeeperThan,

    /** Keystone's list filters and list_limit: SQL where it can, then in memory, then the limit. */
    async list(
      kind: 'projects' | 'domains',
      filters: readonly ListFilter[],
      tagFilters: TagFilters,
      scopeDomainId: string | null,
      page: Page | null = null,
    ): Promise<{ refs: ProjectRecord[]; truncated: boolean }> {
      if (page?.marker && !(await store.getRecord(page.marker))) throw new MarkerNotFound(page.marker);
      const equals: Partial<Record<'name' | 'domain_id' | 'parent_id' | 'id', string>> = {};
      const ilike: { column: 'name' | 'domain_id' | 'parent_id' | 'id' | 'description'; pattern: string }[] = [];
      const inMemory: ListFilter[] = [];
      let isDomain: boolean | undefined = kind === 'domains' ? true : false;
      let enabled: boolean | undefined;
      for (const f of filters) {
        if (f.comparator === 'equals') {
          if (BOOLEAN_COLUMNS.has(f.name)) {
            if (f.name === 'enabled') enabled = attrAsBoolean(f.value);
            else if (kind === 'projects') isDomain = attrAsBoolean(f.value);
            continue;
          }
          if ((COLUMN_LENGTH[f.name] ?? Infinity) < f.value.length) return { refs: [], truncated: false };
          if (f.name in equals && equals[f.name as 'name'] !== f.value) return { refs: [], truncated: false };
          equals[f.name as 'name'] = f.value;
        } else if (!f.caseSensitive && STRING_COLUMNS.has(f.name) && ['contains', 'startswith', 'endswith'].includes(f.comparator)) {
          if ((COLUMN_LENGTH[f.name] ?? Infinity) < f.value.length) return { refs: [], truncated: false };
          const pattern = f.comparator === 'contains' ? `%${f.value}%` : f.comparator === 'startswith' ? `${f.value}%` : `%${f.value}`;
          ilike.push({ column: f.name as 'name', pattern });
        } else {
          inMemory.push(f);
        }
      }
      const split = (v: string | undefined) => (v === undefined ? undefined : v.split(','));
      const query: ProjectListQuery = {
        isDomain,
        equals,
        ...(enabled === undefined ? {} : { enabled }),
        ilike,
        tags: { all: split(tagFilters.tags), any: split(tagFilters['tags-any']), notAll: split(tagFilters['not-tags']), notAny: split(tagFilters['not-tags-any']) },
      };
      let refs = await store.listRecords(query);
      // Case-sensitive inexact filters run after the query, as Keystone's filter_by_attributes.
      for (const f of inMemory) {
        refs = refs.filter((ref) => {
          const raw = (ref as unknown as Record<string, unknown>)[f.name];
          if (typeof raw !== 'string') return raw !== undefined && raw !== null && !['contains', 'startswith', 'endswith'].includes(f.comparator);
          const target = f.caseSensitive ? raw : raw.toLowerCase();
          const value = f.caseSensitive ? f.value : f.value.toLowerCase();
          if (f.comparator === 'contains') return target.includes(value);
          if (f.comparator === 'startswith') return target.startsWith(value);
          if (f.comparator === 'endswith') return target.endsWith(value);
          return true; // an unknown operator matches everything
        });
      }
      if (scopeDomainId !== null) refs = refs.filter((ref) => ref.domain_id === scopeDomainId);
      if (page) return paginate([...refs].sort(byId), page);
      const limit = options.listLimit;
      if (limit && refs.length > limit) return { refs: refs.slice(0, limit), truncated: true };
      return { refs, truncated: false };
    },

    /** POST /v3/domains: `explicit_domain_id` lets an operator choose the id (a UUID hex). */
    async createDomain(body: Record<string, unknown>): Promise<ProjectRecord> {
      const explicit = body['explicit_domain_id'];
      let id: string;
      if (explicit === undefined || explicit === null) {
        id = newId();
      } else {
        if (typeof explicit !== 'string' || !/^[0-9a-f]{32}$/.test(explicit)) {
          throw new ValidationError('Domain ID does not conform to required UUID format.');
        }
        id = explicit;
      }
      assertUrlSafe('Domain', String(body['name']));
      return create(id, { ...domainOptions(body), is_domain: true, domain_id: null, parent_id: null });
    },

    /** POST /v3/projects, after the API filled in domain_id and parent_id. */
    async createProject(body: Record<string, unknown>): Promise<ProjectRecord> {
      try {
        return await create(newId(), body);
      } catch (error) {
        // Keystone's API turns a missing domain or parent into a 400 with the not-found text.
        if (error instanceof NotFound) throw new ValidationError(error.message);
        throw error;
      }
    },

    async updateDomain(id: string, body: Record<string, unknown>): Promise<ProjectRecord> {
      assertNotFederated(id, body['name'] as string | undefined);
      const original = await getDomain(id);
      return update(original, domainOptions(body), 'domain');
    },

    async updateProject(id: string, body: Record<string, unknown>): Promise<ProjectRecord> {
      const original = await getAny(id);
      return update(original, body, original.is_domain ? 'domain' : 'project');
    },

    async deleteDomain(id: string): Promise<void> {
      await deleteDomainRecord(await getDomain(id));
    },

    /**
     * DELETE /v3/projects/{id}: a leaf, or with `cascade` a disabled subtree (Keystone's
     * manager option, which its API does not expose). A project acting as a domain is deleted
     * as a domain.
     */
    async deleteProject(id: string, cascade: boolean): Promise<void> {
      const project = await getAny(id);
      if (project.is_domain) return deleteDomainRecord(project);
      if (isImmutable(project)) {
        throw new ForbiddenNotSecurity(`Unable to delete immutable project resource: \`${id}. Set resource option "immutable" to false first.`);
      }
      const subtree = await subtreeOf(id);
      if (subtree.length > 0 && !cascade) {
        throw new ForbiddenNotSecurity(
          `Cannot delete the project ${id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
        );
      }
      if (subtree.some((p) => p.enabled !== false)) {
        throw new ForbiddenNotSecurity(`Cannot delete project ${id} since its subtree contains enabled projects.`);
      }
      for (const p of subtree) {
        if (isImmutable(p)) throw new ForbiddenNotSecurity(`Unable to delete immutable project resource: \`${p.id}. Set resource option "immutable" to false first.`);
      }
      const doomed = [...subtree.reverse(), project];
      await store.deleteProjects(doomed.map((p) => p.id), deps.now());
      for (const p of doomed) await deps.revoke.revoke({ project_id: p.id });
      await deps.ownersDisabled?.({ projectIds: doomed.map((p) => p.id), domainIds: [] });
    },

    async getTag(projectId: string, tag: string): Promise<void> {
      const project = await getAny(projectId);
      if (!project.tags.includes(tag)) throw new NotFound(`Could not find project tag: ${tag}.`);
    },

    async listTags(projectId: string): Promise<readonly string[]> {
      return (await getAny(projectId)).tags;
    },

    async replaceTags(projectId: string, tags: readonly string[]): Promise<string[]> {
      const project = await getAny(projectId);
      if (isImmutable(project)) {
        throw new ForbiddenNotSecurity(
          `Cannot update project tags for ${projectId}, project is immutable. Set "immutable" option to false before creating project tags.`,
        );
      }
      const list = tags.map((t) => t.trim());
      await store.updateRecord(projectId, { tags: list });
      return list;
    },

    async addTag(projectId: string, tag: string): Promise<void> {
      const project = await getAny(projectId);
      if (isImmutable(project)) {
        throw new ForbiddenNotSecurity(
          `Cannot create project tags for ${projectId}, project is immutable. Set "immutable" option to false before creating project tags.`,
        );
      }
      await store.updateRecord(projectId, { tags: [...project.tags, tag.trim()] });
    },

    async deleteTag(projectId: string, tag: string): Promise<void> {
      const project = await getAny(projectId);
      if (isImmutable(project)) {
        throw new ForbiddenNotSecurity(
          `Cannot delete project tags for ${projectId}, project is immutable. Set "immutable" option to false before creating project tags.`,
        );
      }
      if (!project.tags.includes(tag)) throw new NotFound(`Could not find project tag: ${tag}.`);
      await store.updateRecord(projectId, { tags: project.tags.filter((t) => t !== tag) });
    },
  };
}

import { ValidationError } from '../../common/errors.js';
import type { ResourceService } from '../../resource/service.js';
import type { ProjectRecord } from '../../resource/store.js';
import type { RequestContext, Route } from '../http.js';
import type { SchemaRegistry } from '../validation.js';
import { readPage } from '../../common/list-hints.js';
import { collection, filterAttr, listFilters, projectDict, queryFlag, queryValue, withSelfLink } from './resource-views.js';

export interface ProjectRoutesDeps {
  readonly resource: ResourceService;
  /** `[DEFAULT] max_db_limit`: the largest page a `limit` may ask for. */
  readonly maxDbLimit: number;
  readonly schemas: SchemaRegistry;
  /** Projects the user has a role on (`*_as_list` show only those, as Keystone does). */
  readonly projectIdsForUser: (userId: string) => Promise<ReadonlySet<string>>;
  /** [identity] default_domain_id: the deprecated fallback when neither body nor token names a domain. */
  readonly defaultDomainId: string;
}

/** GET /v3/projects filters (keystone/api/projects.py); tag filters are handled apart. */
const PROJECT_FILTERS = ['domain_id', 'enabled', 'name', 'parent_id', 'is_domain'] as const;
const TAG_FILTERS = ['tags', 'tags-any', 'not-tags', 'not-tags-any'] as const;

function bodyMember(ctx: RequestContext, key: string): Record<string, unknown> {
  const member = (ctx.body as Record<string, unknown> | undefined)?.[key];
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? { ...(member as Record<string, unknown>) } : {};
}

function normalizeKeys(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

/** `{parent: {grandparent: ... {domain: null}}}` (Keystone's get_project_parents_as_ids). */
function parentsAsIds(parents: readonly ProjectRecord[]): Record<string, unknown> | null {
  let nested: Record<string, unknown> | null = null;
  for (const parent of [...parents].reverse()) nested = { [parent.id]: nested };
  return nested;
}

/** `{child: {grandchild: null}, ...}`, or null for a leaf (get_projects_in_subtree_as_ids). */
function subtreeAsIds(rootId: string, subtree: readonly ProjectRecord[]): Record<string, unknown> | null {
  const byParent = new Map<string, ProjectRecord[]>();
  for (const p of subtree) {
    if (!p.parent_id) continue;
    byParent.set(p.parent_id, [...(byParent.get(p.parent_id) ?? []), p]);
  }
  const walk = (id: string): Record<string, unknown> | null => {
    const children = byParent.get(id);
    if (!children) return null;
    return Object.fromEntries(children.map((c) => [c.id, walk(c.id)]));
  };
  return walk(rootId);
}

export function projectRoutes(deps: ProjectRoutesDeps): Route[] {
  const loaded = new WeakMap<RequestContext, ProjectRecord>();
  /** The stored project for show, update, delete and tags; absent targets lead to the handler's 404. */
  const currentTarget = async (ctx: RequestContext) => {
    const project = await deps.resource.getAny(ctx.params['project_id']!).catch(() => undefined);
    if (project) loaded.set(ctx, project);
    return { target: project ? { project: projectDict(project) } : {} };
  };
  const current = async (ctx: RequestContext) => loaded.get(ctx) ?? deps.resource.getAny(ctx.params['project_id']!);
  const asMember = (ctx: RequestContext, dict: Record<string, unknown>) => withSelfLink(ctx, 'projects', dict);
  const tagsReply = (ctx: RequestContext, tags: readonly string[], status = 200) => ({
    status,
    // Keystone's tag wrap_member: links first, and its self link is the bare /v3 (a known quirk).
    body: { links: { self: `${ctx.baseUrl}/v3${ctx.queryString ? `?${ctx.queryString}` : ''}` }, tags: [...tags] },
  });

  async function show(ctx: RequestContext) {
    const project = await current(ctx);
    const parentsList = queryFlag(ctx, 'parents_as_list');
    const parentsIds = queryFlag(ctx, 'parents_as_ids');
    const subtreeList = queryFlag(ctx, 'subtree_as_list');
    const subtreeIds = queryFlag(ctx, 'subtree_as_ids');
    if (parentsList && parentsIds) throw new ValidationError('Cannot use parents_as_list and parents_as_ids query params at the same time.');
    if (subtreeList && subtreeIds) throw new ValidationError('Cannot use subtree_as_list and subtree_as_ids query params at the same time.');
    const dict = projectDict(project);
    const visible = parentsList || subtreeList ? await deps.projectIdsForUser(ctx.caller!.token.user.id) : new Set<string>();
    const wrap = (refs: readonly ProjectRecord[]) => refs.filter((p) => visible.has(p.id)).map((p) => ({ project: asMember(ctx, projectDict(p)) }));
    if (parentsList) dict['parents'] = wrap(await deps.resource.parentsOf(project));
    else if (parentsIds) dict['parents'] = parentsAsIds(await deps.resource.parentsOf(project));
    if (subtreeList) dict['subtree'] = wrap(await deps.resource.subtreeOf(project.id));
    else if (subtreeIds) dict['subtree'] = subtreeAsIds(project.id, await deps.resource.subtreeOf(project.id));
    return { status: 200, body: { project: asMember(ctx, dict) } };
  }

  const routes: Route[] = [];
  for (const method of ['GET', 'HEAD'] as const) {
    routes.push(
      {
        method,
        path: '/v3/projects',
        action: 'identity:list_projects',
        authenticated: true,
        statuses: [200, 401, 403],
        target: async (ctx) => {
          const scopeDomain = ctx.caller!.credentials.domain_id;
          return { filter_attr: filterAttr(ctx, PROJECT_FILTERS), ...(scopeDomain ? { target: { domain_id: scopeDomain } } : {}) };
        },
        async handle(ctx) {
          const tagFilters = Object.fromEntries(TAG_FILTERS.flatMap((t) => (queryValue(ctx, t) === undefined ? [] : [[t, queryValue(ctx, t)!]])));
          // A domain-scoped caller sees its domain's projects only (keystone/api/projects.py).
          const page = readPage(ctx.query, deps.maxDbLimit);
          const { refs, truncated } = await deps.resource.list('projects', listFilters(ctx, PROJECT_FILTERS), tagFilters, ctx.caller!.credentials.domain_id, page);
          return { status: 200, body: collection(ctx, 'projects', refs.map((r) => asMember(ctx, projectDict(r))), truncated, page) };
        },
      },
      {
        method,
        path: '/v3/projects/{project_id}',
        action: 'identity:get_project',
        authenticated: true,
        statuses: [200, 400, 401, 403, 404],
        target: currentTarget,
        handle: show,
      },
      {
        method,
        path: '/v3/projects/{project_id}/tags',
        action: 'identity:list_project_tags',
        authenticated: true,
        statuses: [200, 401, 403, 404],
        target: currentTarget,
        handle: async (ctx) => tagsReply(ctx, (await current(ctx)).tags),
      },
      {
        method,
        path: '/v3/projects/{project_id}/tags/{value}',
        action: 'identity:get_project_tag',
        authenticated: true,
        statuses: [204, 401, 403, 404],
        target: currentTarget,
        async handle(ctx) {
          await deps.resource.getTag(ctx.params['project_id']!, ctx.params['value']!);
          return { status: 204 };
        },
      },
    );
  }
  routes.push(
    {
      method: 'POST',
      path: '/v3/projects',
      action: 'identity:create_project',
      authenticated: true,
      requestSchema: 'project-create',
      bodyMember: 'project',
      bodyMemberDefault: {},
      statuses: [201, 400, 401, 403, 409],
      // The rule sees the project as the client sent it, before any defaults (Keystone's order).
      target: async (ctx) => ({ target: { project: bodyMember(ctx, 'project') } }),
      async handle(ctx) {
        const project = bodyMember(ctx, 'project');
        if (project['is_domain'] !== true && !project['domain_id']) {
          // The token's domain, else the deprecated fallback to the default domain.
          project['domain_id'] = ctx.caller!.credentials.domain_id ?? deps.defaultDomainId;
        }
        if (!project['parent_id']) project['parent_id'] = project['domain_id'] ?? null;
        const created = await deps.resource.createProject(normalizeKeys(project));
        return { status: 201, body: { project: asMember(ctx, projectDict(created)) } };
      },
    },
    {
      method: 'PATCH',
      path: '/v3/projects/{project_id}',
      action: 'identity:update_project',
      authenticated: true,
      requestSchema: 'project-update',
      bodyMember: 'project',
      bodyMemberDefault: {},
      statuses: [200, 400, 401, 403, 404, 409],
      target: async (ctx) => ({ ...(await currentTarget(ctx)), request_body: ctx.body }),
      async handle(ctx) {
        const body = bodyMember(ctx, 'project');
        if (body['id'] !== undefined && body['id'] !== null && body['id'] !== ctx.params['project_id']) throw new ValidationError('Cannot change ID');
        const updated = await deps.resource.updateProject(ctx.params['project_id']!, body);
        return { status: 200, body: { project: asMember(ctx, projectDict(updated, { withExtraDict: true })) } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/projects/{project_id}',
      action: 'identity:delete_project',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        // `?cascade` deletes a disabled subtree: Keystone's manager option, which its API leaves out.
        await deps.resource.deleteProject(ctx.params['project_id']!, queryFlag(ctx, 'cascade'));
        return { status: 204 };
      },
    },
    {
      method: 'PUT',
      path: '/v3/projects/{project_id}/tags',
      action: 'identity:update_project_tags',
      authenticated: true,
      requestSchema: 'project-tags',
      bodyMember: 'tags',
      bodyMemberDefault: {},
      statuses: [200, 400, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        const tags = (ctx.body as { tags: string[] }).tags;
        await current(ctx);
        return tagsReply(ctx, await deps.resource.replaceTags(ctx.params['project_id']!, tags));
      },
    },
    {
      method: 'DELETE',
      path: '/v3/projects/{project_id}/tags',
      action: 'identity:delete_project_tags',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await deps.resource.replaceTags(ctx.params['project_id']!, []);
        return { status: 204 };
      },
    },
    {
      method: 'PUT',
      path: '/v3/projects/{project_id}/tags/{value}',
      action: 'identity:create_project_tag',
      authenticated: true,
      statuses: [201, 400, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        const projectId = ctx.params['project_id']!;
        const value = ctx.params['value']!;
        deps.schemas.validate('project-tag', value);
        // The tag must also fit the list it joins (at most 80, unique).
        deps.schemas.validate('project-tags', [...(await current(ctx)).tags, value]);
        await deps.resource.addTag(projectId, value);
        return { status: 201, headers: { Location: `${ctx.baseUrl}/v3/${projectId}/tags/${value}` } };
      },
    },
    {
      method: 'DELETE',
      path: '/v3/projects/{project_id}/tags/{value}',
      action: 'identity:delete_project_tag',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: currentTarget,
      async handle(ctx) {
        await deps.resource.deleteTag(ctx.params['project_id']!, ctx.params['value']!);
        return { status: 204 };
      },
    },
  );
  return routes;
}

/**
 * OS-EP-FILTER (keystone/api/os_ep_filter.py): endpoint groups, project ↔ endpoint and
 * project ↔ endpoint-group associations, and the listings over them. What these associations
 * do to token catalogs is in src/catalog/catalog.ts.
 */
import type { CatalogAdmin } from '../../catalog/admin.js';
import type { EndpointGroupRow } from '../../catalog/store.js';
import type { PolicyInput } from '../../policy/pdp.js';
import type { ResourceStore } from '../../resource/store.js';
import type { RequestContext, Route } from '../http.js';
import { bodyMember, collection, endpointGroupRef, endpointRef, projectRef, readUpdateDeleteRoutes } from './catalog.js';

export interface EndpointFilterRoutesDeps {
  readonly admin: CatalogAdmin;
  readonly resource: ResourceStore;
}

type Target = Omit<PolicyInput, 'credentials'>;

const PREFIX = '/v3/OS-EP-FILTER';

export function endpointFilterRoutes(deps: EndpointFilterRoutesDeps): Route[] {
  const { admin, resource } = deps;
  const pending = new WeakMap<RequestContext, EndpointGroupRow>();

  /** The entities named in the path, as stored, for rules that read them; absent ones are left out (the handler answers 404 after policy). */
  async function pathTarget(ctx: RequestContext): Promise<Target> {
    const target: Record<string, unknown> = {};
    const { project_id: projectId, endpoint_id: endpointId, endpoint_group_id: groupId } = ctx.params;
    if (projectId) {
      const project = await resource.getProject(projectId);
      if (project) target['project'] = { ...project.extra, id: project.id, name: project.name, domain_id: project.domain_id, enabled: project.enabled, parent_id: project.parent_id, is_domain: project.is_domain };
    }
    if (endpointId) {
      const endpoint = await admin.findEndpoint(endpointId);
      if (endpoint) target['endpoint'] = { ...endpoint.extra, id: endpoint.id, interface: endpoint.interface, region_id: endpoint.region_id, service_id: endpoint.service_id, url: endpoint.url, enabled: endpoint.enabled };
    }
    if (groupId) {
      const group = await admin.findEndpointGroup(groupId);
      if (group) target['endpoint_group'] = { id: group.id, name: group.name, description: group.description, filters: group.filters };
    }
    return { target };
  }

  async function projects(ctx: RequestContext, ids: readonly string[]) {
    const refs = [];
    for (const id of ids) {
      const project = await resource.getProject(id);
      if (project) refs.push(projectRef(ctx, project));
    }
    return refs;
  }

  const read = (path: string, action: string, handle: Route['handle'], statuses: readonly number[] = [200, 401, 403, 404]): Route => ({
    method: 'GET',
    path,
    action,
    authenticated: true,
    statuses,
    target: pathTarget,
    handle,
  });
  const write = (method: 'PUT' | 'DELETE', path: string, action: string, run: (ctx: RequestContext) => Promise<void>, statuses: readonly number[]): Route => ({
    method,
    path,
    action,
    authenticated: true,
    statuses,
    target: pathTarget,
    async handle(ctx) {
      await run(ctx);
      return { status: 204 };
    },
  });
  const p = (ctx: RequestContext, name: string) => ctx.params[name]!;

  return [
    // ---- endpoint groups ---------------------------------------------------------------------
    {
      method: 'POST',
      path: `${PREFIX}/endpoint_groups`,
      action: 'identity:create_endpoint_group',
      authenticated: true,
      requestSchema: 'endpoint-group-create',
      bodyMember: 'endpoint_group',
      statuses: [201, 400, 401, 403],
      async target(ctx) {
        const record = admin.newEndpointGroup(bodyMember(ctx, 'endpoint_group'));
        pending.set(ctx, record);
        return { target: { endpoint_group: { id: record.id, name: record.name, description: record.description, filters: record.filters } } };
      },
      async handle(ctx) {
        const record = await admin.createEndpointGroup(pending.get(ctx)!);
        return { status: 201, body: { endpoint_group: endpointGroupRef(ctx, record) } };
      },
    },
    ...readUpdateDeleteRoutes<EndpointGroupRow>(
      `${PREFIX}/endpoint_groups`,
      {
        collection: 'endpoint_groups',
        member: 'endpoint_group',
        idParam: 'endpoint_group_id',
        filters: ['name'],
        render: endpointGroupRef,
        list: admin.listEndpointGroups,
        find: admin.findEndpointGroup,
        get: admin.getEndpointGroup,
        update: admin.updateEndpointGroup,
        remove: admin.deleteEndpointGroup,
        // Keystone's list_endpoint_groups takes no [catalog] list_limit.
        limited: false,
      },
      null,
      {
        list: 'identity:list_endpoint_groups',
        get: 'identity:get_endpoint_group',
        update: 'identity:update_endpoint_group',
        remove: 'identity:delete_endpoint_group',
      },
      'endpoint-group-update',
    ),
    read(`${PREFIX}/endpoint_groups/{endpoint_group_id}/endpoints`, 'identity:list_endpoints_associated_with_endpoint_group', async (ctx) => {
      const endpoints = await admin.endpointsInGroup(p(ctx, 'endpoint_group_id'));
      return { status: 200, body: collection(ctx, 'endpoints', endpoints.map((e) => endpointRef(ctx, e))) };
    }),
    read(`${PREFIX}/endpoint_groups/{endpoint_group_id}/projects`, 'identity:list_projects_associated_with_endpoint_group', async (ctx) => {
      const ids = await admin.projectIdsForEndpointGroup(p(ctx, 'endpoint_group_id'));
      return { status: 200, body: collection(ctx, 'projects', await projects(ctx, ids)) };
    }),

    // ---- project ↔ endpoint group ------------------------------------------------------------
    read(`${PREFIX}/endpoint_groups/{endpoint_group_id}/projects/{project_id}`, 'identity:get_endpoint_group_in_project', async (ctx) => {
      const ref = await admin.getEndpointGroupInProject(p(ctx, 'endpoint_group_id'), p(ctx, 'project_id'));
      // Keystone's quirk: this one self link is a path, without the base URL.
      const links = { self: `/OS-EP-FILTER/endpoint_groups/${ref.endpoint_group_id}/projects/${ref.project_id}` };
      return { status: 200, body: { project_endpoint_group: { ...ref, links } } };
    }),
    write(
      'PUT',
      `${PREFIX}/endpoint_groups/{endpoint_group_id}/projects/{project_id}`,
      'identity:add_endpoint_group_to_project',
      (ctx) => admin.addEndpointGroupToProject(p(ctx, 'endpoint_group_id'), p(ctx, 'project_id')),
      [204, 401, 403, 404, 409],
    ),
    write(
      'DELETE',
      `${PREFIX}/endpoint_groups/{endpoint_group_id}/projects/{project_id}`,
      'identity:remove_endpoint_group_from_project',
      (ctx) => admin.removeEndpointGroupFromProject(p(ctx, 'endpoint_group_id'), p(ctx, 'project_id')),
      [204, 401, 403, 404],
    ),
    read(`${PREFIX}/projects/{project_id}/endpoint_groups`, 'identity:list_endpoint_groups_for_project', async (ctx) => {
      const groups = await admin.endpointGroupsForProject(p(ctx, 'project_id'));
      return { status: 200, body: collection(ctx, 'endpoint_groups', groups.map((g) => endpointGroupRef(ctx, g))) };
    }),

    // ---- project ↔ endpoint --------------------------------------------------------------------
    read(
      `${PREFIX}/projects/{project_id}/endpoints/{endpoint_id}`,
      'identity:check_endpoint_in_project',
      async (ctx) => {
        await admin.checkEndpointInProject(p(ctx, 'project_id'), p(ctx, 'endpoint_id'));
        return { status: 204 };
      },
      [204, 401, 403, 404],
    ),
    write(
      'PUT',
      `${PREFIX}/projects/{project_id}/endpoints/{endpoint_id}`,
      'identity:add_endpoint_to_project',
      (ctx) => admin.addEndpointToProject(p(ctx, 'project_id'), p(ctx, 'endpoint_id')),
      [204, 401, 403, 404, 409],
    ),
    write(
      'DELETE',
      `${PREFIX}/projects/{project_id}/endpoints/{endpoint_id}`,
      'identity:remove_endpoint_from_project',
      (ctx) => admin.removeEndpointFromProject(p(ctx, 'project_id'), p(ctx, 'endpoint_id')),
      [204, 401, 403, 404],
    ),
    read(`${PREFIX}/projects/{project_id}/endpoints`, 'identity:list_endpoints_for_project', async (ctx) => {
      const endpoints = await admin.endpointsForProject(p(ctx, 'project_id'));
      return { status: 200, body: collection(ctx, 'endpoints', endpoints.map((e) => endpointRef(ctx, e))) };
    }),
    read(`${PREFIX}/endpoints/{endpoint_id}/projects`, 'identity:list_projects_for_endpoint', async (ctx) => {
      const ids = await admin.projectIdsForEndpoint(p(ctx, 'endpoint_id'));
      return { status: 200, body: collection(ctx, 'projects', await projects(ctx, ids)) };
    }),
  ];
}


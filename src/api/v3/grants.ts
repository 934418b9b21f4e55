import type { AssignmentAdmin, GrantActor, GrantTarget, NamedRef } from '../../assignment/admin.js';
import type { RoleRef } from '../../assignment/store.js';
import { NotFound } from '../../common/errors.js';
import type { HttpMethod, RequestContext, Route } from '../http.js';
import { collection, domainDict, projectDict } from './resource-views.js';
import { roleDict, roleMember } from './roles.js';
import type { ProjectRecord } from '../../resource/store.js';

export interface GrantRoutesDeps {
  readonly assignments: AssignmentAdmin;
  readonly getProject: (id: string) => Promise<ProjectRecord | undefined>;
  readonly getDomain: (id: string) => Promise<ProjectRecord | undefined>;
  readonly getUser: (id: string) => Promise<NamedRef | undefined>;
  readonly getGroup: (id: string) => Promise<NamedRef | undefined>;
}

type TargetKind = 'projects' | 'domains';
type ActorKind = 'users' | 'groups';

/**
 * How each family of grant routes builds its policy target (spec 4.1, "Grant routes load user,
 * group, project, domain and role from the path"), copied from the upstream builders because
 * they differ in which missing entity is a 404 before policy:
 * - projects.py raises for role, user or group, then project (revoke tolerates a missing actor);
 * - domains.py raises for domain, role, then user or group (revoke tolerates a missing actor);
 * - os_inherit.py never raises: a missing entity is an empty object, and policy decides first;
 * - system.py raises for role, then user or group (revoke tolerates a missing actor).
 */
type Family = 'project' | 'domain' | 'inherit' | 'system';

function notFound(kind: string, id: string): NotFound {
  return NotFound.entity(kind, id);
}

export function grantRoutes(deps: GrantRoutesDeps): Route[] {
  const { assignments } = deps;

  async function loadRole(id: string, family: Family): Promise<Record<string, unknown>> {
    const role = await assignments.getRole(id).catch(() => undefined);
    if (role) return roleDict(role);
    if (family === 'inherit') return {};
    throw notFound('role', id);
  }

  async function loadActor(kind: ActorKind, id: string, family: Family, allowMissing: boolean): Promise<Record<string, unknown> | undefined> {
    const ref = kind === 'users' ? await deps.getUser(id) : await deps.getGroup(id);
    if (ref) return { ...ref };
    if (allowMissing) return undefined;
    if (family === 'inherit') return {};
    throw notFound(kind === 'users' ? 'user' : 'group', id);
  }

  async function loadScope(kind: TargetKind, id: string, family: Family): Promise<Record<string, unknown>> {
    const ref = kind === 'domains' ? await deps.getDomain(id) : await deps.getProject(id);
    const usable = ref && (kind === 'projects' || (ref.is_domain && ref.id === id));
    if (usable) return kind === 'domains' ? domainDict(ref) : projectDict(ref);
    if (family === 'inherit') return {};
    throw notFound(kind === 'domains' ? 'domain' : 'project', id);
  }

  /** _build_enforcement_target_attr of the route's family, in its order of lookups. */
  function targetFor(family: Family, kind: TargetKind | null, actor: ActorKind, allowMissingActor: boolean) {
    return async (ctx: RequestContext) => {
      const p = ctx.params;
      const actorId = actor === 'users' ? p['user_id']! : p['group_id']!;
      const actorKey = actor === 'users' ? 'user' : 'group';
      const scopeKey = kind === 'domains' ? 'domain' : 'project';
      const scopeId = kind === 'domains' ? p['domain_id']! : p['project_id']!;
      const target: Record<string, unknown> = {};
      if (family === 'domain') target[scopeKey] = await loadScope(kind!, scopeId, family);
      if (p['role_id']) target['role'] = await loadRole(p['role_id'], family);
      const actorRef = await loadActor(actor, actorId, family, allowMissingActor);
      if (actorRef !== undefined) target[actorKey] = actorRef;
      if (family === 'project' || family === 'inherit') target[scopeKey] = await loadScope(kind!, scopeId, family);
      return { target };
    };
  }

  const actorOf = (ctx: RequestContext, actor: ActorKind): GrantActor =>
    actor === 'users' ? { userId: ctx.params['user_id']! } : { groupId: ctx.params['group_id']! };
  const scopeOf = (ctx: RequestContext, kind: TargetKind): GrantTarget =>
    kind === 'domains' ? { domainId: ctx.params['domain_id']! } : { projectId: ctx.params['project_id']! };
  const rolesReply = (ctx: RequestContext, refs: readonly RoleRef[]) => ({
    status: 200,
    body: collection(ctx, 'roles', refs.map((r) => roleMember(ctx, r)), false),
  });

  const routes: Route[] = [];
  const add = (method: HttpMethod, path: string, action: string, statuses: number[], target: Route['target'], handle: Route['handle']) =>
    routes.push({ method, path, action, authenticated: true, statuses, target, handle });

  /** /v3/{projects|domains}/{id}/{users|groups}/{id}/roles[/{role_id}] and their OS-INHERIT forms. */
  function scopedGrants(kind: TargetKind, actor: ActorKind, inherited: boolean): void {
    const scopeVar = kind === 'domains' ? 'domain_id' : 'project_id';
    const actorVar = actor === 'users' ? 'user_id' : 'group_id';
    const prefix = inherited ? '/v3/OS-INHERIT' : '/v3';
    const suffix = inherited ? '/inherited_to_projects' : '';
    const base = `${prefix}/${kind}/{${scopeVar}}/${actor}/{${actorVar}}/roles`;
    const family: Family = inherited ? 'inherit' : kind === 'domains' ? 'domain' : 'project';
    for (const method of ['GET', 'HEAD'] as const) {
      add(method, `${base}/{role_id}${suffix}`, 'identity:check_grant', [204, 401, 403, 404], targetFor(family, kind, actor, false), async (ctx) => {
        await assignments.checkGrant(ctx.params['role_id']!, actorOf(ctx, actor), scopeOf(ctx, kind), inherited);
        return { status: 204 };
      });
      // Upstream has no list of inherited grants on a project.
      if (!(inherited && kind === 'projects')) {
        add(method, `${base}${suffix}`, 'identity:list_grants', [200, 401, 403, 404], targetFor(family, kind, actor, false), async (ctx) =>
          rolesReply(ctx, await assignments.listGrants(actorOf(ctx, actor), scopeOf(ctx, kind), inherited)),
        );
      }
    }
    add('PUT', `${base}/{role_id}${suffix}`, 'identity:create_grant', [204, 401, 403, 404], targetFor(family, kind, actor, false), async (ctx) => {
      await assignments.createGrant(ctx.params['role_id']!, actorOf(ctx, actor), scopeOf(ctx, kind), inherited);
      return { status: 204 };
    });
    // Revoking tolerates a vanished user or group, so their grants can still be cleaned up.
    add('DELETE', `${base}/{role_id}${suffix}`, 'identity:revoke_grant', [204, 401, 403, 404], targetFor(family, kind, actor, true), async (ctx) => {
      await assignments.deleteGrant(ctx.params['role_id']!, actorOf(ctx, actor), scopeOf(ctx, kind), inherited);
      return { status: 204 };
    });
  }

  /** /v3/system/{users|groups}/{id}/roles[/{role_id}] (keystone/api/system.py). */
  function systemGrants(actor: ActorKind): void {
    const actorVar = actor === 'users' ? 'user_id' : 'group_id';
    const noun = actor === 'users' ? 'user' : 'group';
    const base = `/v3/system/${actor}/{${actorVar}}/roles`;
    for (const method of ['GET', 'HEAD'] as const) {
      add(method, base, `identity:list_system_grants_for_${noun}`, [200, 401, 403, 404], targetFor('system', null, actor, false), async (ctx) =>
        rolesReply(ctx, await assignments.listSystemGrants(actorOf(ctx, actor))),
      );
      add(method, `${base}/{role_id}`, `identity:check_system_grant_for_${noun}`, [204, 401, 403, 404], targetFor('system', null, actor, false), async (ctx) => {
        await assignments.checkSystemGrant(actorOf(ctx, actor), ctx.params['role_id']!);
        return { status: 204 };
      });
    }
    add('PUT', `${base}/{role_id}`, `identity:create_system_grant_for_${noun}`, [204, 400, 401, 403, 404], targetFor('system', null, actor, false), async (ctx) => {
      await assignments.createSystemGrant(actorOf(ctx, actor), ctx.params['role_id']!);
      return { status: 204 };
    });
    add('DELETE', `${base}/{role_id}`, `identity:revoke_system_grant_for_${noun}`, [204, 401, 403, 404], targetFor('system', null, actor, true), async (ctx) => {
      await assignments.deleteSystemGrant(actorOf(ctx, actor), ctx.params['role_id']!);
      return { status: 204 };
    });
  }

  for (const kind of ['projects', 'domains'] as const) {
    for (const actor of ['users', 'groups'] as const) {
      scopedGrants(kind, actor, false);
      scopedGrants(kind, actor, true);
    }
  }
  systemGrants('users');
  systemGrants('groups');
  return routes;
}

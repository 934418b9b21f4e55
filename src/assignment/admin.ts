import { Conflict, ForbiddenNotSecurity, KeystoneError, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import type { ProjectRecord } from '../resource/store.js';
import { DuplicateRole, type AssignmentRef, type AssignmentStore, type AssignmentType, type RoleRef } from './store.js';

/**
 * Keystone's role and assignment managers (keystone/assignment/core.py Manager and RoleManager)
 * behind the /v3/roles, grant, role_inferences and role_assignments APIs: the rules, the 404s in
 * Keystone's order, and list_role_assignments with its effective-mode expansion. Routers call
 * this; it never sees HTTP.
 */

/** Projects and domains as the resource layer stores them. */
export type ProjectLike = ProjectRecord;

export interface NamedRef {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
}

export interface AssignmentAdminDeps {
  readonly store: AssignmentStore;
  /** Any project row, domains included, as Keystone's get_project. */
  readonly getProject: (id: string) => Promise<ProjectLike | undefined>;
  readonly getDomain: (id: string) => Promise<ProjectLike | undefined>;
  /** Ancestors nearest first (list_project_parents). */
  readonly parentsOf: (project: ProjectLike) => Promise<readonly ProjectLike[]>;
  /** Ids of every project below, the project itself excluded (list_projects_in_subtree). */
  readonly subtreeIdsOf: (projectId: string) => Promise<readonly string[]>;
  /** Ids of the projects (not domains) of a domain, at any depth (list_projects_in_domain). */
  readonly projectIdsInDomain: (domainId: string) => Promise<readonly string[]>;
  readonly getUser: (id: string) => Promise<NamedRef | undefined>;
  readonly getGroup: (id: string) => Promise<NamedRef | undefined>;
  /** The user's groups, non-expired federated memberships included. */
  readonly groupIdsOfUser: (userId: string) => Promise<readonly string[]>;
  readonly userIdsInGroup: (groupId: string) => Promise<readonly string[]>;
  readonly options: {
    /** [assignment] prohibited_implied_role. */
    readonly prohibitedImpliedRoles: readonly string[];
  };
}

/** Keystone's InvalidImpliedRole and DomainSpecificRoleMismatch are Forbidden (security) errors: only their template shows. */
class SecurityForbidden extends KeystoneError {
  constructor(message: string) {
    super(403, 'Forbidden', message);
  }
}

export interface GrantTarget {
  readonly projectId?: string;
  readonly domainId?: string;
}

export interface GrantActor {
  readonly userId?: string;
  readonly groupId?: string;
}

/** What GET /v3/role_assignments asks list_role_assignments for. */
export interface RoleAssignmentQuery {
  readonly roleId?: string;
  readonly userId?: string;
  readonly groupId?: string;
  readonly system?: string;
  readonly domainId?: string;
  readonly projectId?: string;
  readonly includeSubtree?: boolean;
  /** true: inherited only; false: direct only; undefined: both. */
  readonly inherited?: boolean;
  readonly effective?: boolean;
  readonly includeNames?: boolean;
}

/** One entry of list_role_assignments in Keystone's internal shape, names added when asked. */
export interface AssignmentEntry {
  user_id?: string;
  group_id?: string;
  project_id?: string;
  domain_id?: string;
  system?: { all: true };
  role_id: string;
  inherited_to_projects?: 'projects';
  indirect?: { group_id?: string; project_id?: string; domain_id?: string; role_id?: string };
  names?: EntryNames;
}

export interface EntryNames {
  user?: { name: string; domain_id: string; domain_name: string };
  group?: { name: string; domain_id: string; domain_name: string };
  project?: { name: string; domain_id: string; domain_name: string };
  domain?: { name: string };
  role?: { name: string; domain?: { id: string; name: string } };
}

function roleMessage(id: string): NotFound {
  return NotFound.entity('role', id);
}

export type AssignmentAdmin = ReturnType<typeof createAssignmentAdmin>;

export function createAssignmentAdmin(deps: AssignmentAdminDeps) {
  const { store } = deps;

  async function getRole(id: string): Promise<RoleRef> {
    const role = await store.getRole(id);
    if (!role) throw roleMessage(id);
    return role;
  }

  async function getProject(id: string): Promise<ProjectLike> {
    const project = await deps.getProject(id);
    if (!project) throw NotFound.entity('project', id);
    return project;
  }

  async function getDomain(id: string): Promise<ProjectLike> {
    const domain = await deps.getDomain(id);
    if (!domain) throw NotFound.entity('domain', id);
    return domain;
  }

  async function assertTarget(target: GrantTarget): Promise<ProjectLike> {
    return target.domainId ? getDomain(target.domainId) : getProject(target.projectId!);
  }

  function assignmentNotFound(roleId: string, actorId: string, targetId: string): NotFound {
    return new NotFound(`Could not find role assignment with role: ${roleId}, user or group: ${actorId}, project, domain, or system: ${targetId}.`);
  }

  async function checkGrant(roleId: string, actor: GrantActor, target: GrantTarget, inherited: boolean): Promise<void> {
    const actorId = (actor.userId ?? actor.groupId)!;
    if (!(await store.grantExists(actorId, target, roleId, inherited))) {
      throw assignmentNotFound(roleId, actorId, (target.domainId ?? target.projectId)!);
    }
  }

  /** Keystone's conflict text: handle_conflicts reads name and domain_id from the role dict passed. */
  function duplicateRole(body: Record<string, unknown>): Conflict {
    const name = body['name'];
    const domainId = body['domain_id'];
    const field = name ? `name ${String(name)}` : body['id'] ? `ID ${String(body['id'])}` : null;
    if (field && domainId) return new Conflict('role', `Duplicate entry found with ${field} at domain ID ${String(domainId)}`);
    if (field) return new Conflict('role', `Duplicate entry found with ${field}`);
    if (domainId) return new Conflict('role', `Duplicate entry at domain ID ${String(domainId)}`);
    return new Conflict('role', 'Duplicate entry');
  }

  /** Members outside Keystone's role attributes are stored in `extra` (ModelDictMixinWithExtras). */
  function splitRoleBody(body: Record<string, unknown>) {
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
      if (!['id', 'name', 'domain_id', 'description', 'options', 'extra'].includes(key)) extra[key] = value;
    }
    return extra;
  }

  // ---- list_role_assignments --------------------------------------------------------------

  /** list_role_assignments_for_actor (core.py): the stored rows that could affect the answer. */
  async function rowsForActor(q: {
    userId?: string;
    groupIds?: readonly string[];
    /** The rows of every group the user has ever joined (a superset: see listEffective). */
    groupsOfUser?: string;
    projectId?: string;
    subtreeIds?: readonly string[];
    domainId?: string;
    inherited: boolean | undefined;
  }): Promise<AssignmentRef[]> {
    const projectIdsOfInterest = q.projectId ? [...(q.subtreeIds ?? []), q.projectId] : undefined;
    const refs: AssignmentRef[] = [];
    if (q.inherited === undefined && !q.projectId && !q.domainId) {
      // Direct and inherited rows of the actor alike: one query serves both.
      return store.listAssignments({ userId: q.userId, groupIds: q.groupIds, groupsOfUser: q.groupsOfUser, inherited: undefined });
    }
    if (q.inherited !== true) {
      refs.push(...(await store.listAssignments({ domainId: q.domainId, projectIds: projectIdsOfInterest, userId: q.userId, groupIds: q.groupIds, groupsOfUser: q.groupsOfUser, inherited: false })));
    }
    if (q.inherited !== false) {
      if (q.projectId) {
        // The project and its subtree share one domain: inherited grants come from that domain,
        // from the project's ancestors, or (with a subtree) from inside the subtree itself.
        const project = await getProject(q.projectId);
        if (project.domain_id) refs.push(...(await store.listAssignments({ domainId: project.domain_id, userId: q.userId, groupIds: q.groupIds, groupsOfUser: q.groupsOfUser, inherited: true })));
        const sourceIds = (await deps.parentsOf(project)).map((p) => p.id);
        if (q.subtreeIds && q.subtreeIds.length > 0) sourceIds.push(...projectIdsOfInterest!);
        if (sourceIds.length > 0) refs.push(...(await store.listAssignments({ projectIds: sourceIds, userId: q.userId, groupIds: q.groupIds, groupsOfUser: q.groupsOfUser, inherited: true })));
      } else {
        refs.push(...(await store.listAssignments({ userId: q.userId, groupIds: q.groupIds, groupsOfUser: q.groupsOfUser, inherited: true })));
      }
    }
    return refs;
  }

  /** _expand_indirect_assignment: groups into members, inherited grants onto the projects below. */
  /**
   * The project sets inheritance expands onto, read once per listing: fifty inherited grants on
   * one domain would otherwise read the domain's projects fifty times.
   */
  function projectSets() {
    const subtrees = new Map<string, Promise<readonly string[]>>();
    const domains = new Map<string, Promise<readonly string[]>>();
    const once = (cache: Map<string, Promise<readonly string[]>>, id: string, read: () => Promise<readonly string[]>) => {
      let found = cache.get(id);
      if (!found) cache.set(id, (found = read()));
      return found;
    };
    return {
      subtree: (id: string) => once(subtrees, id, () => deps.subtreeIdsOf(id)),
      inDomain: (id: string) => once(domains, id, () => deps.projectIdsInDomain(id)),
    };
  }

  async function expandIndirect(
    ref: AssignmentRef,
    userId: string | undefined,
    projectId: string | undefined,
    subtreeIds: readonly string[] | undefined,
    sets: ReturnType<typeof projectSets>,
  ): Promise<AssignmentEntry[]> {
    const expandGroup = async (base: AssignmentEntry): Promise<AssignmentEntry[]> => {
      const members = userId ? [userId] : await deps.userIdsInGroup(base.group_id!);
      return members.map((member) => {
        const { group_id: groupId, ...rest } = base;
        return { ...rest, user_id: member, indirect: { ...base.indirect, group_id: groupId! } };
      });
    };
    const entry: AssignmentEntry = { ...ref };
    if (ref.inherited_to_projects === 'projects') {
      let projectIds: readonly string[];
      if (projectId) {
        projectIds = [projectId, ...(subtreeIds ?? [])];
        if (subtreeIds && subtreeIds.length > 0 && ref.project_id && projectIds.includes(ref.project_id)) {
          projectIds = await sets.subtree(ref.project_id);
        }
      } else if (ref.domain_id) {
        projectIds = await sets.inDomain(ref.domain_id);
      } else {
        projectIds = await sets.subtree(ref.project_id!);
      }
      const onProject = (base: AssignmentEntry, target: string): AssignmentEntry => {
        const { project_id: sourceProject, domain_id: sourceDomain, inherited_to_projects: _inherited, ...rest } = base;
        const indirect = { ...base.indirect, ...(sourceProject ? { project_id: sourceProject } : { domain_id: sourceDomain! }) };
        return { ...rest, indirect, project_id: target };
      };
      const bases = entry.group_id ? await expandGroup(entry) : [entry];
      return bases.flatMap((base) => projectIds.map((target) => onProject(base, target)));
    }
    if (entry.group_id) return expandGroup(entry);
    return [entry];
  }

  /**
   * add_implied_roles: one more entry per implied role, recursively, each naming its prior role
   * in `indirect.role_id`. The cycle guard compares with entries already expanded, as Keystone.
   */
  async function addImpliedRoles(entries: AssignmentEntry[]): Promise<AssignmentEntry[]> {
    const edges = await store.listImpliedRoles();
    const implies = new Map<string, string[]>();
    for (const e of edges) implies.set(e.prior_role_id, [...(implies.get(e.prior_role_id) ?? []), e.implied_role_id]);
    const results = [...entries];
    const pending = [...entries];
    const checked = new Set<string>();
    while (pending.length > 0) {
      const next = pending.pop()!;
      checked.add(entryKey(next));
      for (const impliedId of implies.get(next.role_id) ?? []) {
        const copy: AssignmentEntry = { ...next, role_id: impliedId, indirect: { ...next.indirect, role_id: next.role_id } };
        if (checked.has(entryKey(copy))) continue;
        results.push(copy);
        pending.push(copy);
      }
    }
    return results;
  }

  async function listEffective(q: RoleAssignmentQuery, subtreeIds: readonly string[] | undefined): Promise<AssignmentEntry[]> {
    // Group assignments are all expanded into users, and domains never inherit: both are empty.
    if (q.groupId || (q.domainId && q.inherited)) return [];
    const inherited = q.domainId ? false : q.inherited;
    // Independent reads overlap (PostgreSQL serves them on separate connections).
    // The user's group rows are read alongside its group ids rather than after them: the store
    // takes every group the user has a membership row in (expired ones included), and the rows of
    // groups outside groupIdsOfUser's answer are dropped here. One database round trip less.
    const [direct, groupIds, ofEveryGroup] = await Promise.all([
      rowsForActor({ userId: q.userId, projectId: q.projectId, subtreeIds, domainId: q.domainId, inherited }),
      q.userId ? deps.groupIdsOfUser(q.userId) : Promise.resolve([]),
      q.userId ? rowsForActor({ groupsOfUser: q.userId, projectId: q.projectId, subtreeIds, domainId: q.domainId, inherited }) : Promise.resolve([]),
    ]);
    const memberOf = new Set(groupIds);
    const fromGroups = ofEveryGroup.filter((ref) => ref.group_id !== undefined && memberOf.has(ref.group_id));
    const sets = projectSets();
    const expanded = await Promise.all([...direct, ...fromGroups].map((ref) => expandIndirect(ref, q.userId, q.projectId, subtreeIds, sets)));
    let entries: AssignmentEntry[] = expanded.flat();
    entries = await addImpliedRoles(entries);
    // Domain-specific roles only alias global ones: they never reach a token (_strip_domain_roles).
    const roles = new Map((await store.getRoles([...new Set(entries.map((e) => e.role_id))])).map((r) => [r.id, r]));
    entries = entries.filter((e) => roles.get(e.role_id)?.domain_id === null);
    if (q.roleId) entries = entries.filter((e) => e.role_id === q.roleId);
    return entries;
  }

  async function listDirect(q: RoleAssignmentQuery, subtreeIds: readonly string[] | undefined, system: boolean): Promise<AssignmentEntry[]> {
    const entries: AssignmentEntry[] = [];
    if (!system) {
      entries.push(
        ...(await store.listAssignments({
          roleId: q.roleId,
          userId: q.userId,
          groupIds: q.groupId ? [q.groupId] : undefined,
          domainId: q.domainId,
          projectIds: q.projectId ? [...(subtreeIds ?? []), q.projectId] : undefined,
          inherited: q.inherited,
        })),
      );
    }
    if (system || (!q.projectId && !q.domainId)) {
      let grants;
      if (q.userId) grants = await store.listSystemGrants(q.userId, 'UserSystem');
      else if (q.groupId) grants = await store.listSystemGrants(q.groupId, 'GroupSystem');
      else grants = await store.listSystemGrants(null, null);
      for (const g of grants) {
        if (q.roleId && g.role_id !== q.roleId) continue;
        const actor = g.type === 'GroupSystem' ? { group_id: g.actor_id } : { user_id: g.actor_id };
        entries.push({ system: { all: true }, ...actor, role_id: g.role_id });
      }
    }
    return entries;
  }

  /** _get_names_from_role_assignments: names of each entity; a vanished user or group reads as ''. */
  async function addNames(entries: AssignmentEntry[]): Promise<AssignmentEntry[]> {
    const domainName = async (id: string) => (await getDomain(id)).name;
    const actorNames = async (ref: NamedRef | undefined) =>
      ref ? { name: ref.name, domain_id: ref.domain_id, domain_name: await domainName(ref.domain_id) } : { name: '', domain_id: '', domain_name: '' };
    const out: AssignmentEntry[] = [];
    for (const entry of entries) {
      const names: EntryNames = {};
      if (entry.domain_id) names.domain = { name: await domainName(entry.domain_id) };
      if (entry.user_id) names.user = await actorNames(await deps.getUser(entry.user_id));
      if (entry.group_id) names.group = await actorNames(await deps.getGroup(entry.group_id));
      if (entry.project_id) {
        const project = await getProject(entry.project_id);
        names.project = { name: project.name, domain_id: project.domain_id!, domain_name: await domainName(project.domain_id!) };
      }
      const role = await getRole(entry.role_id);
      names.role = { name: role.name, ...(role.domain_id ? { domain: { id: role.domain_id, name: await domainName(role.domain_id) } } : {}) };
      out.push({ ...entry, names });
    }
    return out;
  }

  return {
    getRole,

    /** GET /v3/roles: every role; the API applies Keystone's filters and list_limit. */
    listRoles: () => store.listAllRoles(),

    async createRole(body: Record<string, unknown>): Promise<RoleRef> {
      const options = (body['options'] ?? {}) as Record<string, unknown>;
      try {
        return await store.insertRole(newId(), {
          name: body['name'] as string,
          domain_id: (body['domain_id'] as string | null | undefined) ?? null,
          description: (body['description'] as string | null | undefined) ?? null,
          extra: splitRoleBody(body),
          options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null)),
        });
      } catch (error) {
        if (error instanceof DuplicateRole) throw duplicateRole(body);
        throw error;
      }
    },

    async updateRole(id: string, body: Record<string, unknown>): Promise<RoleRef> {
      const original = await getRole(id);
      // check_immutable_update: an immutable role accepts only a change that unsets immutable.
      if (original.options['immutable'] === true) {
        const newOptions = (body['options'] ?? {}) as Record<string, unknown>;
        if (Object.keys(body).length > 1 || !('immutable' in newOptions) || (newOptions['immutable'] !== false && newOptions['immutable'] !== null)) {
          throw new ForbiddenNotSecurity(`Unable to update immutable role resource: \`${id}. Set resource option "immutable" to false first.`);
        }
      }
      if ('domain_id' in body && (body['domain_id'] ?? null) !== original.domain_id) throw new ValidationError('Update of `domain_id` is not allowed.');
      const extraChanges = splitRoleBody(body);
      try {
        return await store.updateRole(id, {
          ...(body['name'] !== undefined ? { name: body['name'] as string } : {}),
          ...('description' in body ? { description: (body['description'] as string | null) ?? null } : {}),
          ...(Object.keys(extraChanges).length > 0 ? { extra: { ...original.extra, ...extraChanges } } : {}),
          options: (body['options'] ?? {}) as Record<string, unknown>,
        });
      } catch (error) {
        if (error instanceof DuplicateRole) throw duplicateRole(body);
        throw error;
      }
    },

    /**
     * delete_role: immutable roles refuse; assignments, app creds on those projects, options and
     * inferences go with it. Keystone writes no revocation event: tokens are re-resolved at
     * validation and fail once the scope has no role left.
     */
    async deleteRole(id: string): Promise<void> {
      const role = await getRole(id);
      if (role.options['immutable'] === true) {
        throw new ForbiddenNotSecurity(`Unable to delete immutable role resource: \`${id}. Set resource option "immutable" to false first.`);
      }
      await store.deleteRole(id);
    },

    // ---- implied roles --------------------------------------------------------------------

    async createImpliedRole(priorId: string, impliedId: string): Promise<void> {
      const implied = await getRole(impliedId);
      const prior = await getRole(priorId);
      // InvalidImpliedRole is a security error: whatever the reason, only its template is shown.
      if (deps.options.prohibitedImpliedRoles.includes(implied.name)) throw new SecurityForbidden(`${impliedId} cannot be an implied roles.`);
      if (prior.domain_id === null && implied.domain_id !== null) throw new SecurityForbidden(`${impliedId} cannot be an implied roles.`);
      if (!(await store.insertImpliedRole(priorId, impliedId))) throw new Conflict('implied_role', 'Duplicate entry');
    },

    async getImpliedRole(priorId: string, impliedId: string): Promise<void> {
      if (!(await store.impliedRoleExists(priorId, impliedId))) throw new NotFound(`${priorId} does not imply ${impliedId}.`);
    },

    async deleteImpliedRole(priorId: string, impliedId: string): Promise<void> {
      if (!(await store.removeImpliedRole(priorId, impliedId))) throw new NotFound(`${priorId} does not imply ${impliedId}.`);
    },

    listInferenceRules: () => store.listImpliedRoles(),

    // ---- grants ---------------------------------------------------------------------------

    /** create_grant: role, then target; a domain-specific role stays within its domain's projects. */
    async createGrant(roleId: string, actor: GrantActor, target: GrantTarget, inherited: boolean): Promise<void> {
      const role = await getRole(roleId);
      const targetRef = await assertTarget(target);
      if (target.projectId && role.domain_id && targetRef.domain_id !== role.domain_id) {
        throw new SecurityForbidden(`Project ${target.projectId} must be in the same domain as the role ${roleId} being assigned.`);
      }
      const type = `${actor.userId ? 'User' : 'Group'}${target.domainId ? 'Domain' : 'Project'}` as AssignmentType;
      await store.grant(type, (actor.userId ?? actor.groupId)!, targetRef.id, roleId, inherited);
    },

    /** get_grant: role, target, then the assignment itself. */
    async checkGrant(roleId: string, actor: GrantActor, target: GrantTarget, inherited: boolean): Promise<void> {
      await getRole(roleId);
      await assertTarget(target);
      await checkGrant(roleId, actor, target, inherited);
    },

    /** delete_grant: role, the assignment, then the target (Keystone's order decides which 404 wins). */
    async deleteGrant(roleId: string, actor: GrantActor, target: GrantTarget, inherited: boolean): Promise<void> {
      await getRole(roleId);
      await checkGrant(roleId, actor, target, inherited);
      await assertTarget(target);
      await store.revoke((actor.userId ?? actor.groupId)!, target, roleId, inherited);
    },

    async listGrants(actor: GrantActor, target: GrantTarget, inherited: boolean): Promise<RoleRef[]> {
      const targetRef = await assertTarget(target);
      return store.getRoles(await store.grantRoleIds((actor.userId ?? actor.groupId)!, targetRef.id, inherited));
    },

    async createSystemGrant(actor: GrantActor, roleId: string): Promise<void> {
      const role = await getRole(roleId);
      if (role.domain_id) throw new ValidationError(`Role ${roleId} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`);
      await store.grantSystem(actor.userId ? 'UserSystem' : 'GroupSystem', (actor.userId ?? actor.groupId)!, roleId);
    },

    async checkSystemGrant(actor: GrantActor, roleId: string): Promise<void> {
      const actorId = (actor.userId ?? actor.groupId)!;
      if (!(await store.systemGrantExists(actorId, roleId))) throw assignmentNotFound(roleId, actorId, 'system');
    },

    async deleteSystemGrant(actor: GrantActor, roleId: string): Promise<void> {
      const actorId = (actor.userId ?? actor.groupId)!;
      if (!(await store.revokeSystem(actorId, roleId))) throw assignmentNotFound(roleId, actorId, 'system');
    },

    async listSystemGrants(actor: GrantActor): Promise<RoleRef[]> {
      const grants = actor.userId ? await store.listSystemGrants(actor.userId, 'UserSystem') : await store.listSystemGrants(actor.groupId!, 'GroupSystem');
      return store.getRoles(grants.map((g) => g.role_id));
    },

    // ---- role assignments -----------------------------------------------------------------

    getProject,

    /** list_role_assignments (core.py), effective or as stored, names added when asked. */
    async listRoleAssignments(q: RoleAssignmentQuery): Promise<AssignmentEntry[]> {
      const subtreeIds = q.projectId && q.includeSubtree ? await deps.subtreeIdsOf(q.projectId) : undefined;
      const entries = q.effective ? await listEffective(q, subtreeIds) : await listDirect(q, subtreeIds, q.system === 'all');
      return q.includeNames ? addNames(entries) : entries;
    },
  };
}

/**
 * A fingerprint for add_implied_roles' `implied_ref in checked_role_refs`: Keystone compares the
 * dicts, so every member counts and key order does not. Written over the entry's known members
 * (an absent member and an undefined one are the same, as in a dict): a generic sorted
 * serialisation of each entry was a tenth of an effective listing's CPU.
 */
function entryKey(e: AssignmentEntry): string {
  const i = e.indirect;
  const part = (value: string | undefined) => (value === undefined ? '\u0001' : value);
  return [
    part(e.user_id), part(e.group_id), part(e.project_id), part(e.domain_id), e.system ? 'system' : '\u0001', e.role_id, part(e.inherited_to_projects),
    i ? '' : '\u0001', part(i?.group_id), part(i?.project_id), part(i?.domain_id), part(i?.role_id),
  ].join('\u0000');
}

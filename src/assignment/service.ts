import type { AssignmentStore, RoleRef } from './store.js';

/**
 * Adds every role implied by the given ones, transitively (spec 5.1 step 4). Cycles in
 * implied_role are possible in a hand-edited database; the visited set stops them.
 */
export function expandImpliedRoles(roleIds: Iterable<string>, edges: readonly { prior_role_id: string; implied_role_id: string }[]): Set<string> {
  const implies = new Map<string, string[]>();
  for (const edge of edges) {
    const list = implies.get(edge.prior_role_id);
    if (list) list.push(edge.implied_role_id);
    else implies.set(edge.prior_role_id, [edge.implied_role_id]);
  }
  const result = new Set<string>();
  const stack = [...roleIds];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (result.has(id)) continue;
    result.add(id);
    for (const next of implies.get(id) ?? []) stack.push(next);
  }
  return result;
}

export type AssignmentService = ReturnType<typeof createAssignmentService>;

export function createAssignmentService(deps: { store: AssignmentStore }) {
  const { store } = deps;

  /** Implied roles expanded, then domain-specific roles dropped: they only alias global roles. */
  async function effective(roleIds: readonly string[]): Promise<RoleRef[]> {
    if (roleIds.length === 0) return [];
    const edges = await store.listImpliedRoles();
    const roles = await store.getRoles([...expandImpliedRoles(roleIds, edges)]);
    return roles.filter((role) => role.domain_id === null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  return {
    expandImplied: async (roleIds: readonly string[]) => expandImpliedRoles(roleIds, await store.listImpliedRoles()),
    /** Direct and implied role ids on a project, domain-specific roles kept: what a trustor can delegate. */
    trustorRoleIdsOnProject: async (userId: string, groupIds: readonly string[], projectId: string) =>
      expandImpliedRoles(await store.directRoleIdsOnProject(userId, groupIds, projectId), await store.listImpliedRoles()),
    rolesByIds: (roleIds: readonly string[]) => store.getRoles(roleIds),
    effectiveRolesOnProject: async (userId: string, groupIds: readonly string[], projectId: string) =>
      effective(await store.directRoleIdsOnProject(userId, groupIds, projectId)),
    effectiveRolesOnDomain: async (userId: string, groupIds: readonly string[], domainId: string) =>
      effective(await store.directRoleIdsOnDomain(userId, groupIds, domainId)),
    effectiveRolesOnSystem: async (userId: string, groupIds: readonly string[]) =>
      effective(await store.directRoleIdsOnSystem(userId, groupIds)),
  };
}

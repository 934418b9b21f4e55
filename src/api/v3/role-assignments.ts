import type { AssignmentAdmin, AssignmentEntry } from '../../assignment/admin.js';
import { ValidationError } from '../../common/errors.js';
import { pythonJson, pythonJsonString } from '../../common/json.js';
import type { RequestContext, Route } from '../http.js';
import { collection, collectionTail, filterAttr, projectDict, queryFlag, queryPairs, queryValue } from './resource-views.js';

export interface RoleAssignmentRoutesDeps {
  readonly assignments: AssignmentAdmin;
}

const FILTERS = ['group.id', 'role.id', 'scope.domain.id', 'scope.project.id', 'scope.OS-INHERIT:inherited_to', 'user.id', 'scope.system'] as const;
const TREE_FILTERS = FILTERS.filter((f) => f !== 'scope.system');

/** The id members of role_assignments_index_request_query, in its property order (parameter_types.id_string). */
const ID_PARAMETERS = ['group.id', 'role.id', 'scope.domain.id', 'scope.project.id'] as const;
const ID_PATTERN = /^[a-zA-Z0-9-]+$/;

/** Python's repr of a str, as jsonschema writes instances into its messages. */
function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  const escaped = value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\t', '\\t');
  return `${quote}${quote === "'" ? escaped.replaceAll("'", "\\'") : escaped}${quote}`;
}

/**
 * Keystone 2026 validates the query with a JSON Schema (Draft 2020-12) before any policy check.
 * Its dict literal repeats `oneOf` and `not`, so only the last of each is in force: the
 * user/group exclusion and the dependency of include_subtree on scope.project.id. The messages
 * are jsonschema's, the instance being werkzeug's ImmutableMultiDict of the query.
 */
function validateQuery(ctx: RequestContext): void {
  const pairs = queryPairs(ctx);
  const first = (name: string) => pairs.find(([k]) => k === name)?.[1];
  for (const name of ID_PARAMETERS) {
    const value = first(name);
    if (value === undefined) continue;
    let message: string | undefined;
    if (value.length < 1) message = `${pyRepr(value)} should be non-empty`;
    else if (value.length > 64) message = `${pyRepr(value)} is too long`;
    else if (!ID_PATTERN.test(value)) message = `${pyRepr(value)} does not match '^[a-zA-Z0-9-]+$'`;
    if (message) throw new ValidationError(`Invalid input for field/attribute ${name}. Value: ${value}. ${message}`);
  }
  const has = (name: string) => first(name) !== undefined;
  if (has('include_subtree') && !has('scope.project.id')) throw new ValidationError("'scope.project.id' is a dependency of 'include_subtree'");
  if (has('user.id') && has('group.id')) {
    const instance = `ImmutableMultiDict([${pairs.map(([k, v]) => `(${pyRepr(k)}, ${pyRepr(v)})`).join(', ')}])`;
    throw new ValidationError(`${instance} is valid under each of {'required': ['group.id']}, {'required': ['user.id']}`);
  }
}

/** The pairwise exclusions of _build_role_assignments_list, checked after policy as upstream. */
function assertCombinations(ctx: RequestContext, effective: boolean, inherited: boolean | undefined): void {
  const given = (name: string) => !!queryValue(ctx, name);
  if (given('scope.domain.id') && given('scope.project.id')) throw new ValidationError('Specify a domain or project, not both');
  if (given('scope.domain.id') && given('scope.system')) throw new ValidationError('Specify system or domain, not both');
  if (given('scope.project.id') && given('scope.system')) throw new ValidationError('Specify system or project, not both');
  if (given('user.id') && given('group.id')) throw new ValidationError('Specify a user or group, not both');
  if (effective) {
    if (given('group.id')) throw new ValidationError('Combining effective and group filter will always result in an empty list.');
    if (inherited && given('scope.domain.id')) throw new ValidationError('Combining effective, domain and inherited filters will always result in an empty list.');
  }
}

/** RoleAssignmentsResource._format_entity: links to the grant APIs, no self link. */
export function formatAssignment(ctx: RequestContext, entry: AssignmentEntry): Record<string, unknown> {
  const v3 = `${ctx.baseUrl}/v3`;
  const links: Record<string, string> = {};
  const formatted: Record<string, unknown> = { links };
  const names = entry.names;
  let inherited = entry.inherited_to_projects === 'projects';
  let link = '';
  let scope: Record<string, unknown> = {};
  if (entry.project_id !== undefined) {
    scope = names?.project
      ? { project: { id: entry.project_id, name: names.project.name, domain: { id: names.project.domain_id, name: names.project.domain_name } } }
      : { project: { id: entry.project_id } };
    if (entry.indirect?.domain_id !== undefined) {
      inherited = true;
      link = `/domains/${entry.indirect.domain_id}`;
    } else if (entry.indirect?.project_id !== undefined) {
      inherited = true;
      link = `/projects/${entry.indirect.project_id}`;
    } else {
      link = `/projects/${entry.project_id}`;
    }
  } else if (entry.domain_id !== undefined) {
    scope = names?.domain ? { domain: { id: entry.domain_id, name: names.domain.name } } : { domain: { id: entry.domain_id } };
    link = `/domains/${entry.domain_id}`;
  } else if (entry.system) {
    link = '/system';
    scope = { system: entry.system };
  }
  formatted['scope'] = scope;
  if (entry.user_id !== undefined) {
    formatted['user'] = names?.user
      ? { id: entry.user_id, name: names.user.name, domain: { id: names.user.domain_id, name: names.user.domain_name } }
      : { id: entry.user_id };
    if (entry.indirect?.group_id !== undefined) {
      links['membership'] = `${v3}/groups/${entry.indirect.group_id}/users/${entry.user_id}`;
      link += `/groups/${entry.indirect.group_id}`;
    } else {
      link += `/users/${entry.user_id}`;
    }
  } else if (entry.group_id !== undefined) {
    formatted['group'] = names?.group
      ? { id: entry.group_id, name: names.group.name, domain: { id: names.group.domain_id, name: names.group.domain_name } }
      : { id: entry.group_id };
    link += `/groups/${entry.group_id}`;
  }
  formatted['role'] = names?.role ? { id: entry.role_id, name: names.role.name, ...(names.role.domain ? { domain: names.role.domain } : {}) } : { id: entry.role_id };
  let priorRoleLink = '';
  if (entry.indirect?.role_id !== undefined) {
    link += `/roles/${entry.indirect.role_id}`;
    // Upstream names the implied role as the prior one and vice versa; clients see exactly that.
    priorRoleLink = `/prior_role/${entry.role_id}/implies/${entry.indirect.role_id}`;
  } else {
    link += `/roles/${entry.role_id}`;
  }
  if (inherited) {
    scope['OS-INHERIT:inherited_to'] = 'projects';
    link = `/OS-INHERIT${link}/inherited_to_projects`;
  }
  links['assignment'] = `${v3}${link}`;
  if (priorRoleLink) links['prior_role'] = `${v3}${priorRoleLink}`;
  return formatted;
}

/**
 * `pythonJson(formatAssignment(ctx, entry))` written as text, for an entry without names (an
 * effective listing of a user in fifty groups is 189 such entries, 100 kB). Mirrors
 * formatAssignment branch by branch; the test compares the two over every branch.
 */
export function assignmentJson(v3: string, entry: AssignmentEntry): string {
  const q = pythonJsonString;
  let inherited = entry.inherited_to_projects === 'projects';
  let link = '';
  let scope = '{}';
  let scopeInner = '';
  if (entry.project_id !== undefined) {
    scopeInner = `"project": {"id": ${q(entry.project_id)}}`;
    if (entry.indirect?.domain_id !== undefined) {
      inherited = true;
      link = `/domains/${entry.indirect.domain_id}`;
    } else if (entry.indirect?.project_id !== undefined) {
      inherited = true;
      link = `/projects/${entry.indirect.project_id}`;
    } else {
      link = `/projects/${entry.project_id}`;
    }
  } else if (entry.domain_id !== undefined) {
    scopeInner = `"domain": {"id": ${q(entry.domain_id)}}`;
    link = `/domains/${entry.domain_id}`;
  } else if (entry.system) {
    link = '/system';
    scopeInner = `"system": ${pythonJson(entry.system)}`;
  }
  let actor = '';
  let membership = '';
  if (entry.user_id !== undefined) {
    actor = `, "user": {"id": ${q(entry.user_id)}}`;
    if (entry.indirect?.group_id !== undefined) {
      membership = `"membership": ${q(`${v3}/groups/${entry.indirect.group_id}/users/${entry.user_id}`)}, `;
      link += `/groups/${entry.indirect.group_id}`;
    } else {
      link += `/users/${entry.user_id}`;
    }
  } else if (entry.group_id !== undefined) {
    actor = `, "group": {"id": ${q(entry.group_id)}}`;
    link += `/groups/${entry.group_id}`;
  }
  let priorRole = '';
  if (entry.indirect?.role_id !== undefined) {
    link += `/roles/${entry.indirect.role_id}`;
    priorRole = `, "prior_role": ${q(`${v3}/prior_role/${entry.role_id}/implies/${entry.indirect.role_id}`)}`;
  } else {
    link += `/roles/${entry.role_id}`;
  }
  if (inherited) {
    scopeInner += `${scopeInner ? ', ' : ''}"OS-INHERIT:inherited_to": "projects"`;
    link = `/OS-INHERIT${link}/inherited_to_projects`;
  }
  if (scopeInner) scope = `{${scopeInner}}`;
  return `{"links": {${membership}"assignment": ${q(`${v3}${link}`)}${priorRole}}, "scope": ${scope}${actor}, "role": {"id": ${q(entry.role_id)}}}`;
}

export function roleAssignmentRoutes(deps: RoleAssignmentRoutesDeps): Route[] {
  const { assignments } = deps;

  /** include_subtree uses its own rule, with the project (404 if unknown) and its domain as target. */
  async function target(ctx: RequestContext) {
    validateQuery(ctx);
    if (queryFlag(ctx, 'include_subtree')) {
      const projectId = queryValue(ctx, 'scope.project.id');
      const project = projectId ? await assignments.getProject(projectId) : undefined;
      return {
        filter_attr: filterAttr(ctx, TREE_FILTERS),
        ...(project ? { target: { project: projectDict(project), domain_id: project.domain_id } } : {}),
      };
    }
    // A domain-scoped caller is checked against its own domain; the answer is then cut to it.
    const scopeDomain = ctx.caller!.credentials.domain_id;
    return { filter_attr: filterAttr(ctx, FILTERS), ...(scopeDomain ? { target: { domain_id: scopeDomain } } : {}) };
  }

  async function handle(ctx: RequestContext) {
    const tree = queryFlag(ctx, 'include_subtree');
    if (tree && !queryValue(ctx, 'scope.project.id')) throw new ValidationError('scope.project.id must be specified if include_subtree is also specified');
    const effective = queryFlag(ctx, 'effective');
    const inheritedParam = queryValue(ctx, 'scope.OS-INHERIT:inherited_to');
    const inherited = inheritedParam === undefined ? undefined : inheritedParam === 'projects';
    assertCombinations(ctx, effective, inherited);
    const entries = await assignments.listRoleAssignments({
      roleId: queryValue(ctx, 'role.id'),
      userId: queryValue(ctx, 'user.id'),
      groupId: queryValue(ctx, 'group.id'),
      system: queryValue(ctx, 'scope.system'),
      domainId: queryValue(ctx, 'scope.domain.id'),
      projectId: queryValue(ctx, 'scope.project.id'),
      includeSubtree: tree,
      inherited,
      effective,
      includeNames: queryFlag(ctx, 'include_names'),
    });
    const scopeDomain = ctx.caller!.credentials.domain_id;
    if ((tree || !scopeDomain) && entries.every((e) => e.names === undefined)) {
      // Nothing to cut and no names: the body written as text (see assignmentJson).
      const v3 = `${ctx.baseUrl}/v3`;
      const members = entries.map((e) => assignmentJson(v3, e)).join(', ');
      return { status: 200, json: `{"role_assignments": [${members}], ${pythonJson(collectionTail(ctx, undefined, false)).slice(1)}` };
    }
    let formatted = entries.map((e) => formatAssignment(ctx, e));
    if (!tree && scopeDomain) {
      const kept: Record<string, unknown>[] = [];
      for (const entry of formatted) {
        const scope = entry['scope'] as { domain?: { id: string }; project?: { id: string } };
        if (scope.domain?.id === scopeDomain) kept.push(entry);
        else if (scope.project && (await assignments.getProject(scope.project.id)).domain_id === scopeDomain) kept.push(entry);
      }
      formatted = kept;
    }
    return { status: 200, body: collection(ctx, 'role_assignments', formatted, false) };
  }

  return (['GET', 'HEAD'] as const).map((method) => ({
    method,
    path: '/v3/role_assignments',
    action: 'identity:list_role_assignments',
    authenticated: true,
    statuses: [200, 400, 401, 403, 404],
    target,
    actions: (ctx: RequestContext) => [queryFlag(ctx, 'include_subtree') ? 'identity:list_role_assignments_for_tree' : 'identity:list_role_assignments'],
    handle,
  }));
}

import assert from 'node:assert/strict';
import type { AssignmentEntry } from '../../src/assignment/admin.js';
import type { RequestContext } from '../../src/api/http.js';
import { assignmentJson, formatAssignment } from '../../src/api/v3/role-assignments.js';
import { pythonJson } from '../../src/common/json.js';

const ctx = { baseUrl: 'http://127.0.0.1:5000' } as RequestContext;

describe('role assignment written as text (assignmentJson)', () => {
  // Every branch of formatAssignment: scope kind, actor kind, inheritance source, implied role.
  const entries: AssignmentEntry[] = [
    { user_id: 'u1', project_id: 'p1', role_id: 'r1' },
    { user_id: 'u1', project_id: 'p1', role_id: 'r1', inherited_to_projects: 'projects' },
    { user_id: 'u1', domain_id: 'd1', role_id: 'r1' },
    { user_id: 'u1', domain_id: 'd1', role_id: 'r1', inherited_to_projects: 'projects' },
    { group_id: 'g1', project_id: 'p1', role_id: 'r1' },
    { group_id: 'g1', domain_id: 'd1', role_id: 'r1', inherited_to_projects: 'projects' },
    { user_id: 'u1', system: { all: true }, role_id: 'r1' },
    { group_id: 'g1', system: { all: true }, role_id: 'r1' },
    { user_id: 'u1', project_id: 'p2', role_id: 'r1', indirect: { domain_id: 'd1' } },
    { user_id: 'u1', project_id: 'p2', role_id: 'r1', indirect: { project_id: 'p1' } },
    { user_id: 'u1', project_id: 'p2', role_id: 'r1', indirect: { project_id: 'p1', group_id: 'g1' } },
    { user_id: 'u1', project_id: 'p2', role_id: 'r2', indirect: { domain_id: 'd1', group_id: 'g1', role_id: 'r1' } },
    { user_id: 'u1', domain_id: 'd1', role_id: 'r2', indirect: { group_id: 'g1' } },
    { user_id: 'u1', project_id: 'p1', role_id: 'r2', indirect: { role_id: 'r1' } },
    { user_id: 'u1', system: { all: true }, role_id: 'r2', indirect: { role_id: 'r1' } },
    // No scope at all, and ids JSON must escape.
    { user_id: 'u1', role_id: 'r1', inherited_to_projects: 'projects' },
    { user_id: 'u "1"', project_id: 'p\\1', role_id: 'ré' },
  ];

  it('equals pythonJson(formatAssignment(...)) for every branch', () => {
    for (const entry of entries) {
      assert.equal(assignmentJson(`${ctx.baseUrl}/v3`, entry), pythonJson(formatAssignment(ctx, entry)), JSON.stringify(entry));
    }
    // Not vacuous: the inherited, implied and membership forms are all there.
    const text = assignmentJson(`${ctx.baseUrl}/v3`, entries[11]!);
    assert.match(text, /"membership": "http:\/\/127\.0\.0\.1:5000\/v3\/groups\/g1\/users\/u1"/);
    assert.match(text, /"prior_role": /);
    assert.match(text, /"OS-INHERIT:inherited_to": "projects"/);
  });
});

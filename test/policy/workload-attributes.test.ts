import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { projectPath } from '../../src/common/paths.js';
import { compileCedar } from '../../src/policy/cedar-compile.js';
import { loadPolicyRules } from '../../src/policy/defaults.js';
import { applyOverrides, buildPolicyEngine, POLICY_ENGINES } from '../../src/policy/engines.js';
import type { Credentials, PolicyInput } from '../../src/policy/pdp.js';
import { credentialsFor } from '../../src/policy/policy-cases.js';
import { OPA, requireOpa } from '../support/opa.js';

/**
 * The rule of docs/workload-identity.md ("only refs/heads/main of org/app may write to project
 * Y"), taken from the document itself, decided by every engine over a workload token's
 * credentials.attributes: the document cannot drift from what the engines do.
 */
const doc = readFileSync(projectPath('docs', 'workload-identity.md'), 'utf8');

function snippet(name: string): string {
  const match = new RegExp(`<!-- workload-rule:${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  assert.ok(match, `docs/workload-identity.md has no ${name} snippet`);
  return match[1]!;
}

const [ACTION, ...rest] = snippet('oslo').split(': ');
const RULE = rest.join(': ');
const PROJECT = 'p-own';

function workload(attributes: Record<string, unknown>, roles: readonly string[] = ['member', 'reader']): Credentials {
  return { ...credentialsFor('project', roles), methods: ['mapped'], attributes };
}

const main = { sub: 'repo:org/app:ref:refs/heads/main', repository: 'org/app', ref: 'refs/heads/main' };

/** [label, input, allowed] */
const CASES: readonly [string, PolicyInput, boolean][] = [
  ['main of org/app on its project', { credentials: workload(main), target: { project: { id: PROJECT } } }, true],
  ['another branch', { credentials: workload({ ...main, ref: 'refs/heads/feature' }), target: { project: { id: PROJECT } } }, false],
  ['another repository', { credentials: workload({ ...main, repository: 'org/other' }), target: { project: { id: PROJECT } } }, false],
  ['another project', { credentials: workload(main), target: { project: { id: 'p-foreign' } } }, false],
  ['no attributes (a password token of the same user)', { credentials: workload({}), target: { project: { id: PROJECT } } }, false],
  ['a reader only', { credentials: workload(main, ['reader']), target: { project: { id: PROJECT } } }, false],
  [
    'attributes posed by the request, not the token',
    {
      credentials: workload({}),
      target: { project: { id: PROJECT }, credentials: { attributes: main } },
      path: { 'credentials.attributes.repository': 'org/app', 'credentials.attributes.ref': 'refs/heads/main' },
    },
    false,
  ],
];

describe('workload attributes in policy: the rule of docs/workload-identity.md', () => {
  it('is a project-scoped rule on identity:update_project', () => {
    assert.equal(ACTION, 'identity:update_project');
    assert.match(RULE, /attributes\.ref:refs\/heads\/main/);
  });

  for (const kind of POLICY_ENGINES) {
    it(`decides as written with the ${kind} engine, as a bundle override`, async () => {
      const engine = await buildPolicyEngine({ kind, rules: loadPolicyRules(), overrides: { [ACTION!]: RULE }, enforceScope: true, enforceNewDefaults: true });
      for (const [label, input, allowed] of CASES) {
        assert.equal(engine.decide(ACTION!, input).allow, allowed, `${kind}: ${label}`);
      }
    });
  }

  it('the Cedar text in the document is what the compiler makes of the rule', () => {
    const compiled = compileCedar(applyOverrides(loadPolicyRules(), { [ACTION!]: RULE }));
    const text = [...compiled.policyFiles.values()].join('\n');
    assert.ok(text.includes(snippet('cedar')), `compiled:\n${text.split('\n').filter((l) => l.includes('update_project')).join('\n')}`);
  });

  describe('the hand-written Rego of the document, built by the OPA CLI', () => {
    let dir: string;
    let wasm: Buffer;
    before(function () {
      this.timeout(60_000);
      requireOpa(this, 'the hand-written Rego rule');
      dir = mkdtempSync(path.join(tmpdir(), 'kts-workload-rego-'));
      writeFileSync(path.join(dir, 'workload.rego'), `${snippet('rego')}\n`);
      execFileSync(OPA, ['check', '--strict', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      execFileSync(OPA, ['build', '-t', 'wasm', '-e', 'workload/allow', dir, '-o', path.join(dir, 'bundle.tar.gz')], { stdio: ['ignore', 'pipe', 'pipe'] });
      wasm = execFileSync('tar', ['-xzOPf', path.join(dir, 'bundle.tar.gz'), '/policy.wasm'], { maxBuffer: 64 << 20 });
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('decides the same cases', async () => {
      const policy = await loadPolicy(wasm);
      for (const [label, input, allowed] of CASES) {
        const [result] = policy.evaluate(input) as { result: boolean }[];
        assert.equal(result?.result, allowed, label);
      }
    });
  });
});

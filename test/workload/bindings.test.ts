import assert from 'node:assert/strict';
import { claimAt, conditionFailure, evaluateBinding, globToRegExp, selectAttributes, type BindingRule } from '../../src/workload/bindings.js';
import { PRESETS } from '../../src/workload/presets.js';
import { outboundUrlProblem } from '../../src/workload/verify.js';

const rule = (overrides: Partial<BindingRule>): BindingRule => ({
  bound_audiences: null,
  bound_subject: null,
  bound_claims: {},
  token_user_id: 'u',
  shadow_user: null,
  token_project_id: 'p',
  token_restriction_id: null,
  attribute_claims: null,
  ...overrides,
});

describe('workload binding rules', () => {
  it('reads dotted claim paths, including names that contain dots', () => {
    const claims = { 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'deployer' } }, a: { b: 1 }, 'x.y': 2 };
    assert.equal(claimAt(claims, 'kubernetes.io.namespace'), 'ci');
    assert.equal(claimAt(claims, 'kubernetes.io.serviceaccount.name'), 'deployer');
    assert.equal(claimAt(claims, 'a.b'), 1);
    assert.equal(claimAt(claims, 'x.y'), 2);
    assert.equal(claimAt(claims, 'kubernetes.io.missing'), undefined);
    assert.equal(claimAt(claims, 'constructor'), undefined);
  });

  it('matches exact values, lists and globs, and nothing implicitly', () => {
    assert.equal(conditionFailure('refs/heads/*', 'refs/heads/main'), 'is "refs/heads/main", not "refs/heads/*"');
    assert.equal(conditionFailure({ glob: 'refs/heads/*' }, 'refs/heads/main'), null);
    assert.equal(conditionFailure({ glob: ['refs/tags/v?.*', 'refs/heads/main'] }, 'refs/tags/v1.2'), null);
    assert.notEqual(conditionFailure({ glob: 'refs/heads/*' }, 'refs/tags/v1'), null);
    assert.equal(conditionFailure(['push', 'workflow_dispatch'], 'push'), null);
    assert.notEqual(conditionFailure(['push'], 'pull_request'), null);
    assert.notEqual(conditionFailure(['push'], ['push']), null);
    assert.equal(conditionFailure(true, true), null);
    assert.notEqual(conditionFailure('true', true), null);
    assert.equal(conditionFailure('x', undefined), 'is missing');
    // Regular-expression characters in a glob are literal.
    assert.ok(globToRegExp('a.b+(c)').test('a.b+(c)'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });

  it('explains every failed condition', () => {
    const evaluation = evaluateBinding(
      rule({ bound_audiences: ['k'], bound_subject: 'repo:org/app:ref:refs/heads/main', bound_claims: { repository: 'org/app', ref: { glob: 'refs/heads/*' } } }),
      { aud: ['other'], sub: 'repo:org/app:pull_request', repository: 'org/app' },
    );
    assert.equal(evaluation.matched, false);
    assert.equal(evaluation.reasons.length, 3);
    assert.match(evaluation.reasons[0]!, /^aud/);
    assert.match(evaluation.reasons[1]!, /^sub is "repo:org\/app:pull_request"/);
    assert.equal(evaluation.reasons[2], 'ref is missing');
    assert.deepEqual(evaluateBinding(rule({ bound_claims: { repository: 'org/app' } }), { repository: 'org/app' }), { matched: true, reasons: [] });
  });

  it('copies only scalar claims into attributes', () => {
    assert.deepEqual(selectAttributes(['sub', 'groups', 'kubernetes.io.namespace', 'missing', 'n'], { sub: 's', groups: ['a'], 'kubernetes.io': { namespace: 'ci' }, n: 3 }), {
      sub: 's',
      'kubernetes.io.namespace': 'ci',
      n: 3,
    });
  });

  it('presets check the platform’s claim shape', () => {
    assert.equal(PRESETS['github-actions']!.shapeFailure({ sub: 'repo:org/app:ref:refs/heads/main', repository: 'org/app', repository_owner: 'org', ref: 'refs/heads/main' }), null);
    assert.notEqual(PRESETS['github-actions']!.shapeFailure({ sub: 'repo:org/other:ref:x', repository: 'org/app', repository_owner: 'org', ref: 'x' }), null);
    assert.equal(PRESETS['spiffe']!.shapeFailure({ sub: 'spiffe://example.org/ns/ci/sa/x' }), null);
    assert.notEqual(PRESETS['spiffe']!.shapeFailure({ sub: 'https://example.org' }), null);
  });

  it('allows outbound http to loopback addresses only', () => {
    assert.equal(outboundUrlProblem('https://token.actions.githubusercontent.com/.well-known/openid-configuration'), null);
    assert.equal(outboundUrlProblem('http://127.0.0.1:8080/jwks'), null);
    assert.equal(outboundUrlProblem('http://[::1]:8080/jwks'), null);
    assert.notEqual(outboundUrlProblem('http://127.0.0.1.evil.example/jwks'), null);
    assert.notEqual(outboundUrlProblem('http://10.0.0.1/jwks'), null);
    assert.notEqual(outboundUrlProblem('file:///etc/passwd'), null);
  });
});

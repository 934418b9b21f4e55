import { readFileSync } from 'node:fs';
import { projectPath } from '../common/paths.js';
import type { PolicyRule } from './pdp.js';

/** Keystone's default rules (dumped from upstream through oslo.policy), with scope types. */
export function loadDefaultPolicy(): PolicyRule[] {
  return JSON.parse(readFileSync(projectPath('policies', 'keystone', 'default-policy.json'), 'utf8')) as PolicyRule[];
}

/** Keystone's defaults plus the rules of keystone-ts' own routes (`keystone_ts:*`). */
export function loadPolicyRules(): PolicyRule[] {
  const own = JSON.parse(readFileSync(projectPath('policies', 'keystone-ts', 'rules.json'), 'utf8')) as PolicyRule[];
  return [...loadDefaultPolicy(), ...own];
}

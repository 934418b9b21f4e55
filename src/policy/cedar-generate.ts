import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectPath } from '../common/paths.js';
import { compileCedar } from './cedar-compile.js';
import { loadPolicyRules } from './defaults.js';

/**
 * Writes policies/cedar from Keystone's default rules: one .cedar file per resource area and
 * keystone.cedarschema. Run `node dist/src/policy/cedar-generate.js` after changing
 * default-policy.json or the compiler; test/policy/cedar-generated.test.ts fails until then.
 */
function generate(dir: string): void {
  const compiled = compileCedar(loadPolicyRules());
  // A rule moved to another area would otherwise leave its old file behind, loaded twice.
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.cedar') && !compiled.policyFiles.has(name)) rmSync(path.join(dir, name));
  }
  for (const [name, text] of compiled.policyFiles) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'keystone.cedarschema'), compiled.schema);
  console.log(`wrote ${compiled.policyFiles.size} policy files and keystone.cedarschema to ${dir}`);
}

generate(projectPath('policies', 'cedar'));

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY, renderConfigurationDoc } from '../../src/config/index.js';

// dist/test/config/docs.test.js → the repository root.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const REGENERATE = 'npm run build && node dist/src/config/docs.js > docs/configuration.md';

describe('config/docs: docs/configuration.md is generated from the registry', () => {
  it('is up to date', () => {
    const committed = readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8');
    const generated = renderConfigurationDoc();
    if (committed === generated) return;
    // Point at the first differing line instead of dumping two 80 kB strings.
    const a = committed.split('\n');
    const b = generated.split('\n');
    const line = a.findIndex((text, i) => text !== b[i]);
    const at = line < 0 ? a.length : line;
    assert.fail(
      `docs/configuration.md is stale (first difference at line ${at + 1}):\n` +
        `  committed: ${JSON.stringify(a[at])}\n  generated: ${JSON.stringify(b[at])}\n` +
        `Regenerate it with: ${REGENERATE}`,
    );
  });

  it('is what the documented command prints', () => {
    const printed = execFileSync(process.execPath, [path.join(root, 'dist', 'src', 'config', 'docs.js')], { encoding: 'utf8' });
    assert.equal(printed, renderConfigurationDoc());
  });

  it('documents every section and option of the registry', () => {
    const doc = renderConfigurationDoc();
    for (const [section, spec] of Object.entries(REGISTRY)) {
      assert.ok(doc.includes(`\n## [${section}]\n`), `section [${section}]`);
      for (const option of Object.keys(spec.options)) {
        assert.ok(doc.includes(`| \`${option}\` |`), `[${section}] ${option}`);
      }
    }
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { projectPath } from '../../src/common/paths.js';

/** The pinned OPA CLI, where scripts/install-opa.sh puts it. */
export const OPA = projectPath('.cache', 'bin', 'opa');

/**
 * For a mocha before() hook: nothing when the CLI is there; otherwise skips the suite with the
 * reason on stderr (mocha's skip() takes no message), except under CI=true once .ci/run installs
 * the CLI, where a skip would hide a stale or broken policy.
 */
export function requireOpa(context: Mocha.Context, what: string): void {
  if (existsSync(OPA)) return;
  const reason = `${OPA} is missing (scripts/install-opa.sh installs it)`;
  const ciInstallsOpa = readFileSync(projectPath('.ci', 'run'), 'utf8').includes('scripts/install-opa.sh');
  if (process.env.CI === 'true' && ciInstallsOpa) throw new Error(`the OPA CLI is required when CI=true: ${reason}`);
  console.error(`skipping ${what}: ${reason}`);
  context.skip();
}

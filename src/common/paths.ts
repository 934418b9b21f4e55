import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The project root (where package.json is), from src/ when run as source or dist/src/ when built. */
export function projectPath(...segments: string[]): string {
  if (root === undefined) {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    while (!existsSync(path.join(dir, 'package.json')) || path.basename(dir) === 'dist') {
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error('keystone-ts project root not found');
      dir = parent;
    }
    root = dir;
  }
  return path.join(root, ...segments);
}

/** keystone-ts's own version, from package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
}

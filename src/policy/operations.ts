import type { PolicyRule } from './pdp.js';

export interface OperationMatch {
  readonly action: string;
  /** Values of the template's `{name}` segments, percent-decoded. */
  readonly path: Readonly<Record<string, string>>;
}

export type OperationMatcher = (method: string, pathname: string) => OperationMatch | undefined;

interface Operation {
  readonly action: string;
  readonly segments: readonly string[];
  readonly literals: number;
}

const PARAMETER = /^\{([A-Za-z0-9_]+)\}$/;

/**
 * Maps a request (method and path) to the rule that guards it, from the operations each rule
 * documents (Keystone's `/v3/users/{user_id}` GET → identity:get_user). Templates selected by a
 * query string (`/v3/roles?domain_id=...`) are left out: only the service itself can tell them
 * apart. The template with more literal segments wins; among equals, the first rule listed.
 */
export function createOperationMatcher(rules: readonly PolicyRule[]): OperationMatcher {
  const byShape = new Map<string, Operation[]>();
  for (const rule of rules) {
    for (const [methods, template] of rule.ops ?? []) {
      const path = template.trim();
      if (path.includes('?')) continue;
      const segments = path.split('/').filter((segment) => segment !== '');
      for (const method of typeof methods === 'string' ? [methods] : methods) {
        const key = `${method.toUpperCase()} ${segments.length}`;
        if (!byShape.has(key)) byShape.set(key, []);
        byShape.get(key)!.push({ action: rule.name, segments, literals: segments.filter((s) => !PARAMETER.test(s)).length });
      }
    }
  }
  for (const operations of byShape.values()) operations.sort((a, b) => b.literals - a.literals);

  return (method, pathname) => {
    let parts: string[];
    try {
      parts = pathname.split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
    } catch {
      return undefined; // not a path any template describes
    }
    for (const operation of byShape.get(`${method.toUpperCase()} ${parts.length}`) ?? []) {
      const path: Record<string, string> = {};
      const matched = operation.segments.every((segment, i) => {
        const parameter = PARAMETER.exec(segment);
        if (parameter) path[parameter[1]!] = parts[i]!;
        return parameter !== null || segment === parts[i];
      });
      if (matched) return { action: operation.action, path };
    }
    return undefined;
  };
}

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../common/errors.js';

/**
 * An operator's oslo.policy override file: rule name → check string, in JSON or in the YAML that
 * `oslopolicy-sample-generator` writes. Only that shape is accepted: a flat mapping of scalars,
 * comments, and plain scalars folded over indented continuation lines. Anything else is refused
 * with the line number, rather than guessed at.
 */
export function parsePolicyFile(text: string, source: string): Record<string, string> {
  const trimmed = text.trimStart();
  if (source.endsWith('.json') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${source}: not valid JSON: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${source}: expected an object of rule name → check string`);
    const rules: Record<string, string> = {};
    for (const [name, check] of Object.entries(parsed)) {
      if (typeof check !== 'string') throw new ConfigError(`${source}: rule ${JSON.stringify(name)} must be a string`);
      rules[name] = check;
    }
    return rules;
  }
  return parseYamlMapping(text, source);
}

function unquote(token: string, source: string, line: number): string {
  if (token.startsWith('"')) {
    if (!token.endsWith('"') || token.length < 2) throw new ConfigError(`${source}:${line}: unterminated double-quoted string`);
    try {
      return JSON.parse(token) as string;
    } catch {
      throw new ConfigError(`${source}:${line}: unsupported escape in a double-quoted string`);
    }
  }
  if (token.startsWith("'")) {
    if (!token.endsWith("'") || token.length < 2) throw new ConfigError(`${source}:${line}: unterminated single-quoted string`);
    return token.slice(1, -1).replaceAll("''", "'");
  }
  return token;
}

/** Splits `key: value` at the first colon outside quotes that is followed by a space or the end. */
function splitEntry(text: string): [string, string] | undefined {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ':' && (i + 1 === text.length || text[i + 1] === ' ')) {
      return [text.slice(0, i).trim(), text.slice(i + 1).trim()];
    }
  }
  return undefined;
}

function parseYamlMapping(text: string, source: string): Record<string, string> {
  const rules: Record<string, string> = {};
  let last: { name: string; line: number; plain: boolean } | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/\s+#.*$/, '');
    if (content.trim() === '' || content.trimStart().startsWith('#')) return;
    if (/^\s/.test(content)) {
      // A folded continuation of the previous plain (unquoted) value.
      if (!last || !last.plain) throw new ConfigError(`${source}:${line}: unexpected indentation`);
      rules[last.name] = `${rules[last.name]} ${content.trim()}`.trim();
      return;
    }
    if (content === '---') return;
    const entry = splitEntry(content);
    if (!entry) throw new ConfigError(`${source}:${line}: expected "rule name": "check string"`);
    const name = unquote(entry[0], source, line);
    const value = entry[1];
    if (/^[[{|>&*!]/.test(value)) throw new ConfigError(`${source}:${line}: rule ${JSON.stringify(name)}: only string check strings are supported`);
    rules[name] = value === '' ? '' : unquote(value, source, line);
    last = { name, line, plain: !/^["']/.test(value) };
  });
  return rules;
}

/**
 * Finds `[oslo_policy] policy_file` as oslo.policy does: an absolute path as is, a relative one
 * next to the configuration files (the last one first), then in /etc/keystone. A missing
 * default file means "no overrides"; a missing file the operator named is an error.
 */
export function findPolicyFile(policyFile: string, configFiles: readonly string[], isDefault: boolean): string | undefined {
  const candidates = path.isAbsolute(policyFile)
    ? [policyFile]
    : [...[...configFiles].reverse().map((file) => path.join(path.dirname(path.resolve(file)), policyFile)), path.join('/etc/keystone', policyFile)];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found && !isDefault) throw new ConfigError(`[oslo_policy] policy_file = ${policyFile}: not found (looked in ${candidates.join(', ')})`);
  return found;
}

export function loadPolicyOverrides(policyFile: string, configFiles: readonly string[], isDefault: boolean): Record<string, string> {
  const found = findPolicyFile(policyFile, configFiles, isDefault);
  return found ? parsePolicyFile(readFileSync(found, 'utf8'), found) : {};
}

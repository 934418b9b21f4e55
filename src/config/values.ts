import type { OptionSpec } from './schema.js';

/**
 * Turning one option's text (from a file or the environment) or typed value (from overrides) into
 * its Config value. Failures are a short phrase naming the problem; the loader prefixes where the
 * value came from, e.g. `keystone.conf:12: [token] expiration = "abc": not an integer`.
 */
export type ValueResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

const TRUE_WORDS = new Set(['true', '1', 'on', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'off', 'no']);
const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const ok = (value: unknown): ValueResult => ({ ok: true, value });
const fail = (problem: string): ValueResult => ({ ok: false, problem });

/**
 * Parses the keystone.conf spelling of a value.
 *
 * An empty value (`option =`) means "unset" for an option whose default is unset (as oslo's
 * numeric types and Keystone's `if CONF.x:` checks treat it); for any other non-text option it is
 * an error, so that a typed `number` never turns out to be null at run time.
 */
export function parseValue(spec: OptionSpec, text: string): ValueResult {
  const nullable = spec.default === null;
  switch (spec.type) {
    case 'string':
      return ok(text === '' && nullable ? null : text);
    case 'path':
      if (text === '') return nullable ? ok(null) : fail('empty path');
      return ok(text);
    case 'uri':
      if (text === '' && nullable) return ok(null);
      return isAbsoluteUrl(text) ? ok(text) : fail('not an absolute URL (scheme://host...)');
    case 'address':
      if (text === '' && nullable) return ok(null);
      return checkAddress(text);
    case 'int':
    case 'float': {
      const trimmed = text.trim();
      if (trimmed === '' && nullable) return ok(null);
      const pattern = spec.type === 'int' ? INTEGER : FLOAT;
      if (!pattern.test(trimmed)) return fail(spec.type === 'int' ? 'not an integer' : 'not a number');
      return checkNumber(spec, Number(trimmed));
    }
    case 'bool': {
      const word = text.trim().toLowerCase();
      if (word === '' && nullable) return ok(null);
      if (TRUE_WORDS.has(word)) return ok(true);
      if (FALSE_WORDS.has(word)) return ok(false);
      return fail('not a boolean (true/false, yes/no, on/off, 1/0)');
    }
    case 'enum':
      if (text === '' && nullable && !spec.choices.includes('')) return ok(null);
      return checkChoice(spec.choices, text);
    case 'list':
      return checkList(spec.itemChoices, splitList(text));
    case 'multi':
      // One assignment is one item; the loader collects the items of all assignments.
      return ok(text === '' ? [] : [text]);
    case 'dict':
      if (text.trim() === '') return ok(nullable ? null : {});
      return parseDict(text);
  }
}

/**
 * Checks a value given by the program (overrides). A string is read as keystone.conf text;
 * anything else must already have the option's type.
 */
export function checkValue(spec: OptionSpec, value: unknown): ValueResult {
  if (typeof value === 'string' && spec.type !== 'multi') return parseValue(spec, value);
  if (value === null) return spec.default === null ? ok(null) : fail('may not be unset');
  switch (spec.type) {
    case 'string':
    case 'path':
    case 'uri':
    case 'address':
      return fail('not a string');
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value)
        ? checkNumber(spec, value)
        : fail('not an integer');
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? checkNumber(spec, value) : fail('not a number');
    case 'bool':
      return typeof value === 'boolean' ? ok(value) : fail('not a boolean');
    case 'enum':
      return fail('not a string');
    case 'list':
    case 'multi': {
      if (typeof value === 'string') return ok(value === '' ? [] : [value]);
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
        return fail('not an array of strings');
      }
      return spec.type === 'list' ? checkList(spec.itemChoices, value) : ok([...value]);
    }
    case 'dict':
      return typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')
        ? ok({ ...value })
        : fail('not an object of strings');
  }
}

/** oslo's ListOpt: one trailing comma is ignored, items are stripped, an empty value is []. */
export function splitList(text: string): string[] {
  const trimmed = text.trim().replace(/,$/, '');
  return trimmed === '' ? [] : trimmed.split(',').map((item) => item.trim());
}

function checkList(itemChoices: readonly string[] | undefined, items: readonly string[]): ValueResult {
  // oslo keeps empty items ("a,,b"); an empty auth method or role name is never meant.
  if (items.includes('')) return fail('empty list item');
  if (itemChoices !== undefined) {
    const bad = items.find((item) => !itemChoices.includes(item));
    if (bad !== undefined) return fail(`item ${JSON.stringify(bad)} is not one of: ${itemChoices.join(', ')}`);
  }
  return ok([...items]);
}

function checkChoice(choices: readonly string[], text: string): ValueResult {
  return choices.includes(text)
    ? ok(text)
    : fail(`not one of: ${choices.map((c) => (c === '' ? '""' : c)).join(', ')}`);
}

function checkNumber(spec: { readonly min?: number; readonly max?: number; readonly type: string }, n: number): ValueResult {
  if (spec.type === 'int' && !Number.isSafeInteger(n)) return fail('out of range');
  if (!Number.isFinite(n)) return fail('out of range');
  const { min, max } = spec;
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    if (min !== undefined && max !== undefined) return fail(`out of range (must be between ${min} and ${max})`);
    return fail(min !== undefined ? `out of range (must be at least ${min})` : `out of range (must be at most ${max})`);
  }
  return ok(n);
}

/** oslo's URIOpt requires a scheme and an authority; so does a base URL for links. */
function isAbsoluteUrl(text: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return false;
  try {
    return new URL(text).host !== '';
  } catch {
    return false;
  }
}

/** `host:port` or `[ipv6]:port`; the port is required so the listen address is never a guess. */
function checkAddress(text: string): ValueResult {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d+)$/.exec(text);
  if (match === null) return fail('not host:port (IPv6 as [address]:port)');
  if (Number(match[2]) > 65535) return fail('port out of range (0-65535)');
  return ok(text);
}

/** oslo's DictOpt: `key:value` pairs separated by commas. */
function parseDict(text: string): ValueResult {
  const result: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf(':');
    const key = pair.slice(0, at).trim();
    if (at < 0 || key === '') return fail('not key:value pairs separated by commas');
    if (Object.hasOwn(result, key)) return fail(`duplicate key ${JSON.stringify(key)}`);
    result[key] = pair.slice(at + 1).trim();
  }
  return ok(result);
}

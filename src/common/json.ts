/**
 * JSON rendered the way Keystone's Python emits it, so byte-level comparisons with upstream
 * responses hold: `json.dumps` defaults use ", " and ": " separators and escape every non-ASCII
 * character (ensure_ascii), and error bodies use flask.jsonify's compact, key-sorted form.
 */

// JSON.stringify already escapes control characters and lone surrogates; ensure_ascii also
// escapes the rest of the non-ASCII range, UTF-16 unit by unit as Python does.
function asciiOnly(json: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(json)
    ? json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json;
}

function pythonic(value: unknown, sortKeys: boolean, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(', ');
      pythonic(item, sortKeys, out);
    });
    out.push(']');
  } else if (typeof value === 'object' && !(value instanceof Date)) {
    out.push('{');
    let first = true;
    const keys = Object.keys(value);
    if (sortKeys) keys.sort();
    for (const key of keys) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner === undefined) continue;
      if (!first) out.push(', ');
      first = false;
      out.push(JSON.stringify(key), ': ');
      pythonic(inner, sortKeys, out);
    }
    out.push('}');
  } else {
    out.push(JSON.stringify(value));
  }
}

const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;

/** Whether the quote at `at` is escaped: preceded by an odd run of backslashes. */
function escapedQuote(src: Buffer, at: number): boolean {
  let backslashes = 0;
  for (let i = at - 1; i >= 0 && src[i] === BACKSLASH; i -= 1) backslashes += 1;
  return backslashes % 2 === 1;
}

/**
 * Python's separators put into compact ASCII JSON: a space after every `,` and `:` outside
 * strings. One pass over a Buffer: each string is found with a native indexOf and copied whole,
 * so only the structural bytes are looked at one by one (a 100 kB role-assignment list spent a
 * sixth of its request here when every byte was).
 */
function spaced(ascii: string): string {
  const src = Buffer.from(ascii, 'latin1');
  const n = src.length;
  // Every byte a separator at worst.
  const out = Buffer.allocUnsafe(n * 2);
  let o = 0;
  let i = 0;
  while (i < n) {
    const c = src[i]!;
    if (c === QUOTE) {
      let close = src.indexOf(QUOTE, i + 1);
      while (close !== -1 && escapedQuote(src, close)) close = src.indexOf(QUOTE, close + 1);
      // JSON.stringify closes every string; an unclosed one is copied as it is.
      const end = close === -1 ? n : close + 1;
      o += src.copy(out, o, i, end);
      i = end;
    } else {
      out[o++] = c;
      if (c === COMMA || c === COLON) out[o++] = SPACE;
      i += 1;
    }
  }
  return out.toString('latin1', 0, o);
}

/** `json.dumps(value)`: ", " / ": " separators, insertion order, ASCII only. */
export function pythonJson(value: unknown, options: { sortKeys?: boolean } = {}): string {
  // Escaped to ASCII first, so every character is one byte.
  if (!options.sortKeys) return spaced(asciiOnly(JSON.stringify(value) ?? 'null'));
  const out: string[] = [];
  pythonic(value, true, out);
  return asciiOnly(out.join(''));
}

function sortedCompact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCompact);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortedCompact((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

/** flask.jsonify as Keystone configures it for errors: compact, keys sorted, trailing newline. */
export function flaskJson(value: unknown): string {
  return `${asciiOnly(JSON.stringify(sortedCompact(value)))}\n`;
}

/**
 * jsonschema quotes the offending value (Python's repr); we describe it instead. A request body
 * can carry a password or a token anywhere a client misplaced it, and no response may echo one
 * back, so strings, arrays and objects are named by their type only.
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return 'A string';
  return Array.isArray(value) ? 'A list' : 'An object';
}

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

/**
 * Python's separators from JSON.stringify's indented form: with an indent, V8 already writes
 * `": "` after every key, and a newline plus indent after every `{`, `[` and `,` and before every
 * `}` and `]`. JSON escapes newlines inside strings, so every newline in that text is layout:
 * `,\n   ` becomes `, ` and any other newline with its indent goes. Two native replaces beat
 * adding the spaces to the compact form byte by byte in JavaScript: 455 against 570 µs of CPU for
 * a 100 kB role-assignment list, the same (2.3 µs) for a small body.
 */
function spacedStringify(value: unknown): string {
  const indented = JSON.stringify(value, null, 1);
  if (indented === undefined) return 'null';
  return indented.replace(/,\n */g, ', ').replace(/\n */g, '');
}

/** Printable ASCII without `"` and `\`: JSON writes such a string as it is. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `json.dumps(text)` for one string, for bodies written as text (same bytes as {@link pythonJson}). */
export function pythonJsonString(text: string): string {
  return PLAIN_STRING.test(text) ? `"${text}"` : pythonJson(text);
}

/** `json.dumps(value)`: ", " / ": " separators, insertion order, ASCII only. */
export function pythonJson(value: unknown, options: { sortKeys?: boolean } = {}): string {
  if (!options.sortKeys) return asciiOnly(spacedStringify(value));
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

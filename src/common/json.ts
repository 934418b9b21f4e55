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

/** `json.dumps(value)`: ", " / ": " separators, insertion order, ASCII only. */
export function pythonJson(value: unknown, options: { sortKeys?: boolean } = {}): string {
  const out: string[] = [];
  pythonic(value, options.sortKeys ?? false, out);
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

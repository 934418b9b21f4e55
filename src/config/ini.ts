/**
 * keystone.conf syntax, as oslo.config's iniparser reads it (oslo_config/iniparser.py), so that a
 * file behaves the same under Python Keystone and keystone-ts:
 * - `[section]` starts a section; `key = value` or `key: value` (whichever separator comes first);
 * - key and value are stripped, and one pair of matching surrounding quotes is removed from the value;
 * - a line starting with `#` or `;` is a comment. There are no inline comments:
 *   `expiration = 600 # ten minutes` has the value `600 # ten minutes`;
 * - a line starting with a space or tab continues the previous value (joined with a newline);
 *   a blank line ends it. An indented `#` line is therefore part of the value, as in oslo;
 * - the same key twice is two assignments; the consumer decides (last wins, or all for multi options).
 * Unlike oslo, which stops at the first syntax error, every bad line is reported.
 */

export interface IniAssignment {
  /** The section name as written (normalisation is the loader's business). */
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
}

export interface IniSectionHeader {
  readonly section: string;
  readonly line: number;
}

export interface IniSyntaxError {
  readonly line: number;
  readonly message: string;
}

export interface ParsedIni {
  readonly assignments: readonly IniAssignment[];
  readonly sections: readonly IniSectionHeader[];
  readonly errors: readonly IniSyntaxError[];
}

export function parseIni(text: string): ParsedIni {
  const assignments: IniAssignment[] = [];
  const sections: IniSectionHeader[] = [];
  const errors: IniSyntaxError[] = [];

  let section: string | undefined;
  // After a malformed header, keys belong to no section; say so rather than "before any section".
  let afterBadHeader = false;
  let pending: { key: string; lines: string[]; line: number } | undefined;
  const flush = (): void => {
    if (pending === undefined) return;
    if (section === undefined) {
      const where = afterBadHeader ? 'after an invalid section header' : 'before any [section]';
      errors.push({ line: pending.line, message: `assignment ${where}` });
    } else {
      assignments.push({ section, key: pending.key, value: pending.lines.join('\n'), line: pending.line });
    }
    pending = undefined;
  };

  // A byte-order mark would otherwise become part of the first section name.
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.trimEnd();
    if (line === '') {
      flush();
      return;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (pending === undefined) {
        errors.push({ line: lineNumber, message: 'unexpected continuation line (the line starts with whitespace)' });
      } else {
        pending.lines.push(line.trimStart());
      }
      return;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) {
        errors.push({ line: lineNumber, message: `invalid section header ${JSON.stringify(line)} (must end with ])` });
        // Keys that follow must not land in the previous section.
        section = undefined;
        afterBadHeader = true;
      } else if (line.length <= 2) {
        errors.push({ line: lineNumber, message: 'empty section name' });
        section = undefined;
        afterBadHeader = true;
      } else {
        section = line.slice(1, -1);
        sections.push({ section, line: lineNumber });
      }
      return;
    }
    if (line.startsWith('#') || line.startsWith(';')) return;

    const split = splitKeyValue(line);
    if (split === undefined) {
      errors.push({ line: lineNumber, message: `no "=" or ":" in ${JSON.stringify(line)}` });
    } else if (split.key === '') {
      errors.push({ line: lineNumber, message: `empty option name in ${JSON.stringify(line)}` });
    } else {
      pending = { key: split.key, lines: [split.value], line: lineNumber };
    }
  });
  flush();
  return { assignments, sections, errors };
}

function splitKeyValue(line: string): { key: string; value: string } | undefined {
  const colon = line.indexOf(':');
  const equal = line.indexOf('=');
  if (colon < 0 && equal < 0) return undefined;
  // The first separator wins, so `url = http://host` splits at "=" and `key: a=b` at ":".
  const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
  let value = line.slice(at + 1).trim();
  const first = value[0];
  if ((first === '"' || first === "'") && value.endsWith(first)) value = value.slice(1, -1);
  return { key: line.slice(0, at).trim(), value };
}

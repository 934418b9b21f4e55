/**
 * Python parsing rules that decide how Keystone packs an identifier, reproduced exactly.
 *
 * Keystone packs an ID as 16 raw bytes whenever CPython's `uuid.UUID(value)` accepts it (spec 1.3),
 * and names key files by whatever `int(filename)` accepts (spec 1.2). Both end in CPython's `int()`
 * string parser, which is more liberal than it looks: surrounding whitespace, a `+` sign,
 * single `_` between digits, a `0x` prefix in base 16, and any Unicode decimal digit
 * (Arabic-Indic, fullwidth, ...). An ID that one side packs as a UUID and the other as a string
 * would decode differently, so the rules below follow CPython 3.11 (Unicode 14), the Python of
 * Debian's Keystone, character for character.
 */

/** Code points >= 127 for which CPython's `str.isspace()` is true (Unicode 14). */
const PY_UNICODE_SPACES = new Set([
  0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/**
 * The digit ZERO of every Unicode decimal-digit run outside ASCII (CPython 3.11, Unicode 14).
 * Unicode guarantees decimal digits come in contiguous runs 0..9, so a run is its zero + 0..9.
 */
const PY_DECIMAL_ZEROS: readonly number[] = [
  0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50,
  0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40,
  0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066,
  0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950,
  0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6,
  0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

function unicodeDecimalValue(codePoint: number): number {
  for (const zero of PY_DECIMAL_ZEROS) {
    if (codePoint >= zero && codePoint <= zero + 9) return codePoint - zero;
  }
  return -1;
}

/**
 * CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII`: ASCII stays as is, Unicode whitespace
 * becomes ' ', a Unicode decimal digit becomes its ASCII digit, anything else ends the string
 * with '?' (which the parser then rejects).
 */
function toPythonAscii(text: string): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0) as number;
    if (cp < 127) {
      out += char;
    } else if (PY_UNICODE_SPACES.has(cp)) {
      out += ' ';
    } else {
      const digit = unicodeDecimalValue(cp);
      if (digit < 0) return `${out}?`;
      out += String.fromCharCode(0x30 + digit);
    }
  }
  return out;
}

/** ASCII whitespace as CPython's `Py_ISSPACE` sees it (not \x1c-\x1f, unlike `str.isspace`). */
const ASCII_SPACE = '[ \\t\\n\\v\\f\\r]*';
/**
 * CPython's `PyLong_FromString` grammar after the transform: optional whitespace, sign, base
 * prefix (base 16 only here) followed by at most one `_`, digits with single `_` separators,
 * optional whitespace.
 */
const PY_INT_BASE10 = new RegExp(`^${ASCII_SPACE}([+-]?)([0-9](?:_?[0-9])*)${ASCII_SPACE}$`);
const PY_INT_BASE16 = new RegExp(
  `^${ASCII_SPACE}([+-]?)(?:0[xX]_?)?([0-9a-fA-F](?:_?[0-9a-fA-F])*)${ASCII_SPACE}$`,
);

/**
 * Python's `int(text, base)` for a `str`, for bases 10 and 16; `null` where Python raises
 * ValueError.
 */
export function parsePythonInt(text: string, base: 10 | 16): bigint | null {
  const match = (base === 10 ? PY_INT_BASE10 : PY_INT_BASE16).exec(toPythonAscii(text));
  if (match === null) return null;
  const digits = (match[2] as string).replaceAll('_', '');
  const magnitude = BigInt(base === 10 ? digits : `0x${digits}`);
  return match[1] === '-' ? -magnitude : magnitude;
}

const CANONICAL_HEX32 = /^[0-9a-f]{32}$/;

/**
 * The 16 bytes of `uuid.UUID(text)`, or `null` where Python raises ValueError: strip every
 * `urn:` then every `uuid:`, strip `{`/`}` from both ends, drop every `-`, then require exactly 32
 * characters (code points) that `int(…, 16)` accepts.
 */
export function pythonUuidBytes(text: string): Buffer | null {
  // Fast path: Keystone's own IDs are uuid4().hex.
  if (text.length === 32 && CANONICAL_HEX32.test(text)) return Buffer.from(text, 'hex');
  const hex = stripBraces(text.replaceAll('urn:', '').replaceAll('uuid:', '')).replaceAll('-', '');
  let codePoints = 0;
  for (const _ of hex) codePoints += 1;
  if (codePoints !== 32) return null;
  const value = parsePythonInt(hex, 16);
  // A '-' sign cannot survive the hyphen removal; 32 hex digits always fit in 128 bits.
  if (value === null || value < 0n) return null;
  return Buffer.from(value.toString(16).padStart(32, '0'), 'hex');
}

/** Python's `str.strip('{}')`. */
function stripBraces(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === '{' || text[start] === '}')) start += 1;
  while (end > start && (text[end - 1] === '{' || text[end - 1] === '}')) end -= 1;
  return text.slice(start, end);
}

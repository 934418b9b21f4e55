import assert from 'node:assert/strict';
import { parseIni } from '../../src/config/ini.js';

/** The assignments as `[section] key=value@line` strings, the easiest shape to compare. */
function assignments(text: string): string[] {
  return parseIni(text).assignments.map((a) => `[${a.section}] ${a.key}=${a.value}@${a.line}`);
}

describe('config/ini: keystone.conf syntax as oslo.config reads it', () => {
  it('reads key = value and key: value, stripping key and value', () => {
    assert.deepEqual(assignments('[token]\nexpiration = 600\n  \nprovider:fernet\ncaching   =   true   \n'), [
      '[token] expiration=600@2',
      '[token] provider=fernet@4',
      '[token] caching=true@5',
    ]);
  });

  it('splits at the first separator, so URLs and colons in values survive', () => {
    assert.deepEqual(assignments('[DEFAULT]\npublic_endpoint = http://host:5000/v3\nx: a=b\n'), [
      '[DEFAULT] public_endpoint=http://host:5000/v3@2',
      '[DEFAULT] x=a=b@3',
    ]);
  });

  it('skips # and ; comment lines; there are no inline comments', () => {
    const text = '# top\n[token]\n; semicolon\n#expiration = 1\nexpiration = 600 # ten minutes\n';
    assert.deepEqual(assignments(text), ['[token] expiration=600 # ten minutes@5']);
  });

  it('removes one pair of matching quotes around a value, and only a matching pair', () => {
    const text = `[s]\na = "quoted"\nb = 'single'\nc = "mismatched'\nd = ""\ne = "a" "b"\n`;
    assert.deepEqual(assignments(text), ['[s] a=quoted@2', "[s] b=single@3", `[s] c="mismatched'@4`, '[s] d=@5', '[s] e=a" "b@6']);
  });

  it('appends indented continuation lines with a newline, until a blank line', () => {
    const text = '[auth]\nmethods = password,\n    token,\n\tapplication_credential\n\nother = 1\n';
    assert.deepEqual(assignments(text), ['[auth] methods=password,\ntoken,\napplication_credential@2', '[auth] other=1@6']);
  });

  it('treats an indented # line as part of the value, as oslo does', () => {
    assert.deepEqual(assignments('[s]\na = 1\n  # not a comment\n'), ['[s] a=1\n# not a comment@2']);
  });

  it('keeps every assignment of a repeated key, in order (the loader decides which wins)', () => {
    assert.deepEqual(assignments('[s]\na = 1\na = 2\n[t]\n[s]\na = 3\n'), ['[s] a=1@2', '[s] a=2@3', '[s] a=3@6']);
    assert.deepEqual(
      parseIni('[s]\n[t]\n[s]\n').sections.map((s) => `${s.section}@${s.line}`),
      ['s@1', 't@2', 's@3'],
    );
  });

  it('keeps section names as written (normalisation is the loader’s job)', () => {
    assert.deepEqual(assignments('[Token]\na = 1\n'), ['[Token] a=1@2']);
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    assert.deepEqual(assignments('\uFEFF[token]\r\nexpiration = 600\r\n\r\nprovider = jws\r\n'), [
      '[token] expiration=600@2',
      '[token] provider=jws@4',
    ]);
  });

  it('reports every syntax error with its line, and keeps parsing', () => {
    const text = [
      'orphan = 1', // 1: before any section
      '[token', // 2: no closing bracket
      'lost = 2', // 3: not in any section after a bad header
      '[]', // 4: empty name
      '[ok]',
      'no separator here', // 6
      '= value', // 7: empty key
      '',
      '   continued', // 9: continuation with nothing to continue
      'good = yes',
    ].join('\n');
    const parsed = parseIni(text);
    assert.deepEqual(
      parsed.errors.map((e) => e.line),
      [1, 2, 3, 4, 6, 7, 9],
    );
    assert.match(parsed.errors[0]?.message ?? '', /before any \[section\]/);
    assert.match(parsed.errors[1]?.message ?? '', /must end with \]/);
    assert.match(parsed.errors[2]?.message ?? '', /after an invalid section header/);
    assert.match(parsed.errors[3]?.message ?? '', /empty section name/);
    assert.match(parsed.errors[4]?.message ?? '', /no "=" or ":"/);
    assert.match(parsed.errors[5]?.message ?? '', /empty option name/);
    assert.match(parsed.errors[6]?.message ?? '', /unexpected continuation/);
    assert.deepEqual(
      parsed.assignments.map((a) => `${a.section}.${a.key}`),
      ['ok.good'],
    );
  });
});

import assert from 'node:assert/strict';
import { parsePythonInt, pythonUuidBytes } from '../../src/token/python-compat.js';
import { readJson } from './fixtures.js';

interface UuidCases {
  cases: { input: string; uuid_hex: string | null }[];
}

describe('token/python-compat pythonUuidBytes', () => {
  const { cases } = readJson<UuidCases>('python-uuid-cases.json');

  it('agrees with CPython uuid.UUID() on every recorded case', () => {
    assert.ok(cases.length > 40);
    for (const { input, uuid_hex: expected } of cases) {
      const actual = pythonUuidBytes(input);
      assert.equal(actual === null ? null : actual.toString('hex'), expected, JSON.stringify(input));
    }
  });

  it('accepts the forms spec 1.3 lists and returns the same 16 bytes', () => {
    const hex = '3f2504e04f8911d39a0c0305e82c3301';
    for (const form of [
      hex,
      hex.toUpperCase(),
      '3F2504E0-4F89-11D3-9A0C-0305E82C3301',
      '{3f2504e0-4f89-11d3-9a0c-0305e82c3301}',
      'urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    ]) {
      assert.equal(pythonUuidBytes(form)?.toString('hex'), hex, form);
    }
  });

  it('includes the int() quirks: sign, whitespace, underscores, 0x, Unicode digits', () => {
    assert.equal(pythonUuidBytes('+3f2504e04f8911d39a0c0305e82c330')?.toString('hex'), '03f2504e04f8911d39a0c0305e82c330');
    assert.equal(pythonUuidBytes(' 3f2504e04f8911d39a0c0305e82c330')?.toString('hex'), '03f2504e04f8911d39a0c0305e82c330');
    assert.equal(pythonUuidBytes('3f2504e0_4f8911d39a0c0305e82c330')?.toString('hex'), '03f2504e04f8911d39a0c0305e82c330');
    assert.equal(pythonUuidBytes('0x3f2504e04f8911d39a0c0305e82c33')?.toString('hex'), '003f2504e04f8911d39a0c0305e82c33');
    assert.equal(pythonUuidBytes('٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠١')?.toString('hex'), '01234567890123456789012345678901');
  });

  it('refuses non-UUIDs', () => {
    for (const value of ['default', 'admin-ldap-user', '', '0123456789abcdef0123456789abcde', '0123456789abcdef0123456789abcdeg']) {
      assert.equal(pythonUuidBytes(value), null, value);
    }
  });
});

describe('token/python-compat parsePythonInt', () => {
  it('reads key file names as Python int() does', () => {
    assert.equal(parsePythonInt('0', 10), 0n);
    assert.equal(parsePythonInt('12', 10), 12n);
    assert.equal(parsePythonInt('007', 10), 7n);
    assert.equal(parsePythonInt(' +1 ', 10), 1n);
    assert.equal(parsePythonInt('-3', 10), -3n);
    assert.equal(parsePythonInt('1_000', 10), 1000n);
    assert.equal(parsePythonInt('١٢', 10), 12n);
    for (const name of ['0.tmp', '', ' ', '1__0', '_1', '1_', '0x1', '1e3', 'a', '1.0', '+-1']) {
      assert.equal(parsePythonInt(name, 10), null, JSON.stringify(name));
    }
  });

  it('reads base 16 with an optional 0x prefix', () => {
    assert.equal(parsePythonInt('ff', 16), 255n);
    assert.equal(parsePythonInt('0xFF', 16), 255n);
    assert.equal(parsePythonInt('0x_f', 16), 15n);
    assert.equal(parsePythonInt('0x', 16), null);
    assert.equal(parsePythonInt('0x__f', 16), null);
  });
});

import assert from 'node:assert/strict';
import { applyListHints, attrAsBoolean, type ListFilter } from '../../src/common/list-hints.js';

const equals = (name: string, value: string): ListFilter => ({ name, value, comparator: 'equals', caseSensitive: true });

describe('common/list-hints: Keystone’s in-memory list filters', () => {
  const records = [
    { id: 'a', name: 'Alpha', enabled: true, count: 1 },
    { id: 'b', name: 'beta', enabled: false, count: 2 },
  ];

  it('reads booleans as attr_as_boolean: 0, f, false, n, no, off (any case, trimmed) are false', () => {
    for (const value of ['0', 'f', 'F', 'false', 'n', 'No', ' off ']) assert.equal(attrAsBoolean(value), false, value);
    for (const value of ['1', 't', 'true', 'yes', 'on', '', 'anything']) assert.equal(attrAsBoolean(value), true, value);
    assert.deepEqual(applyListHints(records, [equals('enabled', 'f')], null).records.map((r) => r.id), ['b']);
    assert.deepEqual(applyListHints(records, [equals('enabled', 'n')], null).records.map((r) => r.id), ['b']);
    assert.deepEqual(applyListHints(records, [equals('enabled', 'True')], null).records.map((r) => r.id), ['a']);
  });

  it('compares strings case-sensitively or not, never matches other types with string comparators, and cuts at the limit', () => {
    const contains = (value: string, caseSensitive: boolean): ListFilter => ({ name: 'name', value, comparator: 'contains', caseSensitive });
    assert.deepEqual(applyListHints(records, [contains('ALP', false)], null).records.map((r) => r.id), ['a']);
    assert.deepEqual(applyListHints(records, [contains('ALP', true)], null).records, []);
    assert.deepEqual(applyListHints(records, [{ name: 'count', value: '1', comparator: 'startswith', caseSensitive: true }], null).records, []);
    assert.deepEqual(applyListHints(records, [equals('count', '1')], null).records, [], 'a number never equals its string');
    assert.deepEqual(applyListHints(records, [], 1), { records: [records[0]], truncated: true });
    assert.deepEqual(applyListHints(records, [], 2), { records, truncated: false });
  });
});

import assert from 'node:assert/strict';
import {
  dateFromEpochMicros,
  epochMicros,
  formatTimestamp,
  normalizeParameters,
  parseArray,
  parseInt8,
  parseTimestamp,
} from '../../src/db/values.js';

describe('db value normalisation', () => {
  it('parses naive timestamps as UTC with microseconds', () => {
    const date = parseTimestamp('2026-11-22 18:21:31.135872');
    assert.equal(date.toISOString(), '2026-11-22T18:21:31.135Z');
    assert.equal(epochMicros(date), 1795371691135872);
    assert.equal(epochMicros(parseTimestamp('2026-11-22 18:21:31')), 1795371691000000);
    assert.equal(epochMicros(parseTimestamp('2026-11-22 18:21:31.1')), 1795371691100000);
  });

  it('applies timestamptz offsets, including minutes and seconds', () => {
    assert.equal(parseTimestamp('2026-01-01 05:30:00+05:30').toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(parseTimestamp('2026-01-01 00:00:00-03').toISOString(), '2026-01-01T03:00:00.000Z');
    assert.equal(parseTimestamp('1900-01-01 00:00:00+00:09:21').toISOString(), '1899-12-31T23:50:39.000Z');
  });

  it('keeps years below 100 and leap days literal; maps infinity; refuses BC', () => {
    assert.equal(parseTimestamp('0044-03-15 12:00:00').getUTCFullYear(), 44);
    assert.equal(parseTimestamp('2024-02-29 00:00:00').toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseTimestamp('infinity').getTime(), 8.64e15);
    assert.equal(parseTimestamp('-infinity').getTime(), -8.64e15);
    assert.ok(Number.isNaN(parseTimestamp('0044-03-15 12:00:00 BC').getTime()));
  });

  it('formats Date parameters as UTC with microseconds', () => {
    assert.equal(formatTimestamp(new Date('2030-01-02T03:04:05.678Z')), '2030-01-02T03:04:05.678000Z');
    assert.equal(formatTimestamp(dateFromEpochMicros(1795371691135872)), '2026-11-22T18:21:31.135872Z');
    assert.equal(formatTimestamp(dateFromEpochMicros(-1)), '1969-12-31T23:59:59.999999Z');
    assert.throws(() => formatTimestamp(new Date(Number.NaN)), /Invalid Date/);
    assert.deepEqual(normalizeParameters([1, 'x', null, new Date(0), [new Date(0)]]), [
      1,
      'x',
      null,
      '1970-01-01T00:00:00.000000Z',
      ['1970-01-01T00:00:00.000000Z'],
    ]);
  });

  it('refuses int8 values beyond 2^53', () => {
    assert.equal(parseInt8('9007199254740991'), 9007199254740991);
    assert.equal(parseInt8('-42'), -42);
    assert.throws(() => parseInt8('9007199254740993'), RangeError);
  });

  it('parses one-dimensional array text with quotes, escapes and NULL', () => {
    assert.deepEqual(parseArray('{}', String), []);
    assert.deepEqual(parseArray('{1,NULL,3}', Number), [1, null, 3]);
    assert.deepEqual(parseArray('{"a b","NULL","q\\"uote",c}', String), ['a b', 'NULL', 'q"uote', 'c']);
  });
});

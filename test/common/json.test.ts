import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { flaskJson, pythonJson } from '../../src/common/json.js';
import { seededRandom } from '../support/random.js';

const STRINGS = ['', 'a,b', 'k: v', 'quote " inside', 'back\\slash', 'both \\", :', 'é ü ☃', '\u0000\u001f', '😀', ',', ':', '"', '\\',
  // Backslash runs before a quote: the string ends at the first quote after an even run.
  'ends \\', '\\\\', 'run \\\\" , :', '\\":\\,'];

function randomValue(rand: () => number, depth: number): unknown {
  const pick = rand();
  if (depth > 3 || pick < 0.3) return STRINGS[Math.floor(rand() * STRINGS.length)];
  if (pick < 0.38) return Math.floor(rand() * 2e6) - 1e6;
  if (pick < 0.42) return rand() * 100;
  if (pick < 0.47) return rand() < 0.5;
  if (pick < 0.5) return null;
  if (pick < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i -= 1) obj[String(STRINGS[Math.floor(rand() * STRINGS.length)])] = randomValue(rand, depth + 1);
  return obj;
}

describe('common/json: Python-compatible rendering', () => {
  it("renders what Python's json.dumps renders, byte for byte", () => {
    const rand = seededRandom(42);
    const values = Array.from({ length: 300 }, () => randomValue(rand, 0));
    const ours = values.map((v) => pythonJson(v));
    // Python reads each value from compact JSON and dumps it with its defaults.
    const script = 'import json,sys\nfor line in sys.stdin: print(json.dumps(json.loads(line)))';
    const theirs = execFileSync('/usr/bin/python3', ['-c', script], { input: values.map((v) => JSON.stringify(v)).join('\n') + '\n', encoding: 'utf8' }).trimEnd().split('\n');
    // Floats print differently in the two languages (repr); compare those cases by value only.
    for (let i = 0; i < values.length; i += 1) {
      if (/\d\.\d/.test(theirs[i]!)) assert.deepEqual(JSON.parse(ours[i]!), JSON.parse(theirs[i]!));
      else assert.equal(ours[i], theirs[i], JSON.stringify(values[i]));
    }
  });

  it('keeps insertion order, drops undefined members, and sorts keys when asked', () => {
    assert.equal(pythonJson({ b: 1, a: [1, 'x,y'], c: undefined }), '{"b": 1, "a": [1, "x,y"]}');
    assert.equal(pythonJson({ b: 1, a: { d: 2, c: 3 } }, { sortKeys: true }), '{"a": {"c": 3, "d": 2}, "b": 1}');
    assert.equal(flaskJson({ b: 'é', a: 1 }), '{"a":1,"b":"\\u00e9"}\n');
  });
});

import { tensor } from '@catwalk/client';
import * as wire from '@catwalk/client/wire';
import { exampleToJson } from '../src/examples';
import { toTensor } from '../src/tensor-like';

describe("TF Serving's JSON dialect", () => {
  test('bare NaN, Infinity and -Infinity parse as numbers, but not inside strings', () => {
    const parsed = wire.parseJson('{"outputs": [NaN, Infinity, -Infinity, 1.0], "s": "NaN Infinity"}') as {
      outputs: number[];
      s: string;
    };
    expect(parsed.outputs).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1]);
    expect(parsed.s).toBe('NaN Infinity');
    expect(() => wire.parseJson('{"a": Nope}')).toThrow();
  });

  test('integers beyond 2^53 stay exact (as bigint); floats and strings are untouched', () => {
    expect(
      wire.parseJson(
        '{"outputs": [9007199254740993, -9223372036854775808, 1.5, 12], "id": "12345678901234567"}',
      ),
    ).toEqual({ outputs: [9007199254740993n, -9223372036854775808n, 1.5, 12], id: '12345678901234567' });
    expect(wire.parseJson('[1.0000000000000002, 1e300]')).toEqual([1.0000000000000002, 1e300]);
  });

  test('floats keep a decimal point; integers do not get one added', () => {
    expect([2, 2.5, -0, 1e21, Number.NaN, -Infinity].map(wire.formatFloat)).toEqual([
      '2.0',
      '2.5',
      '0.0',
      '1e+21',
      'NaN',
      '-Infinity',
    ]);
  });

  test('tensors become nested lists; bytes become {"b64": ...}; int64 keeps every digit', () => {
    expect(wire.tensorToJson(tensor(new Float32Array([1, 2, 3, 4]), [2, 2]), 'x')).toBe(
      '[[1.0,2.0],[3.0,4.0]]',
    );
    expect(wire.tensorToJson(tensor([new Uint8Array([1, 2])]), 'x_bytes')).toBe('[{"b64":"AQI="}]');
    expect(wire.tensorToJson(tensor(new BigInt64Array([9007199254740993n])), 'x')).toBe('[9007199254740993]');
    expect(wire.tensorToJson(tensor(new Int32Array([7]), []), 'x')).toBe('7');
    expect(wire.tensorRowToJson(tensor(new Int32Array([1, 2, 3, 4]), [2, 2]), 'x', 1)).toBe('[3,4]');
  });

  test('compact float style: JSON.stringify numbers, same nesting, NaN still a bare token', () => {
    const t = tensor(new Float32Array([1, 2.5, -0.1, 3e38, 4, 5]), [3, 2, 1]);
    const text = wire.tensorToJson(t, 'x', 'compact');
    expect(text).toBe(`[[[1],[2.5]],[[${Math.fround(-0.1)}],[${Math.fround(3e38)}]],[[4],[5]]]`);
    expect(JSON.parse(text).flat(3)).toEqual(Array.from(t.data as Float32Array));
    expect(wire.tensorRowToJson(t, 'x', 2, 'compact')).toBe('[[4],[5]]');
    expect(wire.tensorToJson(tensor(new Float64Array([1, Number.NaN]), [1, 2]), 'x', 'compact')).toBe(
      '[[1,NaN]]',
    );
    // Large tensors go through JSON.stringify and are nested again: same values, same nesting.
    const big = tensor(
      Float32Array.from({ length: 20_000 }, (_, i) => i / 3),
      [10_000, 2],
    );
    const parsed = JSON.parse(wire.tensorToJson(big, 'x', 'compact'));
    expect(parsed).toHaveLength(10_000);
    expect(parsed.flat()).toEqual(Array.from(big.data as Float32Array));
    expect(wire.tensorToJson(tensor(new Float32Array(0), [0, 3]), 'x', 'compact')).toBe('[]');
  });

  test('JSON values become tensors with the signature dtype, or inferred', () => {
    expect(wire.jsonToTensor([[1, 2]], 'float32', 'y')).toEqual(tensor(new Float32Array([1, 2]), [1, 2]));
    expect(wire.jsonToTensor([true], undefined, 'y')).toEqual(tensor([true]));
    expect(wire.jsonToTensor([{ b64: 'AQI=' }], 'string', 'y_bytes').data).toEqual([new Uint8Array([1, 2])]);
    expect(() => wire.jsonToTensor([[1], [2, 3]], 'float32', 'y')).toThrow(/not a rectangular nested list/);
  });

  test('outputs and inputs are read by one converter: an integer dtype refuses fractions on both sides', () => {
    // A REST answer of 1.5 for an int32 output is not TF Serving's protocol: never truncate it quietly.
    expect(() => wire.jsonToTensor([1.5], 'int32', 'y')).toThrow('output "y": int32 needs integers, got 1.5');
    expect(() =>
      toTensor([1.5], { dtype: 'int32', tfDtype: 'DT_INT32', shape: [-1], tensorName: 'x:0' }, 'x'),
    ).toThrow('input "x": int32 needs integers, got 1.5');
    expect(() => wire.jsonToTensor([1n << 64n], 'int64', 'y')).toThrow(
      'output "y": int64 cannot hold 18446744073709551616',
    );
    // Byte strings may come as {"b64": ...} in an input as in an output.
    expect(toTensor([{ b64: 'AQI=' }] as never, undefined, 'x_bytes').data).toEqual([new Uint8Array([1, 2])]);
  });

  test('the JSON reader keeps integers apart from floats when asked (the fake reads requests so)', () => {
    expect(wire.parseJson('{"a":[1,2.0,3e0,-4]}', { integers: 'bigint' })).toEqual({ a: [1n, 2, 3, -4n] });
    expect(wire.parseJson('{"a":[1,2.0]}')).toEqual({ a: [1, 2] });
    expect(wire.parseJson('[NaN,-Infinity,"NaN"]', { integers: 'bigint' })).toEqual([
      Number.NaN,
      -Infinity,
      'NaN',
    ]);
  });

  test('classify/regress examples write floats as floats, bigints as ints, strings and bytes', () => {
    expect(exampleToJson({ x: 2, n: 3n, s: 'a', b: new Uint8Array([255]), l: [1, 2.5] })).toBe(
      '{"x":2.0,"n":3,"s":"a","b":{"b64":"/w=="},"l":[1.0,2.5]}',
    );
    expect(() => exampleToJson({ x: [1, 'a'] })).toThrow(
      'feature "x" mixes float and bytes values; a feature holds one kind',
    );
  });
});

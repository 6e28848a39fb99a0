import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  formatTextProto,
  message,
  type PlainMessage,
  parseTextProto,
  type TextProtoMessage,
  type TextProtoScalar,
  TextProtoSyntaxError,
  textProtoToPlain,
} from '../src/textproto';

const TFSERVING = path.resolve(__dirname, '../../../../shared/testdata/tfserving');
const readTestdata = (name: string): string => readFileSync(path.join(TFSERVING, name), 'utf8');

// biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder that is literal text in TF Serving's file
const TWO_DIR = '${TEST_HALF_PLUS_TWO_DIR}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: likewise
const THREE_DIR = '${TEST_HALF_PLUS_THREE_DIR}';

const plain = (text: string): PlainMessage => textProtoToPlain(parseTextProto(text));

/** The error parseTextProto throws for `text`, failing the test if it does not throw one. */
function syntaxError(text: string, source?: string): TextProtoSyntaxError {
  try {
    parseTextProto(text, source);
  } catch (error) {
    if (error instanceof TextProtoSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

describe('parseTextProto on TF Serving test data', () => {
  it('reads good_model_config.txt', () => {
    const config = plain(readTestdata('good_model_config.txt'));
    const list = config.model_config_list?.[0] as PlainMessage;
    expect(Object.keys(config)).toEqual(['model_config_list']);
    expect(list.config).toEqual([
      { name: ['half_plus_two'], base_path: [TWO_DIR], model_platform: ['tensorflow'] },
      { name: ['half_plus_three'], base_path: [THREE_DIR], model_platform: ['tensorflow'] },
    ]);
  });

  it('records where each field starts', () => {
    const root = parseTextProto(readTestdata('good_model_config.txt'));
    const list = root.fields[0]!;
    expect(list).toMatchObject({ name: 'model_config_list', line: 1, column: 1 });
    const configs = (list.value as TextProtoMessage).fields;
    expect(configs.map((f) => [f.name, f.line, f.column])).toEqual([
      ['config', 2, 3],
      ['config', 7, 3],
    ]);
    expect((configs[1]!.value as TextProtoMessage).fields[2]).toMatchObject({ line: 10, column: 5 });
  });

  it('rejects bad_model_config.txt at the word after the field name', () => {
    const error = syntaxError(readTestdata('bad_model_config.txt'));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TextProtoSyntaxError');
    expect(error.line).toBe(1);
    expect(error.column).toBe(12);
    expect(error.source).toBeUndefined();
    expect(error.message).toBe(
      "line 1, column 12: expected ':' or '{' after field name 'improperly', found 'formatted'",
    );
  });

  it('names the source file in the error when given one', () => {
    const error = syntaxError(readTestdata('bad_model_config.txt'), 'bad_model_config.txt');
    expect(error.source).toBe('bad_model_config.txt');
    expect(error.message).toMatch(/^bad_model_config\.txt: line 1, column 12: /);
  });

  it('reads batching_config.txt', () => {
    expect(plain(readTestdata('batching_config.txt'))).toEqual({
      max_batch_size: [{ value: [128] }],
      batch_timeout_micros: [{ value: [0] }],
      max_enqueued_batches: [{ value: [1000000] }],
      num_batch_threads: [{ value: [8] }],
    });
  });

  it('reads monitoring_config.txt', () => {
    expect(plain(readTestdata('monitoring_config.txt'))).toEqual({
      prometheus_config: [{ enable: [true], path: ['/monitoring/prometheus/metrics'] }],
    });
  });

  it("gives TF Serving's own model config and our colon-less rendering of it the same structure", () => {
    const ours = [
      'model_config_list {',
      '  config {',
      '    name: "half_plus_two"',
      `    base_path: "${TWO_DIR}"`,
      '    model_platform: "tensorflow"',
      '  }',
      '  config {',
      '    name: "half_plus_three"',
      `    base_path: "${THREE_DIR}"`,
      '    model_platform: "tensorflow"',
      '  }',
      '}',
    ].join('\n');
    expect(plain(ours)).toEqual(plain(readTestdata('good_model_config.txt')));
  });

  it.each(['good_model_config.txt', 'batching_config.txt', 'monitoring_config.txt'])(
    'formats %s back to the same structure',
    (file) => {
      const original = parseTextProto(readTestdata(file));
      expect(plain(formatTextProto(original))).toEqual(textProtoToPlain(original));
    },
  );
});

describe('parseTextProto syntax', () => {
  it('accepts every way of opening a message', () => {
    const expected = { m: [{ a: [1] }] };
    expect(plain('m { a: 1 }')).toEqual(expected);
    expect(plain('m: { a: 1 }')).toEqual(expected);
    expect(plain('m < a: 1 >')).toEqual(expected);
    expect(plain('m: < a: 1 >')).toEqual(expected);
    expect(plain('m{a:1}')).toEqual(expected);
  });

  it('treats , and ; after a field as optional separators', () => {
    expect(plain('a: 1, b: 2; c { d: 3, }, e: 4;')).toEqual({ a: [1], b: [2], c: [{ d: [3] }], e: [4] });
    expect(plain('a: 1 b: 2')).toEqual({ a: [1], b: [2] });
  });

  it('skips # comments, but not inside strings', () => {
    const text = '# header\na: 1 # trailing\n# b: 2\nc: "# not a comment" # done';
    expect(plain(text)).toEqual({ a: [1], c: ['# not a comment'] });
    expect(plain('# only a comment')).toEqual({});
  });

  it('allows whitespace and newlines anywhere between tokens, and CRLF line ends', () => {
    expect(plain('\n\n  a\n:\n\t1\r\n  m\n{\n b \n : \n "x"\n}\n')).toEqual({ a: [1], m: [{ b: ['x'] }] });
    expect(plain('')).toEqual({});
    expect(plain('   \n\t ')).toEqual({});
  });

  it('ignores a byte order mark', () => {
    expect(plain('\uFEFFa: 1')).toEqual({ a: [1] });
  });

  it('reads double- and single-quoted strings', () => {
    expect(plain(`a: "double" b: 'single' c: "it's" d: 'say "hi"' e: ""`)).toEqual({
      a: ['double'],
      b: ['single'],
      c: ["it's"],
      d: ['say "hi"'],
      e: [''],
    });
  });

  it.each([
    [String.raw`"\n"`, '\n'],
    [String.raw`"\t"`, '\t'],
    [String.raw`"\r"`, '\r'],
    [String.raw`"\\"`, '\\'],
    [String.raw`"\""`, '"'],
    [String.raw`'\''`, "'"],
    [String.raw`"\'"`, "'"],
    [String.raw`"\a\b\f\v\?"`, '\x07\b\f\v?'],
    [String.raw`"\x41\x4a\x4B"`, 'AJK'],
    [String.raw`"\x9z"`, '\tz'],
    [String.raw`"\101\60\0"`, 'A0\0'],
    [String.raw`"\1011"`, 'A1'],
    [String.raw`"caf\303\251"`, 'café'],
    [String.raw`"caf\xc3\xa9"`, 'café'],
    [String.raw`"\u00e9\U0001F600"`, 'é😀'],
    ['"caf\u00e9 😀 日本"', 'café 😀 日本'],
  ])('decodes the escapes in %s', (literal, expected) => {
    expect(plain(`s: ${literal}`)).toEqual({ s: [expected] });
  });

  it('concatenates adjacent string literals, even across lines and quote styles', () => {
    expect(plain(`s: "a" 'b'\n  "c" # comment\n "d"`)).toEqual({ s: ['abcd'] });
    // A UTF-8 sequence split over two literals is still one character.
    expect(plain(String.raw`s: "\303" "\251"`)).toEqual({ s: ['é'] });
  });

  it.each<[string, number]>([
    ['0', 0],
    ['42', 42],
    ['-42', -42],
    ['0x1F', 31],
    ['0X1f', 31],
    ['-0x10', -16],
    ['017', 15],
    ['1.5', 1.5],
    ['-1.5', -1.5],
    ['.5', 0.5],
    ['1.', 1],
    ['1e6', 1e6],
    ['1E6', 1e6],
    ['1.5e-3', 1.5e-3],
    ['2.5e+2', 250],
    ['1.5f', 1.5],
    ['2F', 2],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['-9007199254740991', -Number.MAX_SAFE_INTEGER],
    ['inf', Number.POSITIVE_INFINITY],
    ['-inf', Number.NEGATIVE_INFINITY],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-INFINITY', Number.NEGATIVE_INFINITY],
    ['nan', Number.NaN],
    ['NaN', Number.NaN],
  ])('reads the number %s', (literal, expected) => {
    expect(parseTextProto(`n: ${literal}`).fields[0]?.value).toBe(expected);
  });

  it('keeps the sign of negative zero', () => {
    expect(parseTextProto('a: -0 b: -0.0').fields.map((f) => f.value)).toEqual([-0, -0]);
  });

  it('reads integers beyond Number.MAX_SAFE_INTEGER as bigint, and textProtoToPlain as strings', () => {
    const msg = parseTextProto('a: 9007199254740993 b: -18446744073709551615 c: 0xFFFFFFFFFFFFFFFF');
    expect(msg.fields.map((f) => f.value)).toEqual([
      9007199254740993n,
      -18446744073709551615n,
      18446744073709551615n,
    ]);
    expect(textProtoToPlain(msg)).toEqual({
      a: ['9007199254740993'],
      b: ['-18446744073709551615'],
      c: ['18446744073709551615'],
    });
  });

  it('reads true/false/True/False/t/f as booleans', () => {
    expect(plain('a: true b: false c: True d: False e: t f: f')).toEqual({
      a: [true],
      b: [false],
      c: [true],
      d: [false],
      e: [true],
      f: [false],
    });
  });

  it('reads other identifiers as enums', () => {
    const msg = parseTextProto('state: AVAILABLE other: TRUE_ISH lower: snake_case');
    expect(msg.fields.map((f) => f.value)).toEqual([
      { enum: 'AVAILABLE' },
      { enum: 'TRUE_ISH' },
      { enum: 'snake_case' },
    ]);
    expect(textProtoToPlain(msg)).toEqual({
      state: ['AVAILABLE'],
      other: ['TRUE_ISH'],
      lower: ['snake_case'],
    });
  });

  it('expands scalar lists into repeated fields', () => {
    expect(plain('versions: [1, 2, 3] versions: 4')).toEqual({ versions: [1, 2, 3, 4] });
    expect(plain('names: ["a", \'b\' "c", X]')).toEqual({ names: ['a', 'bc', 'X'] });
    expect(plain('v: [\n  1, # one\n  2\n]')).toEqual({ v: [1, 2] });
  });

  it('expands message lists, with or without a colon', () => {
    const expected = { config: [{ name: ['a'] }, { name: ['b'] }] };
    expect(plain('config: [{ name: "a" }, { name: "b" }]')).toEqual(expected);
    expect(plain('config [{ name: "a" }, < name: "b" >]')).toEqual(expected);
  });

  it('reads an empty list as no fields at all', () => {
    expect(parseTextProto('a: [] b: [ ] c [] d: 1').fields.map((f) => f.name)).toEqual(['d']);
  });

  it('places each list element at its own position', () => {
    const fields = parseTextProto('v: [1,\n  22]').fields;
    expect(fields.map((f) => [f.line, f.column])).toEqual([
      [1, 5],
      [2, 3],
    ]);
  });

  it('reads extension and Any type names in brackets', () => {
    const text = [
      'value {',
      '  [type.googleapis.com/tensorflow.serving.Foo] { x: 1 }',
      '  [my.ext]: 2',
      '  [ spaced.name ] { }',
      '}',
    ].join('\n');
    expect(plain(text)).toEqual({
      value: [
        {
          '[type.googleapis.com/tensorflow.serving.Foo]': [{ x: [1] }],
          '[my.ext]': [2],
          '[spaced.name]': [{}],
        },
      ],
    });
  });

  it('counts columns in characters, not UTF-16 units', () => {
    expect(parseTextProto('a: "😀" b: 1').fields[1]).toMatchObject({ line: 1, column: 8 });
  });
});

describe('parseTextProto errors', () => {
  it.each<[string, string, number, number, string]>([
    ['a missing colon', 'a 1', 1, 3, "expected ':' or '{' after field name 'a', found '1'"],
    ['a value missing after :', 'a: }', 1, 4, "expected a value after ':' for field 'a', found '}'"],
    [
      'a value missing at the end',
      'a {\n  b:',
      2,
      5,
      "expected a value after ':' for field 'b', found end of input",
    ],
    ['a field where a value should be', 'a: b: 1', 1, 5, "expected a field name, found ':'"],
    [
      'an unclosed message',
      'outer {\n  inner {\n    a: 1\n  }\n',
      5,
      1,
      "expected '}' to close 'outer' (line 1, column 7), found end of input",
    ],
    ['an extra closing brace', 'a: 1\n}', 2, 1, "expected a field name, found '}' with no matching '{'"],
    ['mismatched brackets', 'a { b: 1 >', 1, 10, "expected a field name or '}', found '>'"],
    ['a number as a field name', '123: 4', 1, 1, "expected a field name, found '123'"],
    [
      'an unterminated string at the end',
      'a: "abc',
      1,
      4,
      'unterminated string: no closing " before end of input',
    ],
    [
      'a string broken by a newline',
      "a: 'abc\n'",
      1,
      4,
      "unterminated string: no closing ' before end of line",
    ],
    ['a backslash at the end', 'a: "abc\\', 1, 8, "unterminated string: expected an escape after '\\'"],
    ['an unknown escape', 'a: "x\\qy"', 1, 6, "invalid escape '\\q' in string"],
    ['\\x without digits', 'a: "\\xg"', 1, 5, "expected hex digits after '\\x' in string"],
    ['a short \\u escape', 'a: "\\u12"', 1, 5, "expected 4 hex digits up to 10FFFF after '\\u' in string"],
    ['an octal escape over 255', 'a: "\\777"', 1, 5, "octal escape '\\777' is larger than a byte"],
    ['two dots in a number', 'a: 1.2.3', 1, 4, "invalid value '1.2.3' for field 'a'"],
    ['letters after digits', 'a: 12abc', 1, 4, "invalid value '12abc' for field 'a'"],
    ['a bare 0x', 'a: 0x', 1, 4, "invalid value '0x' for field 'a'"],
    ['a leading-zero non-octal', 'a: 08', 1, 4, "invalid value '08' for field 'a'"],
    ['a negative identifier', 'a: -foo', 1, 4, "invalid value '-foo' for field 'a'"],
    ['a lone minus', 'a: -}', 1, 4, "expected a number after '-', found '}'"],
    [
      'a list with no closing ]',
      'a: [1, 2',
      1,
      9,
      "expected ',' or ']' in the list for field 'a', found end of input",
    ],
    ['a list missing a comma', 'a: [1 2]', 1, 7, "expected ',' or ']' in the list for field 'a', found '2'"],
    ['a trailing comma in a list', 'a: [1,]', 1, 7, "expected a value in the list for field 'a', found ']'"],
    [
      'scalars in a colon-less list',
      'a [1]',
      1,
      4,
      "expected '{' in the list for message field 'a', found '1'",
    ],
    [
      'an unclosed type name',
      '[foo.Bar { }',
      1,
      1,
      "expected a type name and ']' after '[', found 'foo.Bar'",
    ],
    ['an empty type name', '[] {}', 1, 1, "expected a type name and ']' after '[', found ']'"],
  ])('reports %s', (_what, text, line, column, reason) => {
    const error = syntaxError(text);
    expect({ line: error.line, column: error.column, message: error.message }).toEqual({
      line,
      column,
      message: `line ${line}, column ${column}: ${reason}`,
    });
  });

  it('refuses messages nested deeper than protobuf allows', () => {
    expect(plain(`${'a {'.repeat(100)}${'}'.repeat(100)}`)).toBeDefined();
    const error = syntaxError(`${'a {'.repeat(101)}${'}'.repeat(101)}`);
    expect(error.message).toContain('nested more than 100 deep');
    expect(error.column).toBe(303);
  });
});

describe('textProtoToPlain', () => {
  it('groups repeated fields by name in first-appearance order', () => {
    const result = plain('b: 1 a: "x" b: 2 c { d: E } a: "y"');
    expect(result).toEqual({ b: [1, 2], a: ['x', 'y'], c: [{ d: ['E'] }] });
    expect(Object.keys(result)).toEqual(['b', 'a', 'c']);
  });

  it('turns fields named like Object.prototype members into ordinary keys', () => {
    const result = plain('__proto__: 1 constructor: 2 toString { x: 3 }');
    expect(Object.keys(result)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(result, '__proto__')?.value).toEqual([1]);
    expect(result.constructor).toEqual([2]);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });
});

describe('message', () => {
  it('builds fields in order, skipping undefined values, at position 0', () => {
    expect(message(['a', 1], ['b', undefined], ['c', message(['d', { enum: 'X' }])])).toEqual({
      fields: [
        { name: 'a', value: 1, line: 0, column: 0 },
        {
          name: 'c',
          value: { fields: [{ name: 'd', value: { enum: 'X' }, line: 0, column: 0 }] },
          line: 0,
          column: 0,
        },
      ],
    });
    expect(message()).toEqual({ fields: [] });
  });
});

describe('formatTextProto', () => {
  const modelConfig = message([
    'model_config_list',
    message(
      [
        'config',
        message(
          ['name', 'half_plus_two'],
          ['base_path', '/models/half_plus_two'],
          ['model_platform', 'tensorflow'],
          ['model_version_policy', message(['specific', message(['versions', 3], ['versions', 4])])],
          ['version_labels', message(['key', 'stable'], ['value', 3])],
          ['version_labels', message(['key', 'canary'], ['value', 4])],
        ),
      ],
      [
        'config',
        message(
          ['name', 'half_plus_three'],
          ['base_path', '/models/half_plus_three'],
          ['model_platform', 'tensorflow'],
          ['model_version_policy', message(['all', message()])],
        ),
      ],
    ),
  ]);

  const modelConfigText = `model_config_list {
  config {
    name: "half_plus_two"
    base_path: "/models/half_plus_two"
    model_platform: "tensorflow"
    model_version_policy {
      specific {
        versions: 3
        versions: 4
      }
    }
    version_labels {
      key: "stable"
      value: 3
    }
    version_labels {
      key: "canary"
      value: 4
    }
  }
  config {
    name: "half_plus_three"
    base_path: "/models/half_plus_three"
    model_platform: "tensorflow"
    model_version_policy {
      all {}
    }
  }
}
`;

  it('writes a model config the way the TF Serving docs do', () => {
    expect(formatTextProto(modelConfig)).toBe(modelConfigText);
  });

  it('writes the same text from the plain form of that config', () => {
    expect(formatTextProto(textProtoToPlain(modelConfig))).toBe(modelConfigText);
  });

  it('reads its own model config back to the same structure', () => {
    expect(plain(modelConfigText)).toEqual(textProtoToPlain(modelConfig));
  });

  it('writes header lines as comments first', () => {
    const text = formatTextProto(
      { max_batch_size: [{ value: [128] }], num_batch_threads: [{ value: [8] }] },
      { header: ['Generated by catwalk from models/half_plus_two.yaml.', '', 'Do not edit.\nReally.'] },
    );
    expect(text).toBe(
      [
        '# Generated by catwalk from models/half_plus_two.yaml.',
        '#',
        '# Do not edit.',
        '# Really.',
        'max_batch_size {',
        '  value: 128',
        '}',
        'num_batch_threads {',
        '  value: 8',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('honours the indent option', () => {
    expect(formatTextProto({ a: [{ b: [{ c: [true] }] }] }, { indent: 4 })).toBe(
      'a {\n    b {\n        c: true\n    }\n}\n',
    );
  });

  it('writes an empty message on one line, and an empty root as a lone newline', () => {
    expect(formatTextProto(message(['all', message()]))).toBe('all {}\n');
    expect(formatTextProto({ all: [{}] })).toBe('all {}\n');
    expect(formatTextProto(message())).toBe('\n');
    expect(formatTextProto({}, { header: ['empty'] })).toBe('# empty\n');
  });

  it('writes scalars of every kind', () => {
    const msg = message(
      ['int', 42],
      ['negative', -7],
      ['float', 0.1],
      ['tiny', 5e-324],
      ['huge', 1e21],
      ['past_2_53', 2 ** 60],
      ['negative_zero', -0],
      ['inf', Number.POSITIVE_INFINITY],
      ['minus_inf', Number.NEGATIVE_INFINITY],
      ['nan', Number.NaN],
      ['int64', 18446744073709551615n],
      ['yes', true],
      ['no', false],
      ['state', { enum: 'AVAILABLE' }],
    );
    expect(formatTextProto(msg)).toBe(
      [
        'int: 42',
        'negative: -7',
        'float: 0.1',
        'tiny: 5e-324',
        'huge: 1e+21',
        'past_2_53: 1.152921504606847e+18',
        'negative_zero: -0',
        'inf: inf',
        'minus_inf: -inf',
        'nan: nan',
        'int64: 18446744073709551615',
        'yes: true',
        'no: false',
        'state: AVAILABLE',
        '',
      ].join('\n'),
    );
  });

  it('escapes quotes, backslashes, newlines, tabs and control characters in strings', () => {
    const value = 'say "hi"\\n\n\tit\'s\r\0\x1b\x7f\u0085 café 😀';
    const text = formatTextProto({ s: [value] });
    expect(text).toBe(String.raw`s: "say \"hi\"\\n\n\tit's\r\000\033\177\302\205 café 😀"` + '\n');
    expect(plain(text)).toEqual({ s: [value] });
  });

  it('writes lone surrogates as \\u escapes that read back unchanged', () => {
    const value = 'a\uD800b\uDFFF';
    const text = formatTextProto({ s: [value] });
    expect(text).toBe(String.raw`s: "a\uD800b\uDFFF"` + '\n');
    expect(plain(text)).toEqual({ s: [value] });
  });

  it('keeps extension names in brackets', () => {
    const text = formatTextProto(message(['[type.googleapis.com/foo.Bar]', message(['x', 1])]));
    expect(text).toBe('[type.googleapis.com/foo.Bar] {\n  x: 1\n}\n');
  });

  it('tells a plain message with a field called "fields" from a TextProtoMessage', () => {
    expect(formatTextProto({ fields: ['a', { name: ['b'] }] })).toBe(
      'fields: "a"\nfields {\n  name: "b"\n}\n',
    );
  });

  it('refuses what it cannot write so that its output always parses', () => {
    expect(() => formatTextProto({ 'not a name': [1] })).toThrow("cannot write field name 'not a name'");
    expect(() => formatTextProto(message(['1st', 1]))).toThrow(TypeError);
    expect(() => formatTextProto(message(['e', { enum: 'true' }]))).toThrow(/cannot write value/);
    expect(() => formatTextProto(message(['e', { enum: 'inf' }]))).toThrow(/cannot write value/);
    expect(() => formatTextProto(message(['e', { enum: 'two words' }]))).toThrow(/cannot write value/);
    expect(() => formatTextProto({ a: 1 } as unknown as PlainMessage)).toThrow(/must be an array/);
    expect(() => formatTextProto({ a: [null] } as unknown as PlainMessage)).toThrow(/cannot write value/);
  });
});

describe('formatTextProto round trip (property)', () => {
  const fieldName = fc.stringMatching(/^[a-z_][a-z0-9_]*$/);
  // Unicode at large rarely lands on the characters that need escaping, so mix those in on purpose.
  const tricky = fc.oneof(
    fc.constantFrom('"', "'", '\\', '\n', '#', '{', '}', '\uD800', '\uDFFF'),
    fc.integer({ min: 0, max: 0x9f }).map((code) => String.fromCharCode(code)),
  );
  const text = fc.string({
    unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), tricky),
  });
  const number = fc.oneof(
    fc.maxSafeInteger(),
    fc.double(),
    fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60, 5e-324),
  );
  const enumValue = fc
    .stringMatching(/^[A-Z][A-Z0-9_]*$/)
    .filter((name) => !/^(?:inf|infinity|nan)$/i.test(name))
    .map((name) => ({ enum: name }));
  const bigInteger = fc.oneof(
    fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }),
    fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) }),
  );
  const scalar: fc.Arbitrary<TextProtoScalar> = fc.oneof(text, number, fc.boolean(), enumValue, bigInteger);

  const { msg } = fc.letrec<{ msg: TextProtoMessage }>((tie) => ({
    msg: fc
      .array(fc.tuple(fieldName, fc.oneof({ maxDepth: 4 }, scalar, tie('msg'))), { maxLength: 5 })
      .map((fields) => message(...fields)),
  }));

  const { plainMsg } = fc.letrec<{ plainMsg: PlainMessage }>((tie) => ({
    plainMsg: fc.dictionary(
      fieldName,
      fc.array(fc.oneof({ maxDepth: 4 }, text, number, fc.boolean(), tie('plainMsg')), {
        minLength: 1,
        maxLength: 3,
      }),
      { maxKeys: 5 },
    ),
  }));

  it('parses the output of a TextProtoMessage back to an equal plain structure', () => {
    fc.assert(
      fc.property(msg, (m) => {
        const text = formatTextProto(m);
        // The text goes to a UTF-8 file, so it must survive that and stay printable apart from newlines.
        const onDisk = new TextDecoder().decode(new TextEncoder().encode(text));
        expect(onDisk).not.toMatch(/(?!\n)\p{Cc}/u);
        expect(plain(onDisk)).toEqual(textProtoToPlain(m));
      }),
      { numRuns: 500 },
    );
  });

  it('parses the output of a PlainMessage back to an equal plain structure', () => {
    fc.assert(
      fc.property(plainMsg, (p) => {
        expect(plain(formatTextProto(p))).toEqual(p);
      }),
      { numRuns: 500 },
    );
  });

  it('is stable: formatting what it read gives the same text', () => {
    fc.assert(
      fc.property(msg, fc.integer({ min: 0, max: 4 }), (m, indent) => {
        const once = formatTextProto(m, { indent });
        expect(formatTextProto(parseTextProto(once), { indent })).toBe(once);
      }),
      { numRuns: 300 },
    );
  });
});

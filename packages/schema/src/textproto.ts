/**
 * Reader and writer for the protobuf text format, the format of TF Serving's
 * --model_config_file, --batching_parameters_file and --monitoring_config_file.
 *
 * It is schema-less on purpose: we only generate those files and compare them
 * structurally, and carrying protobuf descriptors for three config messages
 * would cost more than it buys. The price is that values keep the shape they
 * had in the text: the reader cannot tell an int64 from a double, nor whether
 * a bare identifier names an enum value.
 */

export type TextProtoScalar = string | number | boolean | bigint | TextProtoEnum;

/** A bare identifier value other than a boolean or inf/nan, e.g. `AVAILABLE`. */
export interface TextProtoEnum {
  readonly enum: string;
}

export interface TextProtoField {
  readonly name: string;
  readonly value: TextProtoScalar | TextProtoMessage;
  /** 1-based position of the field in the parsed text; 0 for built messages. */
  readonly line: number;
  readonly column: number;
}

export interface TextProtoMessage {
  readonly fields: readonly TextProtoField[];
}

export type PlainValue = string | number | boolean | PlainMessage;

export interface PlainMessage {
  [field: string]: PlainValue[];
}

export class TextProtoSyntaxError extends Error {
  override readonly name = 'TextProtoSyntaxError';
  readonly line: number;
  readonly column: number;
  readonly source?: string;

  constructor(reason: string, line: number, column: number, source?: string) {
    super(`${source === undefined ? '' : `${source}: `}line ${line}, column ${column}: ${reason}`);
    this.line = line;
    this.column = column;
    this.source = source;
  }
}

// ---------------------------------------------------------------------------
// Reader

// protobuf's own parser stops at this depth too, so a file we accept is one
// TF Serving accepts, and hostile input cannot blow the JS stack.
const MAX_DEPTH = 100;

// Only ASCII whitespace, as protobuf's tokenizer; a no-break space is an error there too.
const SPACE_AND_COMMENTS = /(?:[ \t\n\r\v\f]|#[^\n]*)*/y;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FIELD_NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const TYPE_NAME = /\[\s*[A-Za-z0-9_./-]+\s*\]/y;
// One value token. A sign is only part of it right after an exponent's `e`, so
// `1.5e-3` is one token while `a-b` is not.
const WORD = /-?(?:[A-Za-z0-9_.]|(?<=[0-9.][eE])[+-])+/y;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const OCTAL = /^0[0-7]+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;
const FLOAT = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?$/;
const NON_FINITE = /^(?:inf|infinity|nan)$/i;
const TRUE_WORDS = ['true', 'True', 't'];
const FALSE_WORDS = ['false', 'False', 'f'];
// \n \t \r \a \b \f \v \\ \' \" \? and what each stands for, position by position.
const ESCAPE_LETTERS = 'ntrabfv\\\'"?';
const ESCAPED_CHARS = '\n\t\r\x07\b\f\v\\\'"?';
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

interface Position {
  line: number;
  column: number;
}

interface Scanner extends Position {
  readonly text: string;
  readonly source: string | undefined;
  pos: number;
}

type FieldValue = TextProtoField['value'];

interface Opening extends Position {
  readonly close: '}' | '>';
  readonly name: string;
}

export function parseTextProto(text: string, source?: string): TextProtoMessage {
  const s: Scanner = { text, source, pos: text.startsWith('\uFEFF') ? 1 : 0, line: 1, column: 1 };
  return readFields(s, undefined, 0);
}

function readFields(s: Scanner, opening: Opening | undefined, depth: number): TextProtoMessage {
  const fields: TextProtoField[] = [];
  for (;;) {
    skipSpace(s);
    const c = s.text[s.pos];
    if (c === undefined) {
      if (opening === undefined) return { fields };
      const { close, name, line, column } = opening;
      fail(s, `expected '${close}' to close '${name}' (line ${line}, column ${column}), found end of input`);
    }
    if (c === opening?.close) {
      advance(s, 1);
      return { fields };
    }
    const at = here(s);
    const name = readFieldName(s, opening);
    skipSpace(s);
    const next = s.text[s.pos];
    if (next === ':') {
      advance(s, 1);
      skipSpace(s);
      if (s.text[s.pos] === '[') fields.push(...readList(s, name, false, depth));
      else fields.push({ name, value: readValue(s, name, false, depth), ...at });
    } else if (next === '{' || next === '<') {
      fields.push({ name, value: readMessage(s, name, depth), ...at });
    } else if (next === '[') {
      // protobuf allows dropping the colon before a list only when it holds messages.
      fields.push(...readList(s, name, true, depth));
    } else {
      fail(s, `expected ':' or '{' after field name '${name}', found ${describe(s)}`);
    }
    skipSpace(s);
    if (s.text[s.pos] === ',' || s.text[s.pos] === ';') advance(s, 1);
  }
}

function readFieldName(s: Scanner, opening: Opening | undefined): string {
  const c = s.text[s.pos];
  if (c === '[') {
    // Extension and Any type URLs, e.g. [type.googleapis.com/foo.Bar].
    const bracketed = match(s, TYPE_NAME);
    if (bracketed === undefined) fail(s, `expected a type name and ']' after '[', found ${describe(s, 1)}`);
    advance(s, bracketed.length);
    return bracketed.replace(/\s/g, '');
  }
  const name = match(s, FIELD_NAME);
  if (name === undefined) {
    if (opening === undefined && (c === '}' || c === '>')) {
      fail(s, `expected a field name, found '${c}' with no matching '${c === '}' ? '{' : '<'}'`);
    }
    fail(s, `expected a field name${opening ? ` or '${opening.close}'` : ''}, found ${describe(s)}`);
  }
  advance(s, name.length);
  return name;
}

function readMessage(s: Scanner, name: string, depth: number): TextProtoMessage {
  const opening: Opening = { close: s.text[s.pos] === '<' ? '>' : '}', name, ...here(s) };
  if (depth >= MAX_DEPTH) fail(s, `messages are nested more than ${MAX_DEPTH} deep`);
  advance(s, 1);
  return readFields(s, opening, depth + 1);
}

/** Expands `name: [a, b]` into repeated fields, which is what the list syntax means. */
function readList(s: Scanner, name: string, messagesOnly: boolean, depth: number): TextProtoField[] {
  const fields: TextProtoField[] = [];
  advance(s, 1);
  skipSpace(s);
  // An empty list is fine, but `[1,]` is not: protobuf wants a value after every ','.
  for (let more = s.text[s.pos] !== ']'; more; ) {
    const at = here(s);
    const c = s.text[s.pos];
    if (messagesOnly && c !== '{' && c !== '<') {
      fail(s, `expected '{' in the list for message field '${name}', found ${describe(s)}`);
    }
    fields.push({ name, value: readValue(s, name, true, depth), ...at });
    skipSpace(s);
    more = s.text[s.pos] === ',';
    if (!more && s.text[s.pos] !== ']') {
      fail(s, `expected ',' or ']' in the list for field '${name}', found ${describe(s)}`);
    }
    if (more) advance(s, 1);
    skipSpace(s);
  }
  advance(s, 1);
  return fields;
}

function readValue(s: Scanner, name: string, inList: boolean, depth: number): FieldValue {
  const c = s.text[s.pos];
  if (c === '{' || c === '<') return readMessage(s, name, depth);
  if (c === '"' || c === "'") return readStrings(s);
  const word = match(s, WORD);
  const where = inList ? 'in the list' : "after ':'";
  if (c === '-' && word === undefined) fail(s, `expected a number after '-', found ${describe(s, 1)}`);
  if (word === undefined) fail(s, `expected a value ${where} for field '${name}', found ${describe(s)}`);
  const value = scalarFromWord(word);
  if (value === undefined) fail(s, `invalid value '${word}' for field '${name}'`);
  advance(s, word.length);
  return value;
}

function scalarFromWord(word: string): TextProtoScalar | undefined {
  const negative = word.startsWith('-');
  const body = negative ? word.slice(1) : word;
  if (NON_FINITE.test(body)) {
    const n = body.toLowerCase() === 'nan' ? Number.NaN : Number.POSITIVE_INFINITY;
    return negative ? -n : n;
  }
  if (!negative && IDENTIFIER.test(word)) {
    return TRUE_WORDS.includes(word) ? true : FALSE_WORDS.includes(word) ? false : { enum: word };
  }
  if (DECIMAL.test(body) || OCTAL.test(body) || HEX.test(body)) {
    const big = BigInt(OCTAL.test(body) ? `0o${body.slice(1)}` : body);
    if (big > MAX_SAFE) return negative ? -big : big;
    // Negating the number, not the bigint, keeps `-0` a negative zero.
    return negative ? -Number(big) : Number(big);
  }
  // A digits-only word that failed the integer forms is something like `08`,
  // which protobuf rejects rather than reading as decimal.
  if (FLOAT.test(body) && !/^[0-9]+$/.test(body)) {
    const n = Number(body.replace(/[fF]$/, ''));
    return negative ? -n : n;
  }
  return undefined;
}

interface StringBuffer {
  text: string;
  // Escapes like \303\251 spell UTF-8 bytes, not characters, so they are held
  // until a run ends and decoded together; that also spans "\303" "\251".
  bytes: number[];
}

const utf8 = new TextDecoder();

function flushBytes(buf: StringBuffer): void {
  if (buf.bytes.length === 0) return;
  buf.text += utf8.decode(new Uint8Array(buf.bytes));
  buf.bytes = [];
}

function readStrings(s: Scanner): string {
  const buf: StringBuffer = { text: '', bytes: [] };
  do {
    readString(s, buf);
    skipSpace(s);
  } while (s.text[s.pos] === '"' || s.text[s.pos] === "'");
  flushBytes(buf);
  return buf.text;
}

function readString(s: Scanner, buf: StringBuffer): void {
  const quote = s.text[s.pos];
  const start = here(s);
  advance(s, 1);
  for (;;) {
    const c = s.text[s.pos];
    if (c === undefined || c === '\n') {
      fail(s, `unterminated string: no closing ${quote} before end of ${c ? 'line' : 'input'}`, start);
    }
    if (c === quote) {
      advance(s, 1);
      return;
    }
    if (c === '\\') {
      readEscape(s, buf);
    } else {
      flushBytes(buf);
      buf.text += c;
      advance(s, 1);
    }
  }
}

function readEscape(s: Scanner, buf: StringBuffer): void {
  const at = here(s);
  const e = s.text[s.pos + 1] ?? '';
  const digits = (re: RegExp, from: number): string => match(s, re, from) ?? '';
  const simple = e ? ESCAPE_LETTERS.indexOf(e) : -1;
  const octal = digits(/[0-7]{1,3}/y, 1);
  const hex = e === 'x' || e === 'X' ? digits(/[0-9a-fA-F]{1,2}/y, 2) : '';
  const width = e === 'u' ? 4 : e === 'U' ? 8 : 0;
  const code = width ? Number.parseInt(digits(new RegExp(`[0-9a-fA-F]{${width}}`, 'y'), 2), 16) : Number.NaN;
  if (simple >= 0 || code <= 0x10ffff) {
    flushBytes(buf);
    // fromCodePoint rather than UTF-8 bytes, so that the \uD800 the writer
    // emits for a lone surrogate (which UTF-8 cannot carry) reads back as one.
    buf.text += simple >= 0 ? ESCAPED_CHARS.charAt(simple) : String.fromCodePoint(code);
    advance(s, simple >= 0 ? 2 : 2 + width);
  } else if (octal || hex) {
    const byte = Number.parseInt(octal || hex, octal ? 8 : 16);
    if (byte > 0xff) fail(s, `octal escape '\\${octal}' is larger than a byte`, at);
    buf.bytes.push(byte);
    advance(s, octal ? 1 + octal.length : 2 + hex.length);
  } else if (e === '' || e === '\n') {
    fail(s, `unterminated string: expected an escape after '\\'`, at);
  } else {
    const want = e === 'x' || e === 'X' ? 'hex digits' : width ? `${width} hex digits up to 10FFFF` : '';
    fail(s, want ? `expected ${want} after '\\${e}' in string` : `invalid escape '\\${e}' in string`, at);
  }
}

function skipSpace(s: Scanner): void {
  advance(s, match(s, SPACE_AND_COMMENTS)?.length ?? 0);
}

function advance(s: Scanner, count: number): void {
  for (let end = s.pos + count; s.pos < end; s.pos++) {
    const code = s.text.charCodeAt(s.pos);
    if (code === 10) {
      s.line++;
      s.column = 1;
    } else if (code < 0xdc00 || code > 0xdfff) {
      // Columns count characters, so the second half of a surrogate pair is free.
      s.column++;
    }
  }
}

function here(s: Scanner): Position {
  return { line: s.line, column: s.column };
}

function match(s: Scanner, re: RegExp, offset = 0): string | undefined {
  re.lastIndex = s.pos + offset;
  return re.exec(s.text)?.[0];
}

/** Names what the reader ran into, for "expected X, found Y" messages. */
function describe(s: Scanner, offset = 0): string {
  const c = s.text.codePointAt(s.pos + offset);
  if (c === undefined) return 'end of input';
  const word = match(s, WORD, offset);
  if (word !== undefined) return `'${word}'`;
  if (c === 0x22 || c === 0x27) return 'a string';
  if (c === 0x0a) return 'end of line';
  return `'${String.fromCodePoint(c)}'`;
}

function fail(s: Scanner, reason: string, at: Position = s): never {
  throw new TextProtoSyntaxError(reason, at.line, at.column, s.source);
}

// ---------------------------------------------------------------------------
// Plain objects

export function textProtoToPlain(msg: TextProtoMessage): PlainMessage {
  const plain: PlainMessage = {};
  for (const { name, value } of msg.fields) {
    if (!Object.hasOwn(plain, name)) {
      // Not `plain[name] = []`: a field called __proto__ must become a key, not the prototype.
      Object.defineProperty(plain, name, { value: [], enumerable: true, writable: true, configurable: true });
    }
    plain[name]!.push(toPlainValue(value));
  }
  return plain;
}

function toPlainValue(value: TextProtoScalar | TextProtoMessage): PlainValue {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value;
  return isEnum(value) ? value.enum : textProtoToPlain(value);
}

function isEnum(value: object): value is TextProtoEnum {
  return typeof (value as Partial<TextProtoEnum>).enum === 'string';
}

export function message(
  ...fields: Array<[string, TextProtoScalar | TextProtoMessage | undefined]>
): TextProtoMessage {
  const present = fields.filter((field): field is [string, FieldValue] => field[1] !== undefined);
  return { fields: present.map(([name, value]) => ({ name, value, line: 0, column: 0 })) };
}

// ---------------------------------------------------------------------------
// Writer

type AnyMessage = TextProtoMessage | PlainMessage;
type AnyValue = TextProtoScalar | AnyMessage;

const WRITABLE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|\[[A-Za-z0-9_./-]+\])$/;

export function formatTextProto(
  msg: TextProtoMessage | PlainMessage,
  options: { indent?: number; header?: string[] } = {},
): string {
  const indent = ' '.repeat(options.indent ?? 2);
  const lines = (options.header ?? []).flatMap((h) => h.split(/\r?\n/)).map((h) => (h ? `# ${h}` : '#'));
  writeFields(lines, msg, '', indent);
  return lines.join('\n') + '\n';
}

function writeFields(lines: string[], msg: AnyMessage, prefix: string, indent: string): void {
  for (const [name, value] of fieldsOf(msg)) {
    if (!WRITABLE_NAME.test(name)) throw new TypeError(`cannot write field name '${name}'`);
    if (typeof value !== 'object' || value === null || isEnum(value)) {
      lines.push(`${prefix}${name}: ${formatScalar(value, name)}`);
    } else if (fieldsOf(value).length === 0) {
      lines.push(`${prefix}${name} {}`);
    } else {
      lines.push(`${prefix}${name} {`);
      writeFields(lines, value, prefix + indent, indent);
      lines.push(`${prefix}}`);
    }
  }
}

function fieldsOf(msg: AnyMessage): Array<[string, AnyValue]> {
  if (isTextProtoMessage(msg)) return msg.fields.map((f) => [f.name, f.value]);
  return Object.entries(msg).flatMap(([name, values]): Array<[string, AnyValue]> => {
    if (!Array.isArray(values)) throw new TypeError(`plain field '${name}' must be an array of values`);
    return values.map((v) => [name, v]);
  });
}

// A plain message can have a key called `fields` too, but its elements are
// plain values, never objects with a string `name`.
function isTextProtoMessage(msg: AnyMessage): msg is TextProtoMessage {
  const fields: unknown = msg.fields;
  return Array.isArray(fields) && fields.every((f) => typeof f?.name === 'string');
}

function formatScalar(value: TextProtoScalar, name: string): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return formatNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return String(value);
    case 'object': {
      // Refuse enums the reader would not give back as enums, such as `true` or `inf`.
      if (value !== null && IDENTIFIER.test(value.enum) && typeof scalarFromWord(value.enum) === 'object') {
        return value.enum;
      }
      break;
    }
  }
  throw new TypeError(`cannot write value ${String(value)} of field '${name}' in protobuf text format`);
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Object.is(n, -0)) return '-0';
  const text = String(n);
  // Integral doubles past 2^53 print as bare digits, which the reader (like
  // protobuf) takes for an int64; exponent form keeps them doubles.
  return Number.isSafeInteger(n) || /[.e]/.test(text) ? text : n.toExponential();
}

function quote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    // C1 controls are written as their two UTF-8 bytes, which is all protobuf escapes can express.
    else if (code >= 0x80 && code <= 0x9f) out += `\\302\\${code.toString(8)}`;
    // Only a lone surrogate is left as one UTF-16 unit by the iterator; UTF-8 cannot carry it.
    else if (code >= 0xd800 && code <= 0xdfff) out += `\\u${code.toString(16).toUpperCase()}`;
    else out += ch;
  }
  return out + '"';
}

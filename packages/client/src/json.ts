// TF Serving's JSON is not quite JSON: it writes non-finite floats as bare
// NaN / Infinity / -Infinity, and it tells floats from integers by the
// presence of a decimal point. These helpers read and write that dialect.

const NAN = '\u0000NaN';
const POS_INF = '\u0000Infinity';
const NEG_INF = '\u0000-Infinity';
const BIG = '\u0000#';

function revive(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.charCodeAt(0) === 0) {
    if (value === NAN) return Number.NaN;
    if (value === POS_INF) return Number.POSITIVE_INFINITY;
    if (value === NEG_INF) return Number.NEGATIVE_INFINITY;
    if (value.startsWith(BIG)) return BigInt(value.slice(2));
  }
  return value;
}

export interface ParseJsonOptions {
  /**
   * "exact" (the default): integers too long for a double come back as
   * bigint, others as number. "bigint": every integer written without a
   * decimal point or exponent comes back as bigint, so a reader can tell 2
   * from 2.0 (TF Serving does, for tf.Example features).
   */
  readonly integers?: 'exact' | 'bigint';
}

/**
 * JSON.parse that also accepts bare NaN, Infinity and -Infinity outside
 * strings, and keeps integers too long for a double exact (as bigint), since
 * TF Serving writes int64 tensors as plain JSON integers.
 */
export function parseJson(text: string, options: ParseJsonOptions = {}): unknown {
  const allIntegers = options.integers === 'bigint';
  if (!allIntegers && !/\d{16}/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (!/NaN|Infinity/.test(text)) throw error;
    }
  }
  return JSON.parse(quoteSpecial(text, allIntegers), revive);
}

/** Rewrites the bare tokens and long integers as marked strings, leaving string contents alone. */
function quoteSpecial(text: string, allIntegers: boolean): string {
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    let token: string | undefined;
    let marker = '';
    if (c === 0x4e /* N */ && text.startsWith('NaN', i)) {
      token = 'NaN';
      marker = '\\u0000NaN';
    } else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) {
      token = 'Infinity';
      marker = '\\u0000Infinity';
    } else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) {
      token = '-Infinity';
      marker = '\\u0000-Infinity';
    }
    if (token !== undefined) {
      out += `${text.slice(last, i)}"${marker}"`;
      i += token.length;
      last = i;
      continue;
    }
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
      if (match) {
        const end = i + match[0].length;
        if (
          match[1] === undefined &&
          match[2] === undefined &&
          (allIntegers || match[0].replace('-', '').length >= 16)
        ) {
          out += `${text.slice(last, i)}"\\u0000#${match[0]}"`;
          last = end;
        }
        i = end;
        continue;
      }
    }
    i++;
  }
  return out + text.slice(last);
}

/** A number as TF Serving writes a float: with a decimal point or exponent, non-finite as bare tokens. */
export function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  const text = String(value);
  return Number.isInteger(value) && !text.includes('e') ? `${text}.0` : text;
}

/** A number as JSON would write it, except that non-finite values become TF's bare tokens. */
export function formatNumber(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return formatFloat(value);
}

/** An object with named fields: not null, an array, bytes, or TF's {"b64": ...} form of bytes. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value) &&
    !isB64(value)
  );
}

/** TF Serving's JSON form of a byte string: {"b64": "<base64>"}. */
export function isB64(value: unknown): value is { b64: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    typeof (value as { b64?: unknown }).b64 === 'string'
  );
}

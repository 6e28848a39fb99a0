// A JSON reader that keeps what JSON.parse throws away and TF Serving relies
// on: whether a number was written as an integer (2) or a float (2.0, 2e0).
// Integers come back as bigint, floats as number. Like rapidjson with
// kParseNanAndInfFlag, it accepts NaN, Infinity and -Infinity.

export type TfJson = null | boolean | number | bigint | string | TfJson[] | { [key: string]: TfJson };

export class TfJsonError extends Error {}

export function parseTfJson(text: string): TfJson {
  let i = 0;
  const fail = (what: string): never => {
    throw new TfJsonError(`JSON Parse error: ${what} at offset ${i}`);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): TfJson => {
    space();
    const c = text[i];
    if (c === undefined) return fail('The document is empty');
    if (c === '{') {
      i++;
      const out: { [key: string]: TfJson } = {};
      space();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail('Missing a name for object member');
        const key = string();
        space();
        if (text[i++] !== ':') fail('Missing a colon after a name of object member');
        out[key] = value();
        space();
        const sep = text[i++];
        if (sep === '}') return out;
        if (sep !== ',') fail("Missing a comma or '}' after an object member");
      }
    }
    if (c === '[') {
      i++;
      const out: TfJson[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        space();
        const sep = text[i++];
        if (sep === ']') return out;
        if (sep !== ',') fail("Missing a comma or ']' after an array element");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const match = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) return fail('Invalid value');
    i += match[0].length;
    return match[1] !== undefined || match[2] !== undefined ? Number(match[0]) : BigInt(match[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('Missing a closing quotation mark in string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  space();
  if (i < text.length) fail('The document root must not be followed by other values');
  return result;
}

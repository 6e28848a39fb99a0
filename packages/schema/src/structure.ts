// Structural validation against the JSON Schema, with Ajv's raw errors turned
// into findings a person can act on: which field, what is wrong, how to fix.

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { closest, distance } from 'fastest-levenshtein';
import type { Finding, SpecPath } from './diagnostics';
import { modelJsonSchema } from './spec';

type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, JsonSchema>;
  description?: string;
  type?: string | string[];
};

const schema = modelJsonSchema();

// Compiled on first use: commands that never validate (help, schema) skip the cost.
let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  compiled ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(
    schema,
  );
  return compiled;
}

/** Every property name in the schema and the paths where it is allowed, for "did you mean to put it under ...". */
const propertyHomes = new Map<string, string[]>();
(function index(node: JsonSchema, path: string[]) {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const homes = propertyHomes.get(name) ?? [];
    homes.push(path.join('.'));
    propertyHomes.set(name, homes);
    index(child, [...path, name]);
  }
})(schema as JsonSchema, []);

export function structuralFindings(value: unknown): Finding[] {
  const validateStructure = validator();
  if (validateStructure(value)) return [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const error of validateStructure.errors ?? []) {
    const finding = describeError(error);
    if (!finding) continue;
    const key = `${finding.path.join('\u0000')}|${finding.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    findings.push(finding);
  }
  return findings;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function typeNames(type: unknown): string {
  const names = (Array.isArray(type) ? type : [type]).map((t) =>
    t === 'object'
      ? 'a mapping'
      : t === 'array'
        ? 'a list'
        : t === 'integer'
          ? 'a whole number'
          : `a ${String(t)}`,
  );
  return names.join(' or ');
}

function describeError(error: ErrorObject): Finding | undefined {
  const path = pointerToPath(error.instancePath);
  const parentSchema = (error.parentSchema ?? {}) as JsonSchema;
  const hint = parentSchema.description;
  const data = error.data;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      const property = parentSchema.properties?.[missing];
      return {
        code: 'missing-field',
        path: [...path, missing],
        message: `required field '${missing}' is missing`,
        fix: property?.description
          ? `add ${missing}: ${lowerFirst(property.description)}`
          : `add '${missing}'`,
      };
    }
    case 'additionalProperties': {
      const unknown = String(params.additionalProperty);
      return {
        code: 'unknown-field',
        path: [...path, unknown],
        atKey: true,
        ...unknownFieldText(unknown, path, parentSchema),
      };
    }
    case 'type':
      return {
        code: 'wrong-type',
        path,
        message: `expected ${typeNames(params.type)}, found ${describeValue(data)}`,
        fix: typeFix(params.type, data, hint),
      };
    case 'const':
      return {
        code: 'wrong-value',
        path,
        message: `must be ${JSON.stringify(params.allowedValue)}, found ${describeValue(data)}`,
        fix: `write ${JSON.stringify(params.allowedValue)}`,
      };
    case 'pattern':
    case 'format':
      return {
        code: 'bad-format',
        path,
        message: `${describeValue(data)} is not a valid ${fieldName(path)}`,
        ...(hint ? { fix: hint } : {}),
      };
    case 'minLength':
    case 'maxLength':
      return {
        code: 'bad-length',
        path,
        message: `${describeValue(data)} is ${error.keyword === 'maxLength' ? 'longer' : 'shorter'} than ${String(params.limit)} characters`,
        ...(hint ? { fix: hint } : {}),
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        code: 'out-of-range',
        path,
        message: `${String(data)} is out of range: it must be ${String(params.comparison)} ${String(params.limit)}`,
        ...(hint ? { fix: hint } : {}),
      };
    case 'minItems':
      return {
        code: 'too-few-items',
        path,
        message: `the list needs at least ${String(params.limit)} item(s)`,
        ...(hint ? { fix: hint } : {}),
      };
    case 'uniqueItems':
      return {
        code: 'duplicate-items',
        path,
        message: `items ${String(params.j)} and ${String(params.i)} are the same`,
        fix: 'list each value once',
      };
    case 'minProperties':
    case 'maxProperties':
      return {
        code: 'one-of',
        path,
        message:
          error.keyword === 'minProperties'
            ? 'the mapping is empty'
            : `it sets ${Object.keys((data as object) ?? {}).join(' and ')}; only one is allowed`,
        ...(hint ? { fix: hint } : {}),
      };
    default:
      return {
        code: `schema-${error.keyword}`,
        path,
        message: error.message ?? 'invalid value',
        ...(hint ? { fix: hint } : {}),
      };
  }
}

/** The innermost named field of a path: 'extraArgs' for spec.serving.extraArgs[3]. */
function fieldName(path: SpecPath): string {
  return String([...path].reverse().find((segment) => typeof segment === 'string') ?? 'value');
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

function typeFix(expected: unknown, data: unknown, hint: string | undefined): string | undefined {
  if (expected === 'boolean' && typeof data === 'string') return `write true or false without quotes`;
  if (
    (expected === 'integer' || expected === 'number') &&
    typeof data === 'string' &&
    data.trim() !== '' &&
    !Number.isNaN(Number(data))
  ) {
    return `write the number without quotes: ${Number(data)}`;
  }
  if (expected === 'integer' && typeof data === 'number')
    return `use a whole number, e.g. ${Math.round(data)}`;
  if (expected === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    return `quote it so YAML reads it as text: "${String(data)}"`;
  }
  return hint ?? `write ${typeNames(expected)} here`;
}

function unknownFieldText(
  unknown: string,
  path: SpecPath,
  parentSchema: JsonSchema,
): { message: string; fix: string } {
  const allowed = Object.keys(parentSchema.properties ?? {});
  const where = path.length ? `in ${path.join('.')}` : 'at the top level';
  const message = `unknown field '${unknown}' ${where}`;
  const lower = allowed.find((a) => a.toLowerCase() === unknown.toLowerCase());
  const near = lower ?? (allowed.length ? closest(unknown, allowed) : undefined);
  if (near && (lower || distance(unknown, near) <= Math.max(2, Math.floor(unknown.length / 3)))) {
    return { message, fix: `did you mean '${near}'?` };
  }
  const homes = propertyHomes.get(unknown)?.filter((home) => home !== path.join('.'));
  if (homes?.length) {
    return {
      message,
      fix: `'${unknown}' belongs under ${homes.map((h) => h || 'the top level').join(' or ')}`,
    };
  }
  return { message, fix: allowed.length ? `allowed here: ${allowed.join(', ')}` : 'remove it' };
}

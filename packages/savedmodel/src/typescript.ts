// TypeScript for a model's signatures: one declaration per predict signature
// in the shape @catwalk/client's typed handles take (`client.model<Sig>(name)`),
// and a factory that returns such a handle. The module imports types only,
// so it adds nothing to a service's bundle beyond a one-line function.
import { createHash } from 'node:crypto';
import { baseDtype, formatShape } from './compat.js';
import type { SignatureSpec, TensorSpec } from './signatures.js';

export interface TypeScriptModuleInput {
  /** The model's name on the server. */
  readonly model: string;
  /** The version the signatures were read from, when known. */
  readonly version?: number | string | undefined;
  /** Where they were read from (a folder, URL or S3 key), for the header. */
  readonly source: string;
  readonly signatures: Readonly<Record<string, SignatureSpec>>;
}

const PREDICT_METHOD = 'tensorflow/serving/predict';

const PROVENANCE_LINE = /^\/\/ Source: .*\n/m;

/**
 * A generated module without its `// Source:` line. Where the signatures
 * were read from (a folder, a host name) is provenance, not interface: a
 * module generated from http://127.0.0.1:8501 is current for the same model
 * served at https://models.example.com, so a staleness check compares this.
 */
export function generatedDeclarations(text: string): string {
  return text.replace(PROVENANCE_LINE, '');
}

// TensorFlow's dtype names and the SDK's dtypes (@catwalk/client's DType).
const SDK_DTYPE: Readonly<Record<string, string>> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_HALF: 'float16',
  DT_BFLOAT16: 'bfloat16',
  DT_INT8: 'int8',
  DT_INT16: 'int16',
  DT_INT32: 'int32',
  DT_INT64: 'int64',
  DT_UINT8: 'uint8',
  DT_UINT16: 'uint16',
  DT_UINT32: 'uint32',
  DT_UINT64: 'uint64',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
};

/** The SDK's dtype for a TensorFlow dtype name, or undefined when the SDK has none (DT_RESOURCE, DT_VARIANT...). */
export function sdkDtype(tfDtype: string): string | undefined {
  return SDK_DTYPE[baseDtype(tfDtype)];
}

/**
 * A fingerprint of the signatures' interface (names, methods, dtypes, shapes;
 * not graph tensor names): equal fingerprints mean the generated types are equal.
 */
export function signatureFingerprint(signatures: Readonly<Record<string, SignatureSpec>>): string {
  const canonical = Object.keys(signatures)
    .sort()
    .map((name) => {
      const sig = signatures[name] as SignatureSpec;
      const side = (tensors: Readonly<Record<string, TensorSpec>>) =>
        Object.keys(tensors)
          .sort()
          .map((alias) => [
            alias,
            (tensors[alias] as TensorSpec).dtype,
            (tensors[alias] as TensorSpec).shape,
          ]);
      return [name, sig.methodName, side(sig.inputs), side(sig.outputs)];
    });
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`;
}

/** The whole module, deterministic for the same input (no timestamps), so `--check` can compare it. */
export function generateTypeScriptModule(input: TypeScriptModuleInput): string {
  const base = pascalCase(input.model);
  const factory = safeIdentifier(camelCase(input.model));
  const fingerprint = signatureFingerprint(input.signatures);
  const typed: Array<{ name: string; typeName: string }> = [];
  // Names that differ only in spelling (serving_default, servingDefault) give one PascalCase name, and
  // TypeScript would merge the two interfaces silently: later ones get a number instead. The module's
  // own declarations come first, and serving_default, the one most callers use, keeps the plain name.
  const defaultTypeName = `${base}ServingDefault`;
  const taken = new Set([`${base}Signatures`, `${base}Options`]);
  if (input.signatures.serving_default !== undefined) taken.add(defaultTypeName);
  const uniqueTypeName = (signature: string) => {
    if (signature === 'serving_default') return defaultTypeName;
    const candidate = `${base}${pascalCase(signature)}`;
    let name = candidate;
    for (let n = 2; taken.has(name); n++) name = `${candidate}${n}`;
    taken.add(name);
    return name;
  };
  const skipped: string[] = [];
  const body: string[] = [];

  for (const name of Object.keys(input.signatures).sort()) {
    const sig = input.signatures[name] as SignatureSpec;
    if (name.startsWith('__')) continue; // TensorFlow's own (e.g. __saved_model_init_op), not callable
    if (sig.methodName !== PREDICT_METHOD) {
      skipped.push(`${name} (${sig.methodName || 'no method'}: call it with classify() or regress())`);
      continue;
    }
    const untypable = Object.entries(sig.inputs).filter(([, spec]) => sdkDtype(spec.dtype) === undefined);
    if (untypable.length > 0) {
      skipped.push(
        `${name} (input ${untypable.map(([a, s]) => `${a} is ${s.dtype}`).join(', ')}, which the SDK cannot send)`,
      );
      continue;
    }
    const typeName = uniqueTypeName(name);
    typed.push({ name, typeName });
    body.push(`/** Signature \`${comment(name)}\` (${comment(sig.methodName)}). */`);
    body.push(`export interface ${typeName} {`);
    if (Object.keys(sig.inputs).length === 0) body.push('  inputs: {};');
    else {
      body.push('  inputs: {');
      for (const [alias, spec] of sortedEntries(sig.inputs)) body.push(...tensorLines(alias, spec));
      body.push('  };');
    }
    body.push('  outputs: {');
    for (const [alias, spec] of sortedEntries(sig.outputs)) {
      if (sdkDtype(spec.dtype) === undefined) {
        body.push(
          `    // ${comment(propertyName(alias))}: ${comment(spec.dtype)} has no SDK dtype and is left out.`,
        );
        continue;
      }
      body.push(...tensorLines(alias, spec));
    }
    body.push('  };');
    body.push('}');
    body.push('');
  }

  const lines: string[] = [];
  lines.push('// Generated by `catwalk codegen`. Do not edit: run it again when the model changes.');
  lines.push(`// Model: ${comment(input.model)}`);
  if (input.version !== undefined) lines.push(`// Version: ${comment(String(input.version))}`);
  lines.push(`// Source: ${comment(input.source)}`);
  lines.push(`// Signatures fingerprint: ${fingerprint}`);
  if (skipped.length > 0) {
    lines.push('// Not typed here:');
    for (const s of skipped) lines.push(`//   ${comment(s)}`);
  }
  lines.push("import type { CatwalkClient, Model, ModelOptions } from '@catwalk/client';");
  lines.push('');
  lines.push(...body);

  const defaultSignature = typed.some((t) => t.name === 'serving_default')
    ? 'serving_default'
    : typed[0]?.name;
  lines.push(`/** Where these types came from. */`);
  lines.push(`export const ${factory}Source = {`);
  lines.push(`  model: ${JSON.stringify(input.model)},`);
  if (input.version !== undefined) {
    lines.push(
      `  version: ${typeof input.version === 'number' ? input.version : JSON.stringify(input.version)},`,
    );
  }
  lines.push(`  fingerprint: ${JSON.stringify(fingerprint)},`);
  lines.push('} as const;');
  lines.push('');
  if (defaultSignature === undefined) {
    lines.push(
      `// ${comment(input.model)} has no predict signature the SDK can call, so there is no typed handle.`,
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(`/** ${comment(input.model)}'s signatures by name. */`);
  lines.push(`export interface ${base}Signatures {`);
  for (const t of typed) lines.push(`  ${propertyName(t.name)}: ${t.typeName};`);
  lines.push('}');
  lines.push('');
  lines.push(
    `export type ${base}Options<K extends keyof ${base}Signatures> = Omit<ModelOptions, 'signature'> & {`,
  );
  lines.push(`  /** @default ${JSON.stringify(defaultSignature)} */`);
  lines.push('  readonly signature?: K;');
  lines.push('};');
  lines.push('');
  lines.push(`/** A typed handle on ${comment(input.model)}: \`${factory}(client).predict({...})\`. */`);
  lines.push(
    `export function ${factory}<K extends keyof ${base}Signatures = ${JSON.stringify(defaultSignature)}>(`,
  );
  lines.push('  client: CatwalkClient,');
  lines.push(`  options: ${base}Options<K> = {},`);
  lines.push(`): Model<${base}Signatures[K]> {`);
  lines.push(`  return client.model<${base}Signatures[K]>(${factory}Source.model, {`);
  lines.push('    ...options,');
  lines.push(`    signature: options.signature ?? ${JSON.stringify(defaultSignature)},`);
  lines.push('  });');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function tensorLines(alias: string, spec: TensorSpec): string[] {
  const dtype = sdkDtype(spec.dtype) as string;
  const rank = spec.shape === null ? '' : `; rank: ${spec.shape.length}`;
  const where = spec.tensorName === '' ? '' : `, tensor ${spec.tensorName}`;
  return [
    `    /** ${comment(`${spec.dtype}, shape ${formatShape(spec.shape)}${where}`)} */`,
    `    ${propertyName(alias)}: { dtype: '${dtype}'${rank} };`,
  ];
}

function sortedEntries(record: Readonly<Record<string, TensorSpec>>): Array<[string, TensorSpec]> {
  return Object.keys(record)
    .sort()
    .map((k) => [k, record[k] as TensorSpec]);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Text from the model (signature, tensor and file names are any strings) made
 * safe inside a `//` or `/** *\/` comment: a line break would end a line
 * comment and `*\/` a block comment, and what follows would be compiled.
 */
function comment(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]/g, ' ').replace(/\*\//g, '*\\/');
}

function propertyName(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0);
}

function pascalCase(name: string): string {
  const joined = words(name)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Za-z]/.test(joined) ? joined : `M${joined}`;
}

function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal[0]?.toLowerCase() + pascal.slice(1);
}

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await'.split(
    ' ',
  ),
);

function safeIdentifier(name: string): string {
  return RESERVED.has(name) ? `${name}Model` : name;
}

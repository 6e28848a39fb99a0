// Whether callers written against one version's signatures keep working
// against another's. A caller sends every input of a signature (TF Serving
// refuses a predict request whose inputs differ from the signature's) and
// reads outputs by name, so:
//   inputs   removed, added, dtype changed, or accepting fewer shapes -> breaking
//   outputs  removed, dtype changed, or producing shapes callers did not expect -> breaking
//   outputs  added, signatures added, shapes widened for inputs -> compatible
import type { SignatureSpec, TensorSpec } from './signatures.js';

export type ChangeKind =
  | 'signature-removed'
  | 'signature-added'
  | 'method-changed'
  | 'input-removed'
  | 'input-added'
  | 'output-removed'
  | 'output-added'
  | 'dtype-changed'
  | 'shape-changed';

export interface SignatureChange {
  readonly kind: ChangeKind;
  readonly breaking: boolean;
  readonly signature: string;
  /** The input or output alias, for tensor changes. */
  readonly alias?: string;
  readonly side?: 'input' | 'output';
  /** One sentence a person can act on. */
  readonly message: string;
}

export interface CompatibilityReport {
  /** True when no change is breaking. */
  readonly compatible: boolean;
  readonly breaking: readonly SignatureChange[];
  readonly compatibleChanges: readonly SignatureChange[];
  /** The checked signatures side by side: `-` lines only in the old version, `+` only in the new one. */
  readonly diff: string;
}

export interface CompareOptions {
  /**
   * Signatures callers depend on. @default ['serving_default'] plus every
   * signature the old version has when it has no serving_default.
   */
  readonly signatures?: readonly string[];
}

type Signatures = Readonly<Record<string, SignatureSpec>>;

/** A record's own entry: names come from models and users, and "constructor" is on every object's prototype. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Compares the signatures of the version being served with those of a candidate. */
export function compareSignatures(
  before: Signatures,
  after: Signatures,
  options: CompareOptions = {},
): CompatibilityReport {
  const checked = checkedSignatures(before, options);
  const changes: SignatureChange[] = [];
  for (const name of checked) {
    const old = own(before, name);
    const next = own(after, name);
    if (old === undefined) continue; // a listed signature the old version never had binds no caller
    if (next === undefined) {
      changes.push({
        kind: 'signature-removed',
        breaking: true,
        signature: name,
        message: `signature ${name} was removed`,
      });
      continue;
    }
    changes.push(...compareOne(name, old, next));
  }
  for (const name of Object.keys(after).sort()) {
    if (own(before, name) === undefined && !name.startsWith('__')) {
      changes.push({
        kind: 'signature-added',
        breaking: false,
        signature: name,
        message: `signature ${name} was added`,
      });
    }
  }
  const breaking = changes.filter((c) => c.breaking);
  return {
    compatible: breaking.length === 0,
    breaking,
    compatibleChanges: changes.filter((c) => !c.breaking),
    diff: renderDiff(before, after, checked),
  };
}

function checkedSignatures(before: Signatures, options: CompareOptions): string[] {
  if (options.signatures !== undefined) return [...new Set(options.signatures)].sort();
  if (before.serving_default !== undefined) return ['serving_default'];
  return Object.keys(before)
    .filter((name) => !name.startsWith('__'))
    .sort();
}

function compareOne(name: string, old: SignatureSpec, next: SignatureSpec): SignatureChange[] {
  const changes: SignatureChange[] = [];
  if (old.methodName !== next.methodName) {
    changes.push({
      kind: 'method-changed',
      breaking: true,
      signature: name,
      message: `signature ${name} changed its method from ${old.methodName || '(none)'} to ${next.methodName || '(none)'}`,
    });
  }
  changes.push(...compareTensors(name, 'input', old.inputs, next.inputs));
  changes.push(...compareTensors(name, 'output', old.outputs, next.outputs));
  return changes;
}

function compareTensors(
  signature: string,
  side: 'input' | 'output',
  old: Readonly<Record<string, TensorSpec>>,
  next: Readonly<Record<string, TensorSpec>>,
): SignatureChange[] {
  const changes: SignatureChange[] = [];
  const removed = Object.keys(old).filter((a) => own(next, a) === undefined);
  const added = Object.keys(next).filter((a) => own(old, a) === undefined);
  for (const alias of removed.sort()) {
    const spec = old[alias] as TensorSpec;
    // A removed and an added tensor of the same dtype and shape read as a rename.
    const twin = added.find((a) => sameTensor(next[a] as TensorSpec, spec));
    changes.push({
      kind: side === 'input' ? 'input-removed' : 'output-removed',
      breaking: true,
      signature,
      alias,
      side,
      message:
        twin === undefined
          ? `${signature}: ${side} ${alias} was removed`
          : `${signature}: ${side} ${alias} was removed (renamed to ${twin}?)`,
    });
  }
  for (const alias of added.sort()) {
    changes.push({
      kind: side === 'input' ? 'input-added' : 'output-added',
      // Callers do not send an input they do not know of, and TF Serving refuses a request that lacks one.
      breaking: side === 'input',
      signature,
      alias,
      side,
      message:
        side === 'input'
          ? `${signature}: input ${alias} was added, and callers that do not send it will be refused`
          : `${signature}: output ${alias} was added`,
    });
  }
  for (const alias of Object.keys(old).sort()) {
    const a = old[alias] as TensorSpec;
    const b = own(next, alias);
    if (b === undefined) continue;
    if (baseDtype(a.dtype) !== baseDtype(b.dtype)) {
      changes.push({
        kind: 'dtype-changed',
        breaking: true,
        signature,
        alias,
        side,
        message: `${signature}: ${side} ${alias} changed dtype from ${a.dtype} to ${b.dtype}`,
      });
    }
    // Inputs must accept everything they accepted; outputs must not produce what callers never saw.
    const ok = side === 'input' ? shapeCovers(b.shape, a.shape) : shapeCovers(a.shape, b.shape);
    if (!sameShape(a.shape, b.shape)) {
      changes.push({
        kind: 'shape-changed',
        breaking: !ok,
        signature,
        alias,
        side,
        message: `${signature}: ${side} ${alias} changed shape from ${formatShape(a.shape)} to ${formatShape(b.shape)}${
          ok
            ? ''
            : side === 'input'
              ? ' (it no longer accepts every shape it did)'
              : ' (callers may get shapes they do not expect)'
        }`,
      });
    }
  }
  return changes;
}

/** Whether every concrete shape matching `inner` also matches `outer`. */
export function shapeCovers(outer: readonly number[] | null, inner: readonly number[] | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  if (outer.length !== inner.length) return false;
  return outer.every((size, i) => size < 0 || size === inner[i]);
}

/** DT_FLOAT_REF and DT_FLOAT carry the same values to a caller. */
export function baseDtype(dtype: string): string {
  return dtype.endsWith('_REF') ? dtype.slice(0, -4) : dtype;
}

function sameShape(a: readonly number[] | null, b: readonly number[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((size, i) => size === b[i]);
}

function sameTensor(a: TensorSpec, b: TensorSpec): boolean {
  return baseDtype(a.dtype) === baseDtype(b.dtype) && sameShape(a.shape, b.shape);
}

export function formatShape(shape: readonly number[] | null): string {
  return shape === null ? '(unknown rank)' : `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
}

function renderDiff(before: Signatures, after: Signatures, names: readonly string[]): string {
  const lines: string[] = [];
  const tensorLine = (alias: string, spec: TensorSpec) =>
    `${alias}: ${spec.dtype} ${formatShape(spec.shape)}`;
  for (const name of names) {
    const old = own(before, name);
    const next = own(after, name);
    if (old === undefined && next === undefined) continue;
    const method = next?.methodName ?? old?.methodName ?? '';
    lines.push(`${old === undefined ? '+' : next === undefined ? '-' : ' '} ${name} (${method})`);
    if (old !== undefined && next !== undefined && old.methodName !== next.methodName) {
      lines.push(`-   method: ${old.methodName}`, `+   method: ${next.methodName}`);
    }
    for (const side of ['inputs', 'outputs'] as const) {
      lines.push(`    ${side}:`);
      const a = old?.[side] ?? {};
      const b = next?.[side] ?? {};
      for (const alias of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        const x = own(a, alias);
        const y = own(b, alias);
        if (x !== undefined && y !== undefined && tensorLine(alias, x) === tensorLine(alias, y)) {
          lines.push(`      ${tensorLine(alias, x)}`);
          continue;
        }
        if (x !== undefined) lines.push(`-     ${tensorLine(alias, x)}`);
        if (y !== undefined) lines.push(`+     ${tensorLine(alias, y)}`);
      }
    }
  }
  return lines.join('\n');
}

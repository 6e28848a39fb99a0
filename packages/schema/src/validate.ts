// The validation entry points: one file, or a set of files checked together
// (names and endpoints must be unique across a folder). They never throw on
// user input; every problem comes back as a Diagnostic.

import type { Diagnostic, Finding } from './diagnostics';
import { hasErrors, sortDiagnostics } from './diagnostics';
import { readSpecDocument, toDiagnostic } from './document';
import { type ResolvedModel, resolve } from './resolve';
import { semanticFindings } from './semantic';
import type { ModelSpec } from './spec';
import { structuralFindings } from './structure';

export interface SpecSource {
  /** How to name the file in messages (a path relative to where the user is). */
  readonly file: string;
  readonly text: string;
}

export interface ValidatedSpec {
  readonly file: string;
  /** Set when the spec has no errors (warnings allowed). */
  readonly spec?: ModelSpec;
  readonly model?: ResolvedModel;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ValidationReport {
  readonly valid: boolean;
  readonly results: readonly ValidatedSpec[];
  /** Every diagnostic of every file, in file and position order. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Validates spec text (YAML or JSON). */
export function validateSpecText(source: SpecSource): ValidatedSpec {
  return validateLocated(source).result;
}

type Locate = (finding: Finding) => Diagnostic;

function validateLocated(source: SpecSource): { result: ValidatedSpec; locate: Locate } {
  const document = readSpecDocument(source.text, source.file);
  if (document.syntax.length > 0) {
    return {
      result: { file: source.file, diagnostics: sortDiagnostics(document.syntax) },
      locate: document.locate,
    };
  }
  return { result: check(source.file, document.value, document.locate), locate: document.locate };
}

/** Validates an already-parsed value; diagnostics carry no line numbers. */
export function validateSpecValue(value: unknown, file = '<spec>'): ValidatedSpec {
  return check(file, value, (f) => toDiagnostic(f, file));
}

/** Validates several files, each alone and then together. */
export function validateSpecs(sources: readonly SpecSource[]): ValidationReport {
  const located = sources.map(validateLocated);
  const results = located.map((l) => l.result);
  const crossFile = uniqueness(located);
  const merged = results.map((result) => {
    const extra = crossFile.get(result.file) ?? [];
    if (extra.length === 0) return result;
    const diagnostics = sortDiagnostics([...result.diagnostics, ...extra]);
    return hasErrors(diagnostics) ? { file: result.file, diagnostics } : { ...result, diagnostics };
  });
  const diagnostics = sortDiagnostics(merged.flatMap((r) => r.diagnostics));
  return { valid: !hasErrors(diagnostics), results: merged, diagnostics };
}

function check(file: string, value: unknown, locate: Locate): ValidatedSpec {
  let findings: Finding[];
  try {
    const structural = structuralFindings(value);
    const blocked = structural.map((f) => f.path);
    // A semantic finding under a field that already failed its type/shape check would only repeat it.
    const semantic = semanticFindings(value).filter(
      (f) =>
        !blocked.some((b) => b.length <= f.path.length && b.every((segment, i) => f.path[i] === segment)),
    );
    findings = [...structural, ...semantic];
  } catch (error) {
    findings = [
      {
        code: 'internal-error',
        path: [],
        message: `the validator failed on this file: ${(error as Error).message}`,
        fix: 'please report this with the file attached',
      },
    ];
  }
  const diagnostics = sortDiagnostics(findings.map(locate));
  if (hasErrors(diagnostics)) return { file, diagnostics };
  const spec = value as ModelSpec;
  return { file, spec, model: resolve(spec), diagnostics };
}

/** Model names (and so endpoint paths and Kubernetes names) must be unique across the files validated together. */
function uniqueness(
  located: readonly { result: ValidatedSpec; locate: Locate }[],
): Map<string, Diagnostic[]> {
  const byFile = new Map<string, Diagnostic[]>();
  const group = (key: (m: ResolvedModel) => string) => {
    const groups = new Map<string, typeof located>();
    for (const entry of located) {
      if (!entry.result.model) continue;
      const k = key(entry.result.model);
      groups.set(k, [...(groups.get(k) ?? []), entry]);
    }
    return [...groups.values()].filter((g) => g.length > 1);
  };
  const report = (same: typeof located, finding: (model: ResolvedModel, others: string) => Finding) => {
    for (const entry of same) {
      const others = same
        .filter((o) => o !== entry)
        .map((o) => o.result.file)
        .join(', ');
      const file = entry.result.file;
      byFile.set(file, [...(byFile.get(file) ?? []), entry.locate(finding(entry.result.model!, others))]);
    }
  };
  for (const same of group((m) => m.name)) {
    report(same, (model, others) => ({
      code: 'duplicate-name',
      path: ['metadata', 'name'],
      message: `model name '${model.name}' is also used by ${others}; their Kubernetes objects and the endpoint ${model.endpoint.host ?? ''}${model.endpoint.path} would collide`,
      fix: 'give each model its own name',
    }));
  }
  for (const same of group((m) => m.source.uri)) {
    report(same, (model, others) => ({
      severity: 'warning',
      code: 'duplicate-source',
      path: ['spec', 'source', 'uri'],
      message: `${model.source.uri} is also the source of ${others}; pushes and releases of one model would change the other`,
      fix: 'give each model its own folder',
    }));
  }
  return byFile;
}

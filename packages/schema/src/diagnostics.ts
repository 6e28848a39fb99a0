// One shape for every problem found in a spec, whether the YAML parser, the
// JSON Schema or a semantic rule found it, so the CLI prints them alike and
// `--json` consumers get a stable structure.

export type Severity = 'error' | 'warning';

/** A path into the spec, e.g. ['spec', 'serving', 'versionLabels', 'canary'] or [..., 'specific', 1]. */
export type SpecPath = readonly (string | number)[];

export interface Diagnostic {
  readonly severity: Severity;
  /** Stable identifier of the rule, e.g. 'unknown-field', 'label-not-served'. */
  readonly code: string;
  /** The file, as the caller named it. */
  readonly file: string;
  /** Dotted path of the offending field ('' for the whole document). */
  readonly path: string;
  /** 1-based position, when the parser knows it. */
  readonly line?: number;
  readonly column?: number;
  /** What is wrong. */
  readonly message: string;
  /** How to fix it. */
  readonly fix?: string;
}

/** A diagnostic before it is tied to a file and a position. */
export interface Finding {
  readonly severity?: Severity;
  readonly code: string;
  readonly path: SpecPath;
  readonly message: string;
  readonly fix?: string;
  /** Point at the key of the last path segment rather than its value (for unknown fields). */
  readonly atKey?: boolean;
}

/** 'spec.serving.versionPolicy.specific[1]' */
export function formatPath(path: SpecPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Orders diagnostics by file, then position, then path, so output is deterministic. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      a.path.localeCompare(b.path) ||
      a.code.localeCompare(b.code),
  );
}

/** `file:line:col: error: path: message` followed by an indented fix line. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line ? `${d.file}:${d.line}:${d.column ?? 1}` : d.file;
  const field = d.path ? `${d.path}: ` : '';
  const head = `${where}: ${d.severity}: ${field}${d.message}`;
  return d.fix ? `${head}\n    fix: ${d.fix}` : head;
}

// Reading spec text (YAML or JSON, which YAML 1.2 contains) while keeping the
// source positions, so every later finding can point at a line and column.

import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import type { Diagnostic, Finding, SpecPath } from './diagnostics';
import { formatPath } from './diagnostics';

export interface SpecDocument {
  readonly file: string;
  /** The parsed value, or undefined when the text could not be read at all. */
  readonly value: unknown;
  /** Problems of the text itself (syntax, duplicate keys, several documents). */
  readonly syntax: Diagnostic[];
  /** Ties a finding to this file and its line/column. */
  locate(finding: Finding): Diagnostic;
}

interface Position {
  line: number;
  column: number;
}

export function readSpecDocument(text: string, file: string): SpecDocument {
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema: `on`, `no`, `1.10` stay what YAML 1.2 says, not YAML 1.1 booleans.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const position = (offset: number | undefined): Position | undefined => {
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const syntax: Diagnostic[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  const doc = list[0] as Document.Parsed | undefined;

  for (const d of list) {
    for (const error of d.errors) {
      syntax.push({
        severity: 'error',
        code: error.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
        file,
        path: '',
        ...position(error.pos[0]),
        message: firstLine(error.message),
        fix:
          error.code === 'DUPLICATE_KEY'
            ? 'remove one of the two entries; YAML keeps only one'
            : 'fix the YAML syntax at this position (check indentation and quoting)',
      });
    }
  }
  if (list.length > 1) {
    syntax.push({
      severity: 'error',
      code: 'multiple-documents',
      file,
      path: '',
      ...position(list[1]?.range[0]),
      message: `the file holds ${list.length} YAML documents; a spec file describes exactly one model`,
      fix: 'move each model into its own file',
    });
  }
  const empty = !doc || doc.contents === null;
  if (empty && syntax.length === 0) {
    syntax.push({
      severity: 'error',
      code: 'empty-file',
      file,
      path: '',
      message: 'the file is empty',
      fix: 'write a model spec; `catwalk init <name>` creates one',
    });
  }
  let value: unknown;
  if (syntax.length === 0 && doc) {
    try {
      // Alias expansion is capped so a "billion laughs" document cannot exhaust memory.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      syntax.push({
        severity: 'error',
        code: 'yaml-alias',
        file,
        path: '',
        message: firstLine((error as Error).message),
        fix: 'define each &anchor before its *alias, and avoid deeply nested aliases',
      });
    }
  }

  const locate = (finding: Finding): Diagnostic =>
    toDiagnostic(
      finding,
      file,
      doc && !empty ? findPosition(doc, finding.path, finding.atKey ?? false, position) : undefined,
    );
  return { file, value, syntax, locate };
}

/** A finding tied to a file, and to a position when one is known. */
export function toDiagnostic(finding: Finding, file: string, where?: Position): Diagnostic {
  return {
    severity: finding.severity ?? 'error',
    code: finding.code,
    file,
    path: formatPath(finding.path),
    ...where,
    message: finding.message,
    ...(finding.fix ? { fix: finding.fix } : {}),
  };
}

/** The deepest node on `path` that exists: a missing field is reported where its parent is. */
function findPosition(
  doc: Document.Parsed,
  path: SpecPath,
  atKey: boolean,
  position: (offset: number | undefined) => Position | undefined,
): Position | undefined {
  let node: Node | null | undefined = doc.contents as Node | null;
  let keyNode: Node | undefined;
  let best = position(node?.range?.[0]);
  for (const segment of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return best;
      keyNode = pair.key as Node;
      node = pair.value as Node | null;
      best = position((node ?? keyNode)?.range?.[0]) ?? best;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment] as Node | null;
      if (!node) return best;
      best = position(node.range?.[0]) ?? best;
    } else {
      return best;
    }
  }
  if (atKey && keyNode) return position(keyNode.range?.[0]) ?? best;
  return best;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

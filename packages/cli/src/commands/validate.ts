import { hasErrors, type ValidationReport, validateSpecs } from '@catwalk/schema';
import { readSpecSources } from '../files';
import { colors, formatDiagnostics } from '../format';
import { exitCodes, type Io } from '../io';

export interface ValidateOptions {
  readonly json?: boolean;
  /** Treat warnings as errors. */
  readonly strict?: boolean;
}

export async function validateCommand(
  paths: readonly string[],
  options: ValidateOptions,
  io: Io,
): Promise<number> {
  const report = validateSpecs(await readSpecSources(paths, io.cwd));
  const failed = (diagnostics: ValidationReport['diagnostics']) =>
    hasErrors(diagnostics) || (options.strict === true && diagnostics.length > 0);

  if (options.json) {
    const files = report.results.map((r) => ({
      file: r.file,
      valid: !failed(r.diagnostics),
      ...(r.model ? { model: r.model.name } : {}),
      diagnostics: r.diagnostics,
    }));
    io.stdout.write(`${JSON.stringify({ valid: files.every((f) => f.valid), files }, null, 2)}\n`);
    return files.every((f) => f.valid) ? exitCodes.ok : exitCodes.invalid;
  }

  const c = colors(io.color);
  let invalid = 0;
  for (const result of report.results) {
    const bad = failed(result.diagnostics);
    if (bad) invalid++;
    const mark = bad ? c.red('✗') : c.green('✓');
    const name = result.model ? ` (${result.model.name})` : '';
    io.stdout.write(`${mark} ${result.file}${name}\n`);
    if (result.diagnostics.length) io.stdout.write(indent(formatDiagnostics(result.diagnostics, c)));
  }
  const warnings = report.diagnostics.filter((d) => d.severity === 'warning').length;
  const errors = report.diagnostics.length - warnings;
  const total = report.results.length;
  const summary = `${total - invalid} of ${total} spec file${total === 1 ? '' : 's'} valid; ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  io.stdout.write(`\n${invalid ? c.red(summary) : c.green(summary)}\n`);
  return invalid ? exitCodes.invalid : exitCodes.ok;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line ? `  ${line}` : line))
    .join('\n');
}

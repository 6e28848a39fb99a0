import { type ResolvedModel, validateSpecs } from '@catwalk/schema';
import { readSpecSources } from '../files';
import { colors, formatDiagnostics } from '../format';
import { exitCodes, type Io, UserError } from '../io';

export interface LoadedModel {
  readonly file: string;
  readonly model: ResolvedModel;
}

/**
 * Reads and validates specs; prints warnings, and refuses to go on when any spec has errors.
 * `exclude` names folders never searched (a command's own output folder).
 */
export async function loadModels(
  paths: readonly string[],
  io: Io,
  options: { readonly exclude?: readonly string[] } = {},
): Promise<LoadedModel[]> {
  const report = validateSpecs(await readSpecSources(paths, io.cwd, options));
  if (report.diagnostics.length) io.stderr.write(formatDiagnostics(report.diagnostics, colors(io.color)));
  if (!report.valid) {
    const invalid = report.results.filter((r) => !r.model).length;
    throw new UserError(
      `${invalid} spec file${invalid === 1 ? ' is' : 's are'} invalid; nothing was written`,
      exitCodes.invalid,
    );
  }
  return report.results.map((r) => ({ file: r.file, model: r.model! }));
}

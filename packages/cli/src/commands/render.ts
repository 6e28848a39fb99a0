import * as path from 'node:path';
import { tfServingArgs, tfServingFiles } from '@catwalk/schema';
import { displayPath, writeFileAtomic } from '../files';
import { colors, summaryTable } from '../format';
import { exitCodes, type Io } from '../io';
import { loadModels } from './load';

/** Validates specs and writes each model's TF Serving configuration to <out>/<model>/. */
export async function renderCommand(
  paths: readonly string[],
  options: { out: string },
  io: Io,
): Promise<number> {
  const loaded = await loadModels(paths, io);
  const c = colors(io.color);
  io.stdout.write(c.green(`✓ ${loaded.length} spec file${loaded.length === 1 ? '' : 's'} valid\n\n`));
  io.stdout.write(
    summaryTable(
      loaded.map((l) => l.model),
      c,
    ),
  );
  const outDir = path.resolve(io.cwd, options.out);
  const written: string[] = [];
  for (const { model } of loaded) {
    const dir = path.join(outDir, model.name);
    const files = [
      ...tfServingFiles(model),
      { name: 'tfserving.args', contents: `${tfServingArgs(model).join('\n')}\n` },
      { name: 'resolved.json', contents: `${JSON.stringify(model, null, 2)}\n` },
    ];
    for (const file of files) {
      const target = path.join(dir, file.name);
      await writeFileAtomic(target, file.contents);
      written.push(displayPath(target, io.cwd));
    }
  }
  io.stdout.write(
    `\nwrote ${written.length} files for ${loaded.length} model${loaded.length === 1 ? '' : 's'}:\n`,
  );
  io.stdout.write(written.map((f) => `  ${f}\n`).join(''));
  return exitCodes.ok;
}

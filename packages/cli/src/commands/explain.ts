import { tfServingArgs, tfServingFiles } from '@catwalk/schema';
import { stringify } from 'yaml';
import { colors } from '../format';
import { exitCodes, type Io } from '../io';
import { loadModels } from './load';

/** Shows what Catwalk makes of one spec: the resolved model and TF Serving's files and flags. */
export async function explainCommand(file: string, options: { json?: boolean }, io: Io): Promise<number> {
  const [loaded] = await loadModels([file], io);
  const { model } = loaded!;
  const files = tfServingFiles(model);
  const args = tfServingArgs(model);
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ model, files, args }, null, 2)}\n`);
    return exitCodes.ok;
  }
  const c = colors(io.color);
  const section = (title: string) => c.bold(c.cyan(`# ${title}`));
  const out = [
    section(`resolved model (${loaded!.file})`),
    stringify(model, { lineWidth: 0 }).trimEnd(),
    '',
    ...files.flatMap((f) => [section(`${f.name}`), f.contents.trimEnd(), '']),
    section('tensorflow_model_server arguments'),
    ...args,
    '',
  ];
  io.stdout.write(out.join('\n'));
  return exitCodes.ok;
}

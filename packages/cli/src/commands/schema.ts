import * as path from 'node:path';
import { modelJsonSchema } from '@catwalk/schema';
import { writeFileAtomic } from '../files';
import { exitCodes, type Io } from '../io';

export async function schemaCommand(options: { out?: string }, io: Io): Promise<number> {
  const text = `${JSON.stringify(modelJsonSchema(), null, 2)}\n`;
  if (options.out) {
    await writeFileAtomic(path.resolve(io.cwd, options.out), text);
    io.stderr.write(`wrote ${options.out}\n`);
  } else {
    io.stdout.write(text);
  }
  return exitCodes.ok;
}

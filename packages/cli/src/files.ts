// Turning the paths a user typed into spec sources: folders are searched for
// *.yaml, *.yml and *.json, in a stable order.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SpecSource } from '@catwalk/schema';
import { exitCodes, UserError } from './io';

const SPEC_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'out']);

/** Reads every spec file named by `inputs` (files or folders), relative to `cwd`. */
export async function readSpecSources(inputs: readonly string[], cwd: string): Promise<SpecSource[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const absolute = path.resolve(cwd, input);
    const stat = await fs.stat(absolute).catch((error: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read '${input}': ${describeFsError(error)}`, exitCodes.usage);
    });
    if (stat.isDirectory()) {
      const found = await specFilesIn(absolute);
      if (found.length === 0) {
        throw new UserError(`no spec files (*.yaml, *.yml, *.json) in '${input}'`, exitCodes.usage);
      }
      files.push(...found);
    } else {
      files.push(absolute);
    }
  }
  const unique = [...new Set(files)];
  return Promise.all(
    unique.map(async (file) => {
      const shown = displayPath(file, cwd);
      const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new UserError(`cannot read '${shown}': ${describeFsError(error)}`, exitCodes.usage);
      });
      return { file: shown, text };
    }),
  );
}

async function specFilesIn(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name))
        out.push(...(await specFilesIn(full)));
    } else if (SPEC_EXTENSIONS.has(path.extname(entry.name)) && !entry.name.endsWith('.schema.json')) {
      out.push(full);
    }
  }
  return out;
}

/** Paths below the working directory are shown relative to it, others as given. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function describeFsError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return error.message;
  }
}

/**
 * Writes a file via a temporary sibling and a rename, so a reader never sees
 * half a file and an interrupted run leaves the old one intact.
 */
export async function writeFileAtomic(file: string, contents: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.writeFile(temp, contents, 'utf8');
  await fs.rename(temp, file);
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CatwalkError, createClient, type ModelMetadata } from '@catwalk/client';
import { listVersions, readRelease, versionSignatures } from '@catwalk/registry';
import {
  generatedDeclarations,
  generateTypeScriptModule,
  type ModelSignatures,
  readSignatures,
  readSignaturesFromText,
  SavedModelError,
  type SignatureSpec,
} from '@catwalk/savedmodel';
import { createTwoFilesPatch } from 'diff';
import { writeFileAtomic } from '../files';
import { colors } from '../format';
import { exitCodes, type Io, UserError } from '../io';
import { resolveTarget, type S3Flags, withRegistryErrors } from '../registry-target';

export interface CodegenFlags extends S3Flags {
  readonly out?: string;
  readonly check?: boolean;
  /** Model name (default: from the URL or the export's folder name). */
  readonly model?: string;
  readonly version?: string;
  readonly label?: string;
}

/** Where signatures were read from, ready for the generator. */
export interface SignatureSource {
  readonly model: string;
  readonly version?: number | undefined;
  readonly source: string;
  readonly signatures: Readonly<Record<string, SignatureSpec>>;
}

/** `catwalk codegen`: one TypeScript module of typed handles for one model. */
export async function codegenCommand(target: string, flags: CodegenFlags, io: Io): Promise<number> {
  if (flags.check && !flags.out) {
    throw new UserError('--check compares a file: name it with --out <file.ts>', exitCodes.usage);
  }
  const found = await readSignatureSource(target, flags, io);
  const text = generateTypeScriptModule(found);
  if (!flags.out) {
    io.stdout.write(text);
    return exitCodes.ok;
  }
  const out = path.resolve(io.cwd, flags.out);
  const shown = path.relative(io.cwd, out) || flags.out;
  const c = colors(io.color);
  if (flags.check) {
    const current = await fs.readFile(out, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new UserError(`cannot read ${shown}: ${error.message}`);
    });
    if (current === undefined) {
      io.stderr.write(`catwalk: ${shown} does not exist; write it with: ${regenerate(target, flags)}\n`);
      return exitCodes.invalid;
    }
    // The Source line says where the file was generated, which may be another host or checkout.
    const committed = generatedDeclarations(current);
    const wanted = generatedDeclarations(text);
    if (committed === wanted) {
      io.stdout.write(c.green(`✓ ${shown} is up to date with ${found.source}\n`));
      return exitCodes.ok;
    }
    io.stdout.write(
      createTwoFilesPatch(`${shown} (committed)`, `${shown} (from ${found.source})`, committed, wanted),
    );
    io.stderr.write(`catwalk: ${shown} is out of date; regenerate it with: ${regenerate(target, flags)}\n`);
    return exitCodes.invalid;
  }
  await writeFileAtomic(out, text);
  const names = Object.keys(found.signatures).filter((s) => !s.startsWith('__'));
  const typed = (text.match(/^\/\*\* Signature `/gm) ?? []).length;
  const left = names.length - typed;
  io.stdout.write(
    `wrote ${shown}: ${found.model}${found.version === undefined ? '' : ` version ${found.version}`}, ${typed} typed signature${typed === 1 ? '' : 's'}${left > 0 ? ` (${left} left out, listed in its header)` : ''}\n`,
  );
  return exitCodes.ok;
}

function regenerate(target: string, flags: CodegenFlags): string {
  const extra = [
    flags.model ? `--model ${flags.model}` : '',
    flags.version ? `--version ${flags.version}` : '',
    flags.label ? `--label ${flags.label}` : '',
  ].filter(Boolean);
  return ['catwalk codegen', target, ...extra, `--out ${flags.out}`].join(' ');
}

/** Reads a model's signatures from an export folder or a running TF Serving. */
export async function readSignatureSource(
  target: string,
  flags: CodegenFlags,
  io: Io,
): Promise<SignatureSource> {
  if (/^https?:\/\//i.test(target)) return readFromServer(target, flags);
  if (/^s3:\/\//i.test(target) || /\.(ya?ml|json)$/i.test(target)) return readFromRegistry(target, flags, io);
  return readFromExport(path.resolve(io.cwd, target), target, flags);
}

const VERSION_FOLDER = /^\d+$/;

async function readFromExport(dir: string, shown: string, flags: CodegenFlags): Promise<SignatureSource> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new UserError(
      `${shown}: no such folder; point codegen at a SavedModel export (the folder with saved_model.pb)`,
    );
  }
  let versionDir = dir;
  if (!(await hasSavedModel(dir))) {
    const versions: number[] = [];
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (
        entry.isDirectory() &&
        VERSION_FOLDER.test(entry.name) &&
        (await hasSavedModel(path.join(dir, entry.name)))
      ) {
        versions.push(Number(entry.name));
      }
    }
    if (versions.length === 0) {
      throw new UserError(
        `${shown}: holds no saved_model.pb or saved_model.pbtxt, nor numbered version folders with one; point codegen at a SavedModel export`,
      );
    }
    const wanted = flags.version === undefined ? Math.max(...versions) : Number(flags.version);
    const folder = (await fs.readdir(dir)).find(
      (name) => VERSION_FOLDER.test(name) && Number(name) === wanted,
    );
    if (!versions.includes(wanted) || folder === undefined) {
      throw new UserError(
        `${shown}: no version ${flags.version}; it holds versions ${versions.sort((a, b) => a - b).join(', ')}`,
      );
    }
    versionDir = path.join(dir, folder);
  }
  const base = path.basename(versionDir);
  const numbered = VERSION_FOLDER.test(base);
  const model = flags.model ?? path.basename(numbered ? path.dirname(versionDir) : versionDir);
  const read = await readExportSignatures(versionDir, path.join(shown, path.relative(dir, versionDir)));
  return {
    model,
    version: numbered ? Number(base) : undefined,
    source: path.relative(path.dirname(path.resolve(dir)), versionDir) || base,
    signatures: read.signatures,
  };
}

async function hasSavedModel(dir: string): Promise<boolean> {
  for (const file of ['saved_model.pb', 'saved_model.pbtxt']) {
    if ((await fs.stat(path.join(dir, file)).catch(() => undefined))?.isFile()) return true;
  }
  return false;
}

/** The signatures of one version folder, from saved_model.pb or else saved_model.pbtxt. */
export async function readExportSignatures(dir: string, shown: string): Promise<ModelSignatures> {
  try {
    const pb = await fs.readFile(path.join(dir, 'saved_model.pb')).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    });
    if (pb !== undefined) return readSignatures(pb, { source: path.join(shown, 'saved_model.pb') });
    const text = await fs.readFile(path.join(dir, 'saved_model.pbtxt'), 'utf8');
    return readSignaturesFromText(text, { source: path.join(shown, 'saved_model.pbtxt') });
  } catch (error) {
    if (error instanceof SavedModelError) throw new UserError(error.message);
    throw new UserError(`${shown}: ${(error as Error).message}`);
  }
}

/**
 * A pushed version's signatures, from its manifest (recorded at push), or
 * for a version pushed before that, from its saved_model.pb in the registry
 * (read-only), checked against the manifest's sha256. The version is
 * --version, else --label's, else the one labelled stable, else the newest
 * served one, else the newest complete one.
 */
async function readFromRegistry(target: string, flags: CodegenFlags, io: Io): Promise<SignatureSource> {
  // s3://bucket/models/pricing/3 names a version; s3://bucket/models/pricing the model.
  const pinned = /^(s3:\/\/.+?)\/(\d+)\/?$/i.exec(target);
  const modelRef = pinned ? (pinned[1] as string) : target;
  const version = pinned ? (pinned[2] as string) : flags.version;
  if (version !== undefined && flags.label !== undefined) {
    throw new UserError('name a version or a label, not both', exitCodes.usage);
  }
  if (version !== undefined && !/^\d+$/.test(version)) {
    throw new UserError(`--version '${version}' is not a version number`, exitCodes.usage);
  }
  const t = await resolveTarget(modelRef, flags, io);
  const { location } = t;
  return withRegistryErrors(async () => {
    const versions = await listVersions(t.client, location);
    const complete = versions.filter((v) => v.state === 'complete' && v.manifest);
    const current = await readRelease(t.client, location, t.initial, versions);
    let wanted: number | undefined;
    if (version !== undefined) wanted = Number(version);
    else if (flags.label !== undefined) {
      wanted = current.state.labels[flags.label];
      if (wanted === undefined) {
        const labels = Object.keys(current.state.labels).sort();
        throw new UserError(
          `${t.display}: no label ${flags.label}; labels are ${labels.join(', ') || '(none)'}; move one with 'catwalk release'`,
        );
      }
    } else {
      wanted =
        current.state.labels.stable ??
        current.state.serve.at(-1) ??
        complete
          .map((v) => v.version)
          .sort((a, b) => a - b)
          .at(-1);
    }
    const found = complete.find((v) => v.version === wanted);
    const other = versions.find((v) => v.version === wanted && v.state !== 'complete');
    if (other !== undefined) {
      throw new UserError(
        `${t.display}: version ${wanted} is ${other.state}${other.problem ? ` (${other.problem})` : ''}; pick another with --version or --label`,
      );
    }
    if (wanted === undefined || found?.manifest === undefined) {
      throw new UserError(
        wanted === undefined
          ? `${t.display}: no complete version yet; push one with 'catwalk push <export> --model ${target}'`
          : `${t.display}: version ${wanted} is not a complete version (complete: ${complete.map((v) => v.version).join(', ') || 'none'})`,
      );
    }
    // Recorded in the manifest at push; a version pushed before that is read from its SavedModel in S3.
    const read = await versionSignatures(t.client, location, found.manifest);
    if (read.from === 'unknown') {
      throw new UserError(
        read.problem.startsWith('s3://') ? read.problem : `${t.display}: version ${wanted}: ${read.problem}`,
      );
    }
    return {
      model: flags.model ?? location.name,
      version: wanted,
      source: `s3://${location.bucket}/${[location.prefix, String(wanted)].filter((p) => p !== '').join('/')}`,
      signatures: read.signatures.signatures,
    };
  }, t);
}

/** A TF Serving URL: http(s)://host:port[/prefix]/v1/models/<name>[/versions/<n>|/labels/<l>]. */
export function parseServingUrl(
  text: string,
  flags: Pick<CodegenFlags, 'model' | 'version' | 'label'>,
): { baseUrl: string; model: string; version?: number; label?: string } {
  const url = new URL(text);
  const match = /^(.*?)\/v1\/models\/([^/]+)(?:\/versions\/(\d+)|\/labels\/([^/]+))?\/?$/.exec(url.pathname);
  const model = flags.model ?? (match ? decodeURIComponent(match[2] as string) : undefined);
  if (model === undefined) {
    throw new UserError(
      `${text}: name the model, as http(s)://host:port/v1/models/<name> or with --model <name>`,
      exitCodes.usage,
    );
  }
  const prefix = match ? (match[1] as string) : url.pathname.replace(/\/$/, '');
  const version = flags.version ?? match?.[3];
  const label = flags.label ?? (match?.[4] === undefined ? undefined : decodeURIComponent(match[4]));
  if (version !== undefined && label !== undefined) {
    throw new UserError('name a version or a label, not both', exitCodes.usage);
  }
  if (version !== undefined && !/^\d+$/.test(version)) {
    throw new UserError(`--version '${version}' is not a version number`, exitCodes.usage);
  }
  return {
    baseUrl: `${url.origin}${prefix}`,
    model,
    ...(version === undefined ? {} : { version: Number(version) }),
    ...(label === undefined ? {} : { label }),
  };
}

async function readFromServer(text: string, flags: CodegenFlags): Promise<SignatureSource> {
  const where = parseServingUrl(text, flags);
  const client = createClient({ baseUrl: where.baseUrl, timeoutMs: 15_000 });
  try {
    const handle = client.model(where.model, {
      ...(where.version === undefined ? {} : { version: where.version }),
      ...(where.label === undefined ? {} : { label: where.label }),
    });
    const metadata = await handle.metadata();
    return {
      model: where.model,
      version: metadata.version || undefined,
      source: `${where.baseUrl}/v1/models/${where.model}`,
      signatures: signaturesFromMetadata(metadata),
    };
  } catch (error) {
    throw sdkUserError(error);
  } finally {
    await client.close();
  }
}

/** The SDK's metadata in the SavedModel reader's terms. */
export function signaturesFromMetadata(metadata: ModelMetadata): Record<string, SignatureSpec> {
  const out: Record<string, SignatureSpec> = {};
  for (const name of Object.keys(metadata.signatures).sort()) {
    const sig = metadata.signatures[name]!;
    const side = (tensors: ModelMetadata['signatures'][string]['inputs']) =>
      Object.fromEntries(
        Object.keys(tensors)
          .sort()
          .map((alias) => {
            const t = tensors[alias]!;
            return [alias, { dtype: t.tfDtype, shape: t.shape ?? null, tensorName: t.tensorName }];
          }),
      );
    out[name] = { methodName: sig.methodName, inputs: side(sig.inputs), outputs: side(sig.outputs) };
  }
  return out;
}

/** The SDK's typed errors as one line for the user: code, message, no stack. */
export function sdkUserError(error: unknown): unknown {
  if (error instanceof UserError) return error;
  if (error instanceof CatwalkError) return new UserError(`${error.code}: ${error.message}`);
  return error;
}

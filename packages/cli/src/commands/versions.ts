import {
  listVersions,
  type RecordedSignatures,
  readRelease,
  recordedSignatures,
  type VersionInfo,
  verifyVersion,
} from '@catwalk/registry';
import { formatShape, type TensorSpec } from '@catwalk/savedmodel';
import { describeBytes } from '@catwalk/schema';
import Table from 'cli-table3';
import { colors } from '../format';
import { exitCodes, type Io } from '../io';
import { resolveTarget, type S3Flags, toUserError, withRegistryErrors } from '../registry-target';

export async function versionsCommand(
  model: string,
  flags: S3Flags & { json?: boolean; verify?: boolean; signatures?: boolean },
  io: Io,
): Promise<number> {
  const target = await resolveTarget(model, flags, io);
  const { versions, current } = await withRegistryErrors(async () => {
    const listed = await listVersions(target.client, target.location);
    // --verify: read every complete version back; a same-size overwrite only shows in the bytes.
    const versions: VersionInfo[] = [];
    for (const v of listed) {
      const problem =
        flags.verify && v.state === 'complete'
          ? await verifyVersion(target.client, target.location, v.manifest!)
          : undefined;
      versions.push(problem ? { ...v, state: 'corrupt', problem } : v);
    }
    return { versions, current: await readRelease(target.client, target.location, target.initial, versions) };
  }, target);
  const damaged = flags.verify === true && versions.some((v) => v.state === 'corrupt');
  const labelsOf = (v: number) =>
    Object.entries(current.state.labels)
      .filter(([, version]) => version === v)
      .map(([label]) => label);
  const size = (v: VersionInfo) => v.manifest?.totalBytes ?? v.storedBytes;
  // Recorded at push; versions pushed before that (or whose SavedModel could not be read) have none.
  const signaturesOf = (v: VersionInfo): RecordedSignatures | undefined => {
    if (v.state !== 'complete' || !v.manifest) return undefined;
    try {
      return recordedSignatures(v.manifest, `version ${v.version}`);
    } catch (error) {
      throw toUserError(error);
    }
  };
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          model: target.location.name,
          release: { generation: current.generation, fromSpec: !current.release, ...current.state },
          versions: versions.map((v) => ({
            version: v.version,
            state: v.state,
            bytes: size(v),
            pushedAt: v.manifest?.pushedAt ?? null,
            pushedBy: v.manifest?.pushedBy ?? null,
            served: current.state.serve.includes(v.version),
            labels: labelsOf(v.version),
            ...(flags.signatures ? { signatures: signaturesOf(v) ?? null } : {}),
            ...(v.problem ? { problem: v.problem } : {}),
          })),
        },
        null,
        2,
      )}\n`,
    );
    return damaged ? exitCodes.invalid : exitCodes.ok;
  }
  const c = colors(io.color);
  if (versions.length === 0) {
    io.stdout.write(
      `no versions under ${target.display}; push one with 'catwalk push <export> --model ${model}'\n`,
    );
    return exitCodes.ok;
  }
  const table = new Table({
    head: ['version', 'state', 'size', 'pushed at', 'pushed by', 'served', 'labels'],
    style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [] },
  });
  const state = (v: VersionInfo) =>
    v.state === 'complete' ? c.green(v.state) : v.state === 'corrupt' ? c.red(v.state) : c.yellow(v.state);
  // Numbers kept only so they are never used again hold nothing to serve: one line, not rows.
  const retired = (v: VersionInfo) => v.state === 'pruned' || v.state === 'abandoned';
  for (const v of versions.filter((x) => !retired(x))) {
    table.push([
      String(v.version),
      state(v),
      describeBytes(size(v)),
      v.manifest?.pushedAt.replace(/\.\d+Z$/, 'Z') ?? '',
      v.manifest?.pushedBy ?? v.claim?.pushedBy ?? '',
      current.state.serve.includes(v.version) ? 'yes' : '',
      labelsOf(v.version).join(' '),
    ]);
  }
  io.stdout.write(`${table.toString()}\n`);
  const release = current.release
    ? `release generation ${current.generation}, by ${current.release.updatedBy} at ${current.release.updatedAt}`
    : 'no release.json yet: the spec (or latest 1) decides what is served';
  io.stdout.write(`${release}\n`);
  const numbers = (state: VersionInfo['state']) =>
    versions.filter((v) => v.state === state).map((v) => v.version);
  const kept = [
    ...(numbers('pruned').length ? [`pruned ${numbers('pruned').join(', ')}`] : []),
    ...(numbers('abandoned').length ? [`abandoned by dead pushes ${numbers('abandoned').join(', ')}`] : []),
  ];
  if (kept.length) io.stdout.write(`numbers never used again: ${kept.join('; ')}\n`);
  for (const v of versions.filter((x) => x.problem))
    io.stdout.write(`${c.red(`version ${v.version}`)}: ${v.problem}\n`);
  if (flags.signatures)
    io.stdout.write(
      signatureTable(
        versions.filter((v) => !retired(v)),
        signaturesOf,
        io,
      ),
    );
  return damaged ? exitCodes.invalid : exitCodes.ok;
}

/** One row per version and signature: its method, inputs and outputs (name, dtype, shape). */
function signatureTable(
  versions: readonly VersionInfo[],
  signaturesOf: (v: VersionInfo) => RecordedSignatures | undefined,
  io: Io,
): string {
  const table = new Table({
    head: ['version', 'signature', 'method', 'inputs', 'outputs'],
    style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [] },
  });
  for (const v of versions) {
    const recorded = signaturesOf(v);
    if (!recorded) {
      const why =
        v.state === 'complete'
          ? 'not recorded (pushed before signatures were, or its SavedModel could not be read)'
          : `none (${v.state})`;
      table.push([String(v.version), { colSpan: 4, content: why }]);
      continue;
    }
    const tensors = (side: Readonly<Record<string, TensorSpec>>) =>
      Object.keys(side)
        .sort()
        .map((alias) => `${alias}: ${side[alias]!.dtype} ${formatShape(side[alias]!.shape)}`)
        .join('\n');
    for (const name of Object.keys(recorded.signatures).filter((n) => !n.startsWith('__'))) {
      const sig = recorded.signatures[name]!;
      table.push([String(v.version), name, sig.methodName, tensors(sig.inputs), tensors(sig.outputs)]);
    }
  }
  return `${table.toString()}\n`;
}

import {
  checkReleaseSignatures,
  describeState,
  listVersions,
  planRelease,
  type ReleaseRequest,
  type ReleaseResult,
  type ReleaseState,
  readRelease,
  release,
  rollback,
  type SignatureCheckResult,
} from '@catwalk/registry';
import { exitCodes, type Io, UserError } from '../io';
import {
  parseVersion,
  parseVersionList,
  resolveTarget,
  type S3Flags,
  type Target,
  withRegistryErrors,
} from '../registry-target';

export interface ReleaseFlags extends S3Flags {
  serve?: string;
  label?: string[];
  ifGeneration?: string;
  /** --no-verify sets it false. */
  verify?: boolean;
  json?: boolean;
  allowBreaking?: boolean;
}

/** "stable=3" -> ['stable', 3]; "canary=" -> ['canary', null] (remove). */
function parseLabel(text: string): [string, number | null] {
  const match = /^([^=/:\s]+)=(\d*)$/.exec(text);
  if (!match) {
    throw new UserError(
      `--label '${text}': write label=version (e.g. stable=3), or label= to remove it`,
      exitCodes.usage,
    );
  }
  return [match[1]!, match[2] === '' ? null : Number(match[2])];
}

export function printRelease(result: ReleaseResult, what: string, json: boolean | undefined, io: Io): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(result.release, null, 2)}\n`);
    return;
  }
  io.stdout.write(
    `${what}: generation ${result.release.generation}: ${describeState(result.release)}\n` +
      `  was: ${describeState(result.previous)}\n`,
  );
}

export async function releaseCommand(model: string, flags: ReleaseFlags, io: Io): Promise<number> {
  const serve = flags.serve !== undefined ? parseVersionList(flags.serve, '--serve') : undefined;
  const labels = Object.fromEntries((flags.label ?? []).map(parseLabel));
  const expectGeneration =
    flags.ifGeneration !== undefined ? parseVersion(flags.ifGeneration, '--if-generation') : undefined;
  const target = await resolveTarget(model, flags, io);
  const request: ReleaseRequest = { ...(serve ? { serve } : {}), labels };
  const { result, checked } = await withRegistryErrors(async () => {
    const checked = await checkSignatures(target, request, flags.allowBreaking === true);
    // The check read one generation of release.json: write the next one only if it is still that one.
    const generation = expectGeneration ?? checked?.generation;
    const result = await release({
      client: target.client,
      location: target.location,
      ...(target.model ? { initial: target.initial } : {}),
      request,
      ...(generation !== undefined ? { expectGeneration: generation } : {}),
      ...(flags.verify === false ? { verify: false } : {}),
    });
    return { result, checked };
  }, target);
  printRelease(result, `released ${target.location.name}`, flags.json, io);
  if (checked) printSignatureCheck(checked.result, flags.json === true, io);
  return exitCodes.ok;
}

/**
 * The signature check of `catwalk release`: the versions the release starts
 * serving, and the version it labels stable, against the version labelled
 * stable now (or, on a first release, the one it labels stable; with no
 * stable label at all, the highest version served now). Undefined
 * when the request itself is refused: release() then says why, as before.
 */
async function checkSignatures(
  target: Target,
  request: ReleaseRequest,
  allowBreaking: boolean,
): Promise<{ generation: number; result: SignatureCheckResult } | undefined> {
  const { client, location } = target;
  const versions = await listVersions(client, location);
  const current = await readRelease(client, location, target.initial, versions);
  const pruning = new Set(current.release?.pruning ?? []);
  const complete = new Set(
    versions.filter((v) => v.state === 'complete' && !pruning.has(v.version)).map((v) => v.version),
  );
  let next: ReleaseState;
  try {
    next = planRelease(current.state, request, complete);
  } catch {
    return undefined;
  }
  const stableNow = current.state.labels.stable;
  // Before the first release.json, what the spec's policy serves was never checked: all of it is new.
  const served = current.release ? current.state.serve : [];
  const to = next.serve.filter((v) => !served.includes(v));
  if (next.labels.stable !== undefined && next.labels.stable !== stableNow) to.push(next.labels.stable);
  const result = await checkReleaseSignatures({
    store: client,
    model: location,
    from: stableNow ?? next.labels.stable,
    // No version labelled stable (a model without labels, or stable removed): what is served now is the baseline.
    served,
    to,
    // Signatures the spec says callers depend on besides serving_default.
    ...(target.model?.serving.signatures ? { signatureNames: target.model.serving.signatures } : {}),
    allowBreaking,
    versions,
  });
  return { generation: current.generation, result };
}

/** What the check let through: compatible additions, breaking changes allowed, versions it could not read. */
export function printSignatureCheck(result: SignatureCheckResult, json: boolean, io: Io): void {
  const against = result.baseline ? `${result.baseline.role} version ${result.baseline.version}` : '';
  for (const u of result.unchecked) {
    io.stderr.write(
      `warning: the signatures of version ${u.version} were not checked against ${against}: ${u.reason}\n`,
    );
  }
  for (const change of result.allowed) {
    io.stderr.write(
      `warning: version ${change.version} breaks callers (--allow-breaking): ${change.message}\n`,
    );
  }
  if (json || result.additions.length === 0) return;
  io.stdout.write(`compatible with the signatures of ${against}:\n`);
  for (const change of result.additions) io.stdout.write(`  version ${change.version}: ${change.message}\n`);
}

/**
 * `catwalk rollback` does not check signatures: it is the emergency path
 * back to a version that served callers before, and refusing it over an
 * interface change would keep the version being rolled back live.
 */
export async function rollbackCommand(
  model: string,
  flags: S3Flags & { to?: string; ifGeneration?: string; verify?: boolean; json?: boolean },
  io: Io,
): Promise<number> {
  const to = flags.to !== undefined ? parseVersion(flags.to, '--to') : undefined;
  const target = await resolveTarget(model, flags, io);
  const result = await withRegistryErrors(
    () =>
      rollback({
        client: target.client,
        location: target.location,
        ...(target.model ? { initial: target.initial } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(flags.ifGeneration !== undefined
          ? { expectGeneration: parseVersion(flags.ifGeneration, '--if-generation') }
          : {}),
        ...(flags.verify === false ? { verify: false } : {}),
      }),
    target,
  );
  printRelease(
    result,
    `rolled ${target.location.name} back from ${result.from} to ${result.to}`,
    flags.json,
    io,
  );
  return exitCodes.ok;
}

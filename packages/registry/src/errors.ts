// Every failure the registry reports on purpose: one class per known case,
// each with a literal name, whose fault it is and whether trying again can
// help. Callers (the CLI, the sidecar) print `message` as is: it names the
// file, key or version at fault and says what to do.

export type Fault = 'client' | 'server';

export abstract class RegistryError extends Error {
  abstract override readonly name: string;
  abstract readonly fault: Fault;
  /** Whether the same call may succeed later without anyone changing anything. */
  readonly retryable: boolean = false;
}

/** The folder given to push is not a SavedModel export. */
export class InvalidExportError extends RegistryError {
  override readonly name = 'InvalidExportError';
  readonly fault = 'client';
  constructor(
    readonly dir: string,
    readonly problems: readonly string[],
  ) {
    super(`${dir} is not a SavedModel export:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The version asked for is already complete: versions are immutable. */
export class VersionExistsError extends RegistryError {
  override readonly name = 'VersionExistsError';
  readonly fault = 'client';
}

/** The export holds exactly the files of a complete version: pushing it again would only add a duplicate. */
export class IdenticalExportError extends RegistryError {
  override readonly name = 'IdenticalExportError';
  readonly fault = 'client';
  constructor(
    readonly version: number,
    message: string,
  ) {
    super(message);
  }
}

/** A file of the export changed while push was reading it: what was sent is not what was hashed. */
export class ExportChangedError extends RegistryError {
  override readonly name = 'ExportChangedError';
  readonly fault = 'client';
}

/** A write lost a compare-and-swap (release.json generation, a version claim). */
export class ConflictError extends RegistryError {
  override readonly name = 'ConflictError';
  readonly fault = 'client';
}

/** The S3 server ignores If-None-Match / If-Match on writes, so concurrent writers cannot be kept apart. */
export class ConditionalWritesUnsupportedError extends RegistryError {
  override readonly name = 'ConditionalWritesUnsupportedError';
  readonly fault = 'server';
}

/** A manifest or release.json that cannot be trusted: bad JSON, missing fields, unsafe paths. */
export class InvalidRecordError extends RegistryError {
  override readonly name = 'InvalidRecordError';
  readonly fault = 'server';
}

/** Something asked for does not exist (a version, a label, the model folder). */
export class NotFoundError extends RegistryError {
  override readonly name = 'NotFoundError';
  readonly fault = 'client';
}

/** A downloaded file does not match its manifest entry (size or sha256). */
export class ChecksumMismatchError extends RegistryError {
  override readonly name = 'ChecksumMismatchError';
  readonly fault = 'server';
  override readonly retryable = true;
}

/** Bad arguments to a registry call (release of an unknown version, keep < 0, ...). */
export class UsageError extends RegistryError {
  override readonly name = 'UsageError';
  readonly fault = 'client';
}

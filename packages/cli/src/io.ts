// The CLI's only window on the world: streams, the working directory and the
// environment, handed in so tests run commands in-process with real files.

export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly cwd: string;
  /** Colour output; off for pipes, NO_COLOR and --no-color. */
  readonly color: boolean;
  /** Standard input, for commands that read `-`; absent where there is none. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
}

/** Exit codes: 0 all good, 1 invalid input (specs, files), 2 usage errors. */
export const exitCodes = { ok: 0, invalid: 1, usage: 2 } as const;

/** A failure the user can fix, reported as one message with no stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.invalid,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

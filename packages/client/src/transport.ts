// What the model handle asks of a transport. REST and gRPC implement the same
// calls; retries, deadlines, hooks and validation live above, in client.ts.
import type { CatwalkErrorDetails, ErrorCode } from './errors.js';
import type { ExampleInput } from './examples.js';
import type { ModelMetadata, Signature } from './metadata.js';
import type { Tensor } from './tensor.js';

export type TransportKind = 'rest' | 'grpc';

export interface Target {
  readonly model: string;
  readonly version?: number | undefined;
  readonly label?: string | undefined;
  readonly signature?: string | undefined;
}

export interface AttemptContext {
  /** The caller's signal, if any; the deadline is enforced separately. */
  readonly signal: AbortSignal | undefined;
  /** Absolute deadline (ms since the epoch) shared by every attempt. */
  readonly deadline: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly requestId: string;
}

export interface ExamplesInput {
  readonly examples: readonly ExampleInput[];
  /** Features shared by every example. */
  readonly context?: ExampleInput | undefined;
}

export interface PredictCall {
  readonly inputs: Readonly<Record<string, Tensor>>;
  /** REST only: "columnar" sends `inputs`, "row" sends `instances`. */
  readonly format: 'columnar' | 'row';
  readonly outputFilter?: readonly string[] | undefined;
  /** The signature when known: gives REST outputs their names and dtypes. */
  readonly signature?: Signature | undefined;
}

export interface ClassLabel {
  readonly label: string;
  readonly score: number;
}

export type ModelState = 'UNKNOWN' | 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface VersionStatus {
  readonly version: number;
  readonly state: ModelState;
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

export interface InferenceTask {
  readonly method: 'classify' | 'regress';
  readonly signature?: string | undefined;
}

export interface InferenceResult {
  readonly model: string;
  readonly version: number;
  readonly signature: string;
  readonly classifications?: ClassLabel[][];
  readonly regressions?: number[];
}

export interface PredictResult {
  readonly outputs: Record<string, Tensor>;
  /** The version that answered, when the transport says (gRPC does; REST does not). */
  readonly version: number | undefined;
}

export interface Transport {
  readonly kind: TransportKind;
  predict(target: Target, call: PredictCall, ctx: AttemptContext): Promise<PredictResult>;
  classify(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<ClassLabel[][]>;
  regress(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<number[]>;
  multiInference(
    target: Target,
    tasks: readonly InferenceTask[],
    input: ExamplesInput,
    ctx: AttemptContext,
  ): Promise<InferenceResult[]>;
  metadata(target: Target, ctx: AttemptContext): Promise<ModelMetadata>;
  status(target: Target, ctx: AttemptContext): Promise<VersionStatus[]>;
  close(): Promise<void>;
}

/** Error details that name the target, for transports building errors. */
export function targetDetails(
  target: Target,
  ctx: AttemptContext,
  kind: TransportKind,
): Partial<CatwalkErrorDetails> {
  return {
    model: target.model,
    version: target.version,
    label: target.label,
    requestId: ctx.requestId,
    transport: kind,
  };
}

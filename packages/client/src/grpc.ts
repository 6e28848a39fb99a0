import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials as grpcCredentials,
  Metadata,
  type MethodDefinition,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import { decodeTensor } from './codec.js';
import { codeFromGrpc, errorFromCode, UnavailableError } from './errors.js';
import { exampleToProto } from './examples-proto.js';
import { Code } from './generated/proto/tensorflow/core/protobuf/error_codes_pb.js';
import type { ClassificationResult } from './generated/proto/tensorflow_serving/apis/classification_pb.js';
import { ClassificationRequestSchema } from './generated/proto/tensorflow_serving/apis/classification_pb.js';
import { GetModelMetadataRequestSchema } from './generated/proto/tensorflow_serving/apis/get_model_metadata_pb.js';
import {
  GetModelStatusRequestSchema,
  ModelVersionStatus_State,
} from './generated/proto/tensorflow_serving/apis/get_model_status_pb.js';
import { MultiInferenceRequestSchema } from './generated/proto/tensorflow_serving/apis/inference_pb.js';
import type { InputSchema } from './generated/proto/tensorflow_serving/apis/input_pb.js';
import { ReloadConfigRequestSchema } from './generated/proto/tensorflow_serving/apis/model_management_pb.js';
import type { ModelSpecSchema } from './generated/proto/tensorflow_serving/apis/model_pb.js';
import type { PredictResponse } from './generated/proto/tensorflow_serving/apis/predict_pb.js';
import { RegressionRequestSchema } from './generated/proto/tensorflow_serving/apis/regression_pb.js';
import type { ModelServerConfigSchema } from './generated/proto/tensorflow_serving/config/model_server_config_pb.js';
import { modelServiceDefinition, predictionServiceDefinition } from './grpc-service.js';
import type { ModelMetadata } from './metadata.js';
import { metadataFromProto } from './metadata-proto.js';
import { encodePredictRequest } from './predict-wire.js';
import type { Tensor } from './tensor.js';
import {
  type AttemptContext,
  type ClassLabel,
  type ExamplesInput,
  type InferenceResult,
  type InferenceTask,
  type ModelState,
  type PredictCall,
  type PredictResult,
  type Target,
  type Transport,
  targetDetails,
  type VersionStatus,
} from './transport.js';

export interface GrpcOptions {
  /** host:port of TF Serving's gRPC port (8500 by default on the server). */
  readonly address: string;
  /** @default insecure (plaintext) */
  readonly credentials?: ChannelCredentials;
  /** Extra grpc-js channel options; they override the SDK's defaults. */
  readonly channelOptions?: ChannelOptions;
}

/** Channel defaults: keep connections alive through idle periods, and accept messages as large as TF Serving sends (INT32_MAX). */
const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // grpc-js only retries on its own when a service config asks for it (none
  // is set), so its retries never stack on the SDK's.
};

type Method = MethodDefinition<unknown, unknown>;

/** Predict with a request that is already serialized. */
const PREDICT_BYTES: Method = {
  ...(predictionServiceDefinition.predict as Method),
  requestSerialize: (bytes: unknown) => bytes as Buffer,
};

export class GrpcTransport implements Transport {
  readonly kind = 'grpc' as const;
  private readonly client: Client;
  readonly address: string;

  constructor(options: GrpcOptions) {
    this.address = options.address;
    this.client = new Client(options.address, options.credentials ?? grpcCredentials.createInsecure(), {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...options.channelOptions,
    });
  }

  async predict(target: Target, call: PredictCall, ctx: AttemptContext): Promise<PredictResult> {
    // The request is written straight from the tensors (see predict-wire.ts),
    // so the call sends ready bytes.
    const request = encodePredictRequest(target, call.inputs, call.outputFilter);
    const response = await this.unary<unknown, PredictResponse>(PREDICT_BYTES, request, target, ctx);
    const outputs: Record<string, Tensor> = {};
    for (const [alias, proto] of Object.entries(response.outputs))
      outputs[alias] = decodeTensor(proto, { alias });
    const choice = response.modelSpec?.versionChoice;
    return { outputs, version: choice?.case === 'version' ? Number(choice.value.value) : undefined };
  }

  async classify(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<ClassLabel[][]> {
    const request = create(ClassificationRequestSchema, {
      modelSpec: modelSpec(target),
      input: inputProto(input),
    });
    const response = await this.unary<unknown, { result?: ClassificationResult }>(
      predictionServiceDefinition.classify as Method,
      request,
      target,
      ctx,
    );
    return classificationsOf(response.result);
  }

  async regress(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<number[]> {
    const request = create(RegressionRequestSchema, {
      modelSpec: modelSpec(target),
      input: inputProto(input),
    });
    const response = await this.unary<unknown, { result?: { regressions: { value: number }[] } }>(
      predictionServiceDefinition.regress as Method,
      request,
      target,
      ctx,
    );
    return (response.result?.regressions ?? []).map((r) => r.value);
  }

  async multiInference(
    target: Target,
    tasks: readonly InferenceTask[],
    input: ExamplesInput,
    ctx: AttemptContext,
  ): Promise<InferenceResult[]> {
    const request = create(MultiInferenceRequestSchema, {
      tasks: tasks.map((task) => ({
        modelSpec: modelSpec({ ...target, signature: task.signature }),
        methodName: `tensorflow/serving/${task.method}`,
      })),
      input: inputProto(input),
    });
    const response = await this.unary<
      unknown,
      {
        results: Array<{
          modelSpec?: {
            name: string;
            signatureName: string;
            versionChoice: { case?: string; value?: unknown };
          };
          result:
            | { case: 'classificationResult'; value: ClassificationResult }
            | { case: 'regressionResult'; value: { regressions: { value: number }[] } }
            | { case: undefined };
        }>;
      }
    >(predictionServiceDefinition.multiInference as Method, request, target, ctx);
    return response.results.map((r) => {
      const version = r.modelSpec?.versionChoice;
      const base = {
        model: r.modelSpec?.name ?? target.model,
        version: version?.case === 'version' ? Number((version.value as { value: bigint }).value) : 0,
        signature: r.modelSpec?.signatureName ?? '',
      };
      if (r.result.case === 'classificationResult')
        return { ...base, classifications: classificationsOf(r.result.value) };
      if (r.result.case === 'regressionResult')
        return { ...base, regressions: r.result.value.regressions.map((x) => x.value) };
      return base;
    });
  }

  async metadata(target: Target, ctx: AttemptContext): Promise<ModelMetadata> {
    const request = create(GetModelMetadataRequestSchema, {
      modelSpec: modelSpec(target),
      metadataField: ['signature_def'],
    });
    const response = await this.unary(
      predictionServiceDefinition.getModelMetadata as Method,
      request,
      target,
      ctx,
    );
    return metadataFromProto(response as Parameters<typeof metadataFromProto>[0]);
  }

  async status(target: Target, ctx: AttemptContext): Promise<VersionStatus[]> {
    // The server ignores labels here (as over REST); only a version narrows the answer.
    const request = create(GetModelStatusRequestSchema, {
      modelSpec: modelSpec({ model: target.model, version: target.version }),
    });
    const response = await this.unary<
      unknown,
      {
        modelVersionStatus: Array<{
          version: bigint;
          state: number;
          status?: { errorCode: number; errorMessage: string };
        }>;
      }
    >(modelServiceDefinition.getModelStatus as Method, request, target, ctx);
    return response.modelVersionStatus.map((s) => ({
      version: Number(s.version),
      state: (ModelVersionStatus_State[s.state] ?? 'UNKNOWN') as ModelState,
      error: { code: codeFromGrpc(s.status?.errorCode ?? 0), message: s.status?.errorMessage ?? '' },
    }));
  }

  /** ModelService.HandleReloadConfigRequest: replaces the server's whole model config. */
  async reloadConfig(
    config: MessageInitShape<typeof ModelServerConfigSchema>,
    ctx: AttemptContext,
  ): Promise<void> {
    const request = create(ReloadConfigRequestSchema, { config });
    const response = await this.unary<unknown, { status?: { errorCode: number; errorMessage: string } }>(
      modelServiceDefinition.handleReloadConfigRequest as Method,
      request,
      { model: '' },
      ctx,
    );
    const code = response.status?.errorCode ?? Code.OK;
    if (code !== Code.OK) {
      throw errorFromCode({
        code: codeFromGrpc(code),
        grpcCode: code,
        serverMessage: response.status?.errorMessage,
        transport: 'grpc',
        requestId: ctx.requestId,
      });
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private unary<_Req, Res>(
    method: Method,
    request: unknown,
    target: Target,
    ctx: AttemptContext,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const metadata = new Metadata();
      for (const [key, value] of Object.entries(ctx.headers)) metadata.set(key.toLowerCase(), value);
      metadata.set('x-request-id', ctx.requestId);
      // The label or version travels inside the message, where a load balancer
      // cannot see it; during an A/B test the ALB routes these to the track
      // that serves them (the generated chart's gRPC rules).
      if (target.label !== undefined) metadata.set('x-catwalk-label', target.label);
      else if (target.version !== undefined) metadata.set('x-catwalk-version', String(target.version));
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: ctx.deadline },
        (error: ServiceError | null, response?: unknown) => {
          ctx.signal?.removeEventListener('abort', cancel);
          if (error) {
            if (ctx.signal?.aborted) return reject(error); // the pipeline reports the cancel
            if (error.code === Status.CANCELLED) {
              // Nobody here cancelled: the server went away mid-call (a shutdown
              // resets its streams). A retry may reach a healthy server.
              return reject(
                new UnavailableError(`the server at ${this.address} cut the call off: ${error.details}`, {
                  ...targetDetails(target, ctx, 'grpc'),
                  code: 'UNAVAILABLE',
                  grpcCode: error.code,
                  serverMessage: error.details,
                  cause: error,
                }),
              );
            }
            const code = codeFromGrpc(error.code);
            return reject(
              errorFromCode({
                ...targetDetails(target, ctx, 'grpc'),
                code,
                grpcCode: error.code,
                serverMessage: error.details,
                cause: error,
              }),
            );
          }
          resolve(response as Res);
        },
      );
      const cancel = () => call.cancel();
      ctx.signal?.addEventListener('abort', cancel, { once: true });
    });
  }
}

function modelSpec(target: Target): MessageInitShape<typeof ModelSpecSchema> {
  return {
    name: target.model,
    signatureName: target.signature ?? '',
    versionChoice:
      target.version !== undefined
        ? { case: 'version', value: { value: BigInt(target.version) } }
        : target.label !== undefined
          ? { case: 'versionLabel', value: target.label }
          : { case: undefined },
  };
}

function inputProto(input: ExamplesInput): MessageInitShape<typeof InputSchema> {
  const examples = input.examples.map(exampleToProto);
  if (input.context) {
    return {
      kind: { case: 'exampleListWithContext', value: { examples, context: exampleToProto(input.context) } },
    };
  }
  return { kind: { case: 'exampleList', value: { examples } } };
}

function classificationsOf(result: ClassificationResult | undefined): ClassLabel[][] {
  return (result?.classifications ?? []).map((c) =>
    c.classes.map((k) => ({ label: k.label, score: k.score })),
  );
}

// TF Serving's gRPC services (PredictionService, ModelService) over grpc-js.
import { create } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import type { Tensor } from '@catwalk/client';
import * as wire from '@catwalk/client/wire';
import {
  Server,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { checkTensorDtype, outputToProto, protoExampleToFeatures, signatureDefProto } from './convert.js';
import {
  type Core,
  type FakeMethod,
  runExamples,
  runPredict,
  type Servable,
  TfError,
  withContext,
} from './core.js';
import type { InferenceApi } from './metrics.js';
import type { Features } from './models.js';

export interface GrpcServerOptions {
  /** Fill output tensors as tensor_content (--enable_serialization_as_tensor_content) instead of *_val. */
  readonly tensorContent: boolean;
}

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

const API_OF: Partial<Record<FakeMethod, InferenceApi>> = {
  predict: 'Predict',
  classify: 'Classify',
  regress: 'Regress',
};

function unary<Req, Res>(
  core: Core,
  method: FakeMethod,
  modelOf: (req: Req) => string,
  run: (req: Req) => Res,
): Handler<Req, Res> {
  return (call, callback) => {
    const headers = Object.fromEntries(
      Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]),
    );
    const model = modelOf(call.request);
    core.record({ transport: 'grpc', method, model, headers });
    const answer = async () => {
      core.injectFault(method);
      if (method !== 'metadata' && method !== 'status') await core.delay();
      return run(call.request);
    };
    // Predict, Classify and Regress are counted (PredictionServiceImpl); MultiInference is not.
    const api = API_OF[method];
    (api ? core.inference(model, api, 'GRPC', answer) : answer())
      .then((response) => callback(null, response))
      .catch((error: unknown) => {
        const tf =
          error instanceof TfError
            ? error
            : new TfError('INTERNAL', String((error as Error)?.message ?? error));
        const message = tf.message.length > 1024 ? `${tf.message.slice(0, 1024)}...TRUNCATED` : tf.message;
        callback({
          code: wire.ERROR_CODES.indexOf(tf.code),
          details: message,
          name: tf.code,
          message,
        } as ServiceError);
      });
  };
}

function specOf(spec: wire.ModelSpec | undefined): {
  name: string;
  version?: number;
  label?: string;
  signature: string;
} {
  if (!spec) throw new TfError('INVALID_ARGUMENT', 'Missing ModelSpec');
  const choice = spec.versionChoice;
  return {
    name: spec.name,
    version: choice.case === 'version' ? Number(choice.value.value) : undefined,
    label: choice.case === 'versionLabel' ? choice.value : undefined,
    signature: spec.signatureName,
  };
}

function modelSpecOut(servable: Servable, signatureName: string) {
  return {
    name: servable.model.name,
    versionChoice: { case: 'version' as const, value: { value: BigInt(servable.version) } },
    signatureName: signatureName === '' ? 'serving_default' : signatureName,
  };
}

function examplesOf(input: wire.Input | undefined): Features[] {
  const kind = input?.kind;
  if (kind?.case === 'exampleList') return kind.value.examples.map(protoExampleToFeatures);
  if (kind?.case === 'exampleListWithContext') {
    return withContext(
      kind.value.examples.map(protoExampleToFeatures),
      protoExampleToFeatures(kind.value.context),
    );
  }
  throw new TfError('INVALID_ARGUMENT', 'Input is empty.');
}

export function createGrpcServer(core: Core, options: GrpcServerOptions): Server {
  const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const prediction: UntypedServiceImplementation = {
    predict: unary<wire.PredictRequest, wire.PredictResponse>(
      core,
      'predict',
      (r) => r.modelSpec?.name ?? '',
      (req) => {
        const spec = specOf(req.modelSpec);
        const servable = core.resolve(spec.name, spec.version, spec.label);
        const signature = core.signature(servable, spec.signature, 'grpc');
        const inputs: Record<string, Tensor> = {};
        let index = 0;
        for (const [alias, proto] of Object.entries(req.inputs)) {
          const t = wire.decodeTensor(proto, { alias });
          const inputSpec = signature.inputs[alias];
          if (inputSpec) checkTensorDtype(t, inputSpec, index);
          inputs[alias] = t;
          index++;
        }
        const outputs = runPredict(signature, inputs, req.outputFilter);
        const protos: Record<string, wire.TensorProto> = {};
        for (const [alias, t] of Object.entries(outputs))
          protos[alias] = outputToProto(t, options.tensorContent);
        return create(wire.PredictResponseSchema, {
          modelSpec: modelSpecOut(servable, spec.signature),
          outputs: protos,
        });
      },
    ),
    classify: unary<wire.ClassificationRequest, wire.ClassificationResponse>(
      core,
      'classify',
      (r) => r.modelSpec?.name ?? '',
      (req) => {
        const spec = specOf(req.modelSpec);
        const servable = core.resolve(spec.name, spec.version, spec.label);
        const signature = core.signature(servable, spec.signature, 'grpc');
        const results = runExamples('classify', signature, examplesOf(req.input)) as Array<
          Array<[string, number]>
        >;
        return create(wire.ClassificationResponseSchema, {
          modelSpec: modelSpecOut(servable, spec.signature),
          result: {
            classifications: results.map((c) => ({ classes: c.map(([label, score]) => ({ label, score })) })),
          },
        });
      },
    ),
    regress: unary<wire.RegressionRequest, wire.RegressionResponse>(
      core,
      'regress',
      (r) => r.modelSpec?.name ?? '',
      (req) => {
        const spec = specOf(req.modelSpec);
        const servable = core.resolve(spec.name, spec.version, spec.label);
        const signature = core.signature(servable, spec.signature, 'grpc');
        const results = runExamples('regress', signature, examplesOf(req.input)) as number[];
        return create(wire.RegressionResponseSchema, {
          modelSpec: modelSpecOut(servable, spec.signature),
          result: { regressions: results.map((value) => ({ value })) },
        });
      },
    ),
    multiInference: unary<wire.MultiInferenceRequest, wire.MultiInferenceResponse>(
      core,
      'multiInference',
      (r) => r.tasks[0]?.modelSpec?.name ?? '',
      (req) => {
        if (req.tasks.length === 0) throw new TfError('INVALID_ARGUMENT', 'Expected at least one task');
        const examples = examplesOf(req.input);
        const results = req.tasks.map((task) => {
          const spec = specOf(task.modelSpec);
          const servable = core.resolve(spec.name, spec.version, spec.label);
          const signature = core.signature(servable, spec.signature, 'grpc');
          const modelSpec = modelSpecOut(servable, spec.signature);
          if (task.methodName === 'tensorflow/serving/classify') {
            const r = runExamples('classify', signature, examples) as Array<Array<[string, number]>>;
            return {
              modelSpec,
              result: {
                case: 'classificationResult' as const,
                value: {
                  classifications: r.map((c) => ({ classes: c.map(([label, score]) => ({ label, score })) })),
                },
              },
            };
          }
          if (task.methodName === 'tensorflow/serving/regress') {
            const r = runExamples('regress', signature, examples) as number[];
            return {
              modelSpec,
              result: {
                case: 'regressionResult' as const,
                value: { regressions: r.map((value) => ({ value })) },
              },
            };
          }
          throw new TfError('UNIMPLEMENTED', `Unsupported signature method_name: ${task.methodName}`);
        });
        return create(wire.MultiInferenceResponseSchema, { results });
      },
    ),
    getModelMetadata: unary<wire.GetModelMetadataRequest, wire.GetModelMetadataResponse>(
      core,
      'metadata',
      (r) => r.modelSpec?.name ?? '',
      (req) => {
        const spec = specOf(req.modelSpec);
        if (req.metadataField.length === 0) {
          throw new TfError(
            'INVALID_ARGUMENT',
            'GetModelMetadataRequest must specify at least one metadata_field',
          );
        }
        for (const field of req.metadataField) {
          if (field !== 'signature_def')
            throw new TfError('INVALID_ARGUMENT', `Metadata field ${field} is not supported`);
        }
        const servable = core.resolve(spec.name, spec.version, spec.label);
        const signatureDef: Record<string, ReturnType<typeof signatureDefProto>> = {};
        for (const [name, sig] of Object.entries(servable.signatures))
          signatureDef[name] = signatureDefProto(sig);
        const map = create(wire.SignatureDefMapSchema, { signatureDef });
        return create(wire.GetModelMetadataResponseSchema, {
          modelSpec: {
            name: servable.model.name,
            versionChoice: { case: 'version', value: { value: BigInt(servable.version) } },
          },
          metadata: { signature_def: anyPack(wire.SignatureDefMapSchema, map) },
        });
      },
    ),
  };
  const model: UntypedServiceImplementation = {
    getModelStatus: unary<wire.GetModelStatusRequest, wire.GetModelStatusResponse>(
      core,
      'status',
      (r) => r.modelSpec?.name ?? '',
      (req) => {
        const spec = specOf(req.modelSpec);
        const statuses = core.status(spec.name, spec.version);
        return create(wire.GetModelStatusResponseSchema, {
          modelVersionStatus: statuses.map((s) => ({
            version: BigInt(s.version),
            state: wire.ModelVersionStatus_State[s.state],
            status: { errorCode: wire.Code[s.errorCode], errorMessage: s.errorMessage },
          })),
        });
      },
    ),
    handleReloadConfigRequest: unary<wire.ReloadConfigRequest, wire.ReloadConfigResponse>(
      core,
      'status',
      () => '',
      (req) => {
        const config = req.config?.config;
        if (config?.case !== 'modelConfigList') {
          throw new TfError('INVALID_ARGUMENT', 'ServerCore only supports model_config_list');
        }
        core.reload(
          config.value.config.map((c) => ({
            name: c.name,
            labels: Object.fromEntries(Object.entries(c.versionLabels).map(([k, v]) => [k, Number(v)])),
          })),
        );
        return create(wire.ReloadConfigResponseSchema, { status: { errorCode: wire.Code.OK } });
      },
    ),
  };
  server.addService(wire.predictionServiceDefinition, prediction);
  server.addService(wire.modelServiceDefinition, model);
  return server;
}

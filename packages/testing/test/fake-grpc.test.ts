// The fake's gRPC side, spoken to with a bare grpc-js client and the protos,
// checking the details a real TF Serving client depends on.
import { create } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { createClient, tensor } from '@catwalk/client';
import * as wire from '@catwalk/client/wire';
import { type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

let fake: FakeServing;
let client: Client;
beforeAll(async () => {
  fake = await startFakeServing({
    models: [
      halfPlusTwo(),
      halfPlusTwo({ name: 'two', versions: [1, 2], policy: { all: true }, labels: { stable: 1 } }),
    ],
  });
  client = new Client(fake.grpcAddress, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await fake.close();
});

function call<T>(service: 'prediction' | 'model', method: string, request: unknown): Promise<T> {
  const definition = (
    service === 'prediction' ? wire.predictionServiceDefinition : wire.modelServiceDefinition
  )[method]!;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      new Metadata(),
      {},
      (error: ServiceError | null, response?: unknown) => (error ? reject(error) : resolve(response as T)),
    );
  });
}

const spec = (name: string, extra: object = {}) => ({ name, ...extra });

test("service paths are TF Serving's", () => {
  expect(wire.predictionServiceDefinition.predict!.path).toBe(
    '/tensorflow.serving.PredictionService/Predict',
  );
  expect(wire.predictionServiceDefinition.getModelMetadata!.path).toBe(
    '/tensorflow.serving.PredictionService/GetModelMetadata',
  );
  expect(wire.modelServiceDefinition.getModelStatus!.path).toBe(
    '/tensorflow.serving.ModelService/GetModelStatus',
  );
  expect(wire.modelServiceDefinition.handleReloadConfigRequest!.path).toBe(
    '/tensorflow.serving.ModelService/HandleReloadConfigRequest',
  );
});

test('Predict answers with typed float_val (not tensor_content) and the resolved model spec', async () => {
  const request = create(wire.PredictRequestSchema, {
    modelSpec: spec('half_plus_two'),
    inputs: { x: wire.encodeTensor(tensor(new Float32Array([1, 2, 5]), [3, 1])) },
  });
  const response = await call<wire.PredictResponse>('prediction', 'predict', request);
  const y = response.outputs.y!;
  expect(y.tensorContent).toHaveLength(0);
  expect(y.floatVal).toEqual([2.5, 3, 4.5]);
  expect(y.tensorShape?.dim.map((d) => d.size)).toEqual([3n, 1n]);
  expect(response.modelSpec).toMatchObject({
    name: 'half_plus_two',
    signatureName: 'serving_default',
    versionChoice: { case: 'version', value: { value: 123n } },
  });
});

test('with tensorContent: true, outputs come back as tensor_content', async () => {
  const local = await startFakeServing({ models: [halfPlusTwo()], tensorContent: true });
  const sdk = createClient({ transport: 'grpc', grpcAddress: local.grpcAddress });
  try {
    const { y } = await sdk.model('half_plus_two').predict({ x: [1] });
    expect(y!.data).toEqual(new Float32Array([2.5]));
  } finally {
    await sdk.close();
    await local.close();
  }
});

test('GetModelMetadata packs a SignatureDefMap in an Any', async () => {
  const request = create(wire.GetModelMetadataRequestSchema, {
    modelSpec: spec('two', { versionChoice: { case: 'versionLabel', value: 'stable' } }),
    metadataField: ['signature_def'],
  });
  const response = await call<wire.GetModelMetadataResponse>('prediction', 'getModelMetadata', request);
  const packed = response.metadata.signature_def!;
  expect(packed.typeUrl).toBe('type.googleapis.com/tensorflow.serving.SignatureDefMap');
  const map = anyUnpack(packed, wire.SignatureDefMapSchema)!;
  expect(Object.keys(map.signatureDef)).toContain('classify_x2_to_y3');
  expect(wire.metadataFromProto(response).version).toBe(1);
});

test("GetModelStatus lists versions; errors carry TF Serving's codes and texts", async () => {
  const status = await call<wire.GetModelStatusResponse>(
    'model',
    'getModelStatus',
    create(wire.GetModelStatusRequestSchema, { modelSpec: spec('two') }),
  );
  expect(status.modelVersionStatus.map((s) => [s.version, s.state])).toEqual([
    [2n, wire.ModelVersionStatus_State.AVAILABLE],
    [1n, wire.ModelVersionStatus_State.AVAILABLE],
  ]);

  const failures: Array<[Promise<unknown>, number, string]> = [
    [call('model', 'getModelStatus', create(wire.GetModelStatusRequestSchema, {})), 3, 'Missing ModelSpec'],
    [
      call(
        'prediction',
        'getModelMetadata',
        create(wire.GetModelMetadataRequestSchema, { modelSpec: spec('two') }),
      ),
      3,
      'GetModelMetadataRequest must specify at least one metadata_field',
    ],
    [
      call('prediction', 'predict', create(wire.PredictRequestSchema, { modelSpec: spec('nope') })),
      5,
      'Servable not found for request: Latest(nope)',
    ],
    [
      call(
        'prediction',
        'predict',
        create(wire.PredictRequestSchema, { modelSpec: spec('half_plus_two', { signatureName: 's' }) }),
      ),
      9,
      'Serving signature key "s" not found.',
    ],
    [
      call(
        'prediction',
        'predict',
        create(wire.PredictRequestSchema, {
          modelSpec: spec('half_plus_two'),
          inputs: { x: wire.encodeTensor(tensor(['a'])) },
        }),
      ),
      3,
      'Expects arg[0] to be float but string is provided',
    ],
  ];
  for (const [promise, code, details] of failures) {
    await expect(promise).rejects.toMatchObject({ code, details });
  }
});

test('HandleReloadConfigRequest through the SDK moves labels', async () => {
  const sdk = createClient({ transport: 'grpc', grpcAddress: fake.grpcAddress });
  try {
    await sdk.reloadConfig({
      config: {
        case: 'modelConfigList',
        value: {
          config: [
            { name: 'half_plus_two', basePath: '/models/half_plus_two', modelPlatform: 'tensorflow' },
            {
              name: 'two',
              basePath: '/models/two',
              modelPlatform: 'tensorflow',
              versionLabels: { stable: 2n },
            },
          ],
        },
      },
    });
    expect((await sdk.model('two', { label: 'stable' }).metadata()).version).toBe(2);
    await expect(
      sdk.reloadConfig({ config: { case: 'modelConfigList', value: { config: [{ name: 'unknown' }] } } }),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });
  } finally {
    await sdk.close();
  }
});

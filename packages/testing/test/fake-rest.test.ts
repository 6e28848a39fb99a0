// The fake's REST side, spoken to with plain HTTP and compared with what TF
// Serving itself answers (TFSERVING.md sections 1 and 5, and TF Serving's own
// recorded metadata files).
import fs from 'node:fs';
import path from 'node:path';
import { type FakeServing, halfPlusThree, halfPlusTwo, startFakeServing } from '@catwalk/testing';

const testdata = path.resolve(__dirname, '../../..', '../shared/testdata/tfserving');
const recorded = (file: string) => JSON.parse(fs.readFileSync(path.join(testdata, file), 'utf8'));

let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeServing({
    grpc: false,
    models: [
      // TF Serving's integration tests serve the model under the name "default".
      halfPlusTwo({ name: 'default' }),
      halfPlusTwo(),
      halfPlusTwo({
        name: 'saved_model_half_plus_two_2_versions',
        versions: [123, 124],
        policy: { all: true },
      }),
      halfPlusThree(),
    ],
  });
});
afterAll(() => fake.close());

async function http(method: string, urlPath: string, body?: string) {
  const res = await fetch(`${fake.restUrl}${urlPath}`, { method, body });
  const text = await res.text();
  return { status: res.status, text, contentType: res.headers.get('content-type') };
}

describe('recorded TF Serving exchanges', () => {
  test.each([
    ['half_plus_two', '{"instances": [1.0, 2.0, 5.0]}', { predictions: [2.5, 3.0, 4.5] }, '[2.5,3.0,4.5]'],
    ['default', '{"instances": [2.0, 3.0, 4.0]}', { predictions: [3.0, 3.5, 4.0] }, '[3.0,3.5,4.0]'],
    ['default', '{"inputs": [2.0, 3.0, 4.0]}', { outputs: [3.0, 3.5, 4.0] }, '[3.0,3.5,4.0]'],
    [
      'saved_model_half_plus_two_2_versions/versions/123',
      '{"instances": [[1.0, 2.0], [3.0, 4.0]]}',
      {
        predictions: [
          [2.5, 3.0],
          [3.5, 4.0],
        ],
      },
      '[[2.5,3.0],[3.5,4.0]]',
    ],
    ['half_plus_three', '{"instances": [1.0,2.0,5.0]}', { predictions: [3.5, 4.0, 5.5] }, '[3.5,4.0,5.5]'],
  ])('POST /v1/models/%s:predict %s', async (model, body, expected, floatsText) => {
    const res = await http('POST', `/v1/models/${model}:predict`, body);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual(expected);
    // WriteDecimal: whole floats carry ".0" on the wire.
    expect(res.text).toContain(floatsText);
  });

  test.each([
    [
      'classify',
      '{"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}',
      '{"results":[[["",3.0]]]}',
    ],
    ['regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}', '{"results":[3.0]}'],
    ['regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}', '{"results":[42.0]}'],
    [
      'classify',
      '{"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}',
      '{"results":[[["",12.0]]]}',
    ],
  ])(':%s %s', async (verb, body, expected) => {
    const res = await http('POST', `/v1/models/default:${verb}`, body);
    expect(res.status).toBe(200);
    expect(res.text).toBe(expected);
  });

  test('GET /v1/models/default is the recorded status', async () => {
    const res = await http('GET', '/v1/models/default');
    expect(JSON.parse(res.text)).toEqual({
      model_version_status: [
        { version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    });
  });

  test('GET /v1/models/default/metadata equals half_plus_two_model_metadata.json', async () => {
    const res = await http('GET', '/v1/models/default/metadata');
    expect(JSON.parse(res.text)).toEqual(recorded('half_plus_two_model_metadata.json'));
  });

  test('the two-version model equals saved_model_half_plus_two_2_versions_metadata.json', async () => {
    const res = await http('GET', '/v1/models/saved_model_half_plus_two_2_versions/versions/123/metadata');
    expect(JSON.parse(res.text)).toEqual(recorded('saved_model_half_plus_two_2_versions_metadata.json'));
    const latest = await http('GET', '/v1/models/saved_model_half_plus_two_2_versions/metadata');
    expect(JSON.parse(latest.text).model_spec.version).toBe('124');
  });
});

describe("TF Serving's errors, codes and texts", () => {
  test.each([
    [
      'POST',
      '/v1/models/half:predict',
      '{"instances": [1.0]}',
      404,
      'Servable not found for request: Latest(half)',
    ],
    [
      'POST',
      '/v1/models/half_plus_two/versions/9:predict',
      '{"instances": [1.0]}',
      404,
      'Servable not found for request: Specific(half_plus_two, 9)',
    ],
    ['GET', '/v1/models/half', undefined, 404, 'Could not find any versions of model half'],
    [
      'GET',
      '/v1/models/half_plus_two/versions/9',
      undefined,
      404,
      'Could not find version 9 of model half_plus_two',
    ],
    [
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"instances": ["x","y"]}',
      400,
      'JSON Value: "x" not of expected type: float',
    ],
    ['POST', '/v1/models/half_plus_two:predict', '', 400, 'JSON Parse error: The document is empty'],
    [
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"instances": [1.0], "inputs": [1.0]}',
      400,
      "Not a valid JSON: expecting only one of 'inputs' or 'instances' keys to exist",
    ],
    ['POST', '/v1/models/half_plus_two:predict', '{}', 400, "Missing 'inputs' or 'instances' key"],
    ['POST', '/v1/models/half_plus_two:predict', '{"instances": []}', 400, "No values in 'instances' array"],
    [
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"instances": [[1.0], [2.0, 3.0]]}',
      400,
      'Encountered list at unexpected size',
    ],
    [
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"signature_name": "s", "instances": [1.0]}',
      400,
      'Serving signature name: "s" not found in signature def',
    ],
    [
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"signature_name": 1, "instances": [1.0]}',
      400,
      "'signature_name' key must be a string value.",
    ],
    [
      'POST',
      '/v1/models/half_plus_two/labels/nope:predict',
      '{"instances": [1.0]}',
      400,
      'Unrecognized servable version label: nope',
    ],
    ['POST', '/v1/models/half_plus_two:Predict', '{"instances": [1.0]}', 400, 'Malformed request'],
    ['POST', '/v1/models/half_plus_two/metadata', '{}', 400, 'Malformed request'],
    ['GET', '/v1/models', undefined, 400, 'Missing model name in request.'],
    ['GET', '/v1/models/foo/bar', undefined, 400, 'Malformed request: GET /v1/models/foo/bar'],
    [
      'GET',
      '/v1/models/half_plus_two/versions/99999999999999999999',
      undefined,
      400,
      'Failed to convert version: 99999999999999999999 to numeric.',
    ],
    // The SDK pitfall: 2 (no decimal point) is an int64 feature, and x is parsed as float.
    [
      'POST',
      '/v1/models/half_plus_two:regress',
      '{"signature_name": "regress_x_to_y", "examples": [{"x": 2}]}',
      400,
      "Name: <unknown>, Key: x, Index: 0.  Data types don't match. Data type: int64 but expected type: float",
    ],
    [
      'POST',
      '/v1/models/half_plus_two:regress',
      '{"signature_name": "regress_x_to_y"}',
      400,
      "When method is classify, key 'examples' is expected and was not found",
    ],
    [
      'POST',
      '/v1/models/half_plus_two:classify',
      '{"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}',
      400,
      'Expected classification signature method_name to be tensorflow/serving/classify. Was: tensorflow/serving/regress',
    ],
    [
      'POST',
      '/v1/models/half_plus_two:regress',
      '{"signature_name": "regress_x_to_y", "examples": [{"x": [1.0, "a"]}]}',
      400,
      'Unexpected element type in feature: x',
    ],
  ])('%s %s %s -> %d', async (method, urlPath, body, status, message) => {
    const res = await http(method, urlPath, body);
    expect(res.status).toBe(status);
    expect(res.contentType).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({ error: message });
  });

  test('paths outside /v1/ get a 404 with no body', async () => {
    const res = await http('GET', '/v2/models/half_plus_two');
    expect(res.status).toBe(404);
    expect(res.text).toBe('');
  });

  test('label status ignores the label, as TF Serving does', async () => {
    const res = await http('GET', '/v1/models/half_plus_two/labels/anything');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).model_version_status).toHaveLength(1);
  });

  test("injected failures use TF Serving's status mapping", async () => {
    fake.failNext(1, { code: 'RESOURCE_EXHAUSTED', message: 'queue full' });
    const res = await http('POST', '/v1/models/half_plus_two:predict', '{"instances": [1.0]}');
    expect(res.status).toBe(429);
    expect(JSON.parse(res.text)).toEqual({ error: 'queue full' });
  });
});

describe('JSON details', () => {
  test('NaN and Infinity are accepted in and written back as bare tokens', async () => {
    const res = await http(
      'POST',
      '/v1/models/half_plus_two:predict',
      '{"instances": [NaN, Infinity, -Infinity]}',
    );
    expect(res.text).toBe('{"predictions":[NaN,Infinity,-Infinity]}');
  });

  test('context features are shared by every example', async () => {
    const res = await http(
      'POST',
      '/v1/models/half_plus_two:regress',
      '{"signature_name": "regress_x2_to_y3", "context": {"x2": 4.0}, "examples": [{}, {"x2": 2.0}]}',
    );
    expect(res.text).toBe('{"results":[5.0,4.0]}');
  });

  test('model names and labels are percent-decoded', async () => {
    const local = await startFakeServing({
      grpc: false,
      models: [
        halfPlusTwo({ name: 'a b:c', versions: [1, 2], policy: { all: true }, labels: { 'can ary': 1 } }),
      ],
    });
    try {
      const res = await fetch(`${local.restUrl}/v1/models/a%20b%3Ac/labels/can%20ary/metadata`);
      expect(((await res.json()) as { model_spec: unknown }).model_spec).toEqual({
        name: 'a b:c',
        signature_name: '',
        version: '1',
      });
    } finally {
      await local.close();
    }
  });
});

// TF Serving's REST API (http_rest_api_handler.cc) over node:http.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Tensor } from '@catwalk/client';
import * as wire from '@catwalk/client/wire';
import { jsonExampleToFeatures, jsonInputToTensor, outputToJson, signatureDefJson } from './convert.js';
import {
  type Core,
  type FakeMethod,
  runExamples,
  runPredict,
  type Servable,
  TfError,
  withContext,
} from './core.js';
import type { FakeSignature } from './models.js';

const POST_PATH =
  /^\/v1\/models\/([^/:]+)(?:(?:\/versions\/(\d+))|(?:\/labels\/([^/:]+)))?:(classify|regress|predict)$/i;
const GET_PATH =
  /^\/v1\/models(?:\/([^/:]+))?(?:(?:\/versions\/(\d+))|(?:\/labels\/([^/:]+)))?(?:\/(metadata))?$/i;
const INT64_MAX = 9223372036854775807n;

export interface RestServerOptions {
  /** Serve the Prometheus page on this path (TF Serving's monitoring config); absent: no page. */
  readonly monitoringPath?: string;
}

export function createRestServer(core: Core, options: RestServerOptions = {}): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (options.monitoringPath !== undefined && path === options.monitoringPath && req.method === 'GET') {
      // http_server.cc answers the page as text/plain.
      const page = core.metricsPage();
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(page) });
      res.end(page);
      return;
    }
    handle(core, req, res).catch((error: unknown) => {
      if (error instanceof TfError) return sendError(res, error);
      sendError(res, new TfError('INTERNAL', error instanceof Error ? error.message : String(error)));
    });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, error: TfError): void {
  // rapidjson's PrettyWriter, as MakeJsonFromStatus uses.
  sendJson(res, wire.HTTP_STATUS_BY_CODE[error.code], JSON.stringify({ error: error.message }, null, 4));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function decode(segment: string | undefined): string | undefined {
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (BigInt(text) > INT64_MAX)
    throw new TfError('INVALID_ARGUMENT', `Failed to convert version: ${text} to numeric.`);
  return Number(text);
}

async function handle(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0]!;
  const body = await readBody(req);
  if (!/^\/v1\//i.test(path) && !/^\/v1$/i.test(path)) {
    // libevent's own 404: no handler, no body.
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
    return;
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
  );
  if (method === 'POST') {
    const m = POST_PATH.exec(path);
    const verb = m?.[4];
    if (!m || (verb !== 'predict' && verb !== 'classify' && verb !== 'regress')) {
      throw new TfError('INVALID_ARGUMENT', 'Malformed request');
    }
    const name = decode(m[1])!;
    core.record({ transport: 'rest', method: verb, model: name, headers });
    const api = verb === 'predict' ? 'Predict' : verb === 'classify' ? 'Classify' : 'Regress';
    const answer = await core.inference(name, api, 'REST', async () => {
      core.injectFault(verb);
      await core.delay();
      if (res.destroyed) return undefined;
      const servable = core.resolve(name, parseVersion(m[2]), decode(m[3]));
      if (verb === 'predict') return predict(core, servable, body);
      return examples(core, verb, servable, body);
    });
    if (answer === undefined) return;
    return sendJson(res, 200, answer);
  }
  if (method === 'GET') {
    const m = GET_PATH.exec(path);
    if (!m) throw new TfError('INVALID_ARGUMENT', `Malformed request: ${method} ${path}`);
    const name = decode(m[1]);
    if (name === undefined) throw new TfError('INVALID_ARGUMENT', 'Missing model name in request.');
    const version = parseVersion(m[2]);
    const label = decode(m[3]);
    // The sub-resource is matched case-insensitively but compared exactly: /METADATA is a status request.
    const kind: FakeMethod = m[4] === 'metadata' ? 'metadata' : 'status';
    core.record({ transport: 'rest', method: kind, model: name, headers });
    core.injectFault(kind);
    if (kind === 'metadata') return sendJson(res, 200, metadata(core.resolve(name, version, label)));
    // GetModelStatus ignores labels (get_model_status_impl.cc only reads the version).
    return sendJson(res, 200, status(core, name, version));
  }
  throw new TfError('INVALID_ARGUMENT', 'Malformed request');
}

function status(core: Core, name: string, version: number | undefined): string {
  const model_version_status = core.status(name, version).map((s) => ({
    version: String(s.version),
    state: s.state,
    status: { error_code: s.errorCode, error_message: s.errorMessage },
  }));
  return JSON.stringify({ model_version_status }, null, 1);
}

function metadata(servable: Servable): string {
  const signature_def: Record<string, unknown> = {};
  for (const [name, sig] of Object.entries(servable.signatures)) signature_def[name] = signatureDefJson(sig);
  return JSON.stringify(
    {
      model_spec: { name: servable.model.name, signature_name: '', version: String(servable.version) },
      metadata: { signature_def: { signature_def } },
    },
    null,
    1,
  );
}

/**
 * The request body as a JSON object. With `integers: "bigint"`, integers
 * stay apart from floats (2 is not 2.0), as TF Serving's reader keeps them.
 */
function parseObject(body: string, integers: 'exact' | 'bigint' = 'exact'): Record<string, unknown> {
  if (body.trim() === '') throw new TfError('INVALID_ARGUMENT', 'JSON Parse error: The document is empty');
  let parsed: unknown;
  try {
    parsed = wire.parseJson(body, { integers });
  } catch (error) {
    throw new TfError('INVALID_ARGUMENT', `JSON Parse error: ${(error as Error).message}`);
  }
  if (!wire.isPlainObject(parsed)) {
    throw new TfError('INVALID_ARGUMENT', 'JSON Value is not an object');
  }
  return parsed;
}

function signatureName(body: { signature_name?: unknown }): string {
  const name = body.signature_name;
  if (name === undefined) return 'serving_default';
  if (typeof name !== 'string')
    throw new TfError('INVALID_ARGUMENT', "'signature_name' key must be a string value.");
  return name;
}

function predict(core: Core, servable: Servable, text: string): string {
  const body = parseObject(text);
  const sigName = signatureName(body);
  // TF Serving looks the signature's input map up before reading the body, and refuses an empty one.
  const signature = core.signature(servable, sigName, 'rest');
  if (Object.keys(signature.inputs).length === 0) {
    throw new TfError(
      'INVALID_ARGUMENT',
      `Failed to get input map for signature: ${body.signature_name === undefined ? 'DEFAULT' : sigName}`,
    );
  }
  const hasInstances = 'instances' in body;
  const hasInputs = 'inputs' in body;
  if (hasInstances && hasInputs) {
    throw new TfError(
      'INVALID_ARGUMENT',
      "Not a valid JSON: expecting only one of 'inputs' or 'instances' keys to exist",
    );
  }
  if (!hasInstances && !hasInputs)
    throw new TfError('INVALID_ARGUMENT', "Missing 'inputs' or 'instances' key");
  const aliases = Object.keys(signature.inputs);
  const inputs: Record<string, Tensor> = {};
  if (hasInstances) {
    const instances = body.instances;
    if (!Array.isArray(instances))
      throw new TfError('INVALID_ARGUMENT', "Expecting 'instances' to be an list/array");
    if (instances.length === 0) throw new TfError('INVALID_ARGUMENT', "No values in 'instances' array");
    if (aliases.length === 1) {
      inputs[aliases[0]!] = jsonInputToTensor(instances, signature.inputs[aliases[0]!]!);
    } else {
      for (const row of instances) {
        if (!wire.isPlainObject(row)) {
          throw new TfError('INVALID_ARGUMENT', 'Expecting object but got list at item 0 of input list');
        }
        const keys = Object.keys(row);
        if (keys.length !== aliases.length || !aliases.every((a) => a in row)) {
          throw new TfError(
            'INVALID_ARGUMENT',
            `Failed to process element: 0 key: ${keys.join(',')} of 'instances' list. Error: expected keys {${aliases.join(',')}}`,
          );
        }
      }
      for (const alias of aliases) {
        inputs[alias] = jsonInputToTensor(
          instances.map((row) => (row as Record<string, unknown>)[alias]),
          signature.inputs[alias]!,
        );
      }
    }
  } else {
    const value = body.inputs;
    if (aliases.length === 1 && !(wire.isPlainObject(value) && aliases[0]! in value)) {
      inputs[aliases[0]!] = jsonInputToTensor(value, signature.inputs[aliases[0]!]!);
    } else {
      if (!wire.isPlainObject(value)) {
        throw new TfError('INVALID_ARGUMENT', "Expecting 'inputs' to be an object keyed by input alias");
      }
      for (const alias of aliases) {
        if (!(alias in value))
          throw new TfError('INVALID_ARGUMENT', `Missing named input: ${alias} in 'inputs' object`);
        inputs[alias] = jsonInputToTensor(value[alias], signature.inputs[alias]!);
      }
    }
  }
  const outputs = runPredict(signature, inputs, []);
  return hasInstances ? rowResponse(outputs) : columnarResponse(outputs);
}

function rowResponse(outputs: Record<string, Tensor>): string {
  const aliases = Object.keys(outputs);
  let rows: number | undefined;
  for (const alias of aliases) {
    const t = outputs[alias]!;
    if (t.shape.length === 0)
      throw new TfError('INVALID_ARGUMENT', `Tensor name: ${alias} has no shape information `);
    if (rows !== undefined && t.shape[0] !== rows) {
      throw new TfError(
        'INVALID_ARGUMENT',
        `Tensor name: ${alias} has inconsistent batch size: ${t.shape[0]} expecting: ${rows}`,
      );
    }
    rows = t.shape[0]!;
  }
  if (aliases.length === 1) return `{"predictions":${outputToJson(outputs[aliases[0]!]!, aliases[0]!)}}`;
  const items: string[] = [];
  for (let r = 0; r < (rows ?? 0); r++) {
    items.push(
      `{${aliases.map((a) => `${JSON.stringify(a)}:${outputToJson(outputs[a]!, a, r)}`).join(',')}}`,
    );
  }
  return `{"predictions":[${items.join(',')}]}`;
}

function columnarResponse(outputs: Record<string, Tensor>): string {
  const aliases = Object.keys(outputs);
  if (aliases.length === 1) return `{"outputs":${outputToJson(outputs[aliases[0]!]!, aliases[0]!)}}`;
  return `{"outputs":{${aliases.map((a) => `${JSON.stringify(a)}:${outputToJson(outputs[a]!, a)}`).join(',')}}}`;
}

function examples(core: Core, verb: 'classify' | 'regress', servable: Servable, text: string): string {
  const body = parseObject(text, 'bigint');
  const sigName = signatureName(body as { signature_name?: unknown });
  const list = body.examples;
  // TF's text says "classify" for regress too.
  if (!Array.isArray(list)) {
    throw new TfError(
      'INVALID_ARGUMENT',
      "When method is classify, key 'examples' is expected and was not found",
    );
  }
  if (list.length === 0) throw new TfError('INVALID_ARGUMENT', "'examples' must be a non-empty array");
  const context = body.context === undefined ? undefined : jsonExampleToFeatures(body.context);
  const signature: FakeSignature = core.signature(servable, sigName, 'rest');
  const features = withContext(list.map(jsonExampleToFeatures), context);
  const results = runExamples(verb, signature, features);
  if (verb === 'classify') {
    const items = (results as Array<Array<[string, number]>>).map(
      (classes) =>
        `[${classes.map(([label, score]) => `[${JSON.stringify(label)},${wire.formatFloat(score)}]`).join(',')}]`,
    );
    return `{"results":[${items.join(',')}]}`;
  }
  return `{"results":[${(results as number[]).map((v) => wire.formatFloat(Math.fround(v))).join(',')}]}`;
}

import { EventEmitter } from 'node:events';
import { Agent } from 'undici';
import {
  type CatwalkError,
  codeFromHttpStatus,
  DeadlineExceededError,
  type ErrorCode,
  errorFromCode,
  ServerError,
  UnavailableError,
  UnimplementedError,
} from './errors.js';
import { type ExampleInput, exampleToJson } from './examples.js';
import type { components } from './generated/openapi.js';
import { isPlainObject, parseJson } from './json.js';
import { jsonToTensor, tensorRowToJson, tensorToJson } from './json-tensor.js';
import { type ModelMetadata, parseMetadataJson } from './metadata.js';
import type { Tensor } from './tensor.js';
import {
  type AttemptContext,
  type ClassLabel,
  type ExamplesInput,
  type InferenceResult,
  type ModelState,
  type PredictCall,
  type PredictResult,
  type Target,
  type Transport,
  targetDetails,
  type VersionStatus,
} from './transport.js';

type Schemas = components['schemas'];

export interface RestOptions {
  /** e.g. "http://localhost:8501"; a path prefix (for an ingress) is kept. */
  readonly baseUrl: string;
  /** Keep-alive connections per origin. @default 16 */
  readonly connections?: number;
  /** Idle keep-alive sockets are closed after this long. @default 30000 */
  readonly keepAliveTimeoutMs?: number;
}

/** Errors undici reports when the connection itself failed; a retry may reach a healthy server. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export class RestTransport implements Transport {
  readonly kind = 'rest' as const;
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly prefix: string;

  constructor(options: RestOptions) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.agent = new Agent({
      connections: options.connections ?? 16,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    });
  }

  async predict(target: Target, call: PredictCall, ctx: AttemptContext): Promise<PredictResult> {
    const aliases = Object.keys(call.inputs);
    let body = target.signature ? `{"signature_name":${JSON.stringify(target.signature)},` : '{';
    if (call.format === 'row') {
      body += `"instances":${this.instances(call.inputs, aliases)}}`;
    } else {
      const parts = aliases.map((a) => `${JSON.stringify(a)}:${tensorToJson(call.inputs[a]!, a, 'compact')}`);
      body += `"inputs":{${parts.join(',')}}}`;
    }
    const json = (await this.send(
      'POST',
      `${modelPath(target)}:predict`,
      body,
      target,
      ctx,
    )) as Schemas['PredictResponse'];
    const outputs = this.readOutputs(json, call, target, ctx);
    if (!call.outputFilter || call.outputFilter.length === 0) return { outputs, version: undefined };
    const filtered: Record<string, Tensor> = {};
    for (const alias of call.outputFilter) {
      const t = outputs[alias];
      if (!t) {
        throw errorFromCode(
          { ...targetDetails(target, ctx, 'rest'), code: 'INVALID_ARGUMENT' },
          `output filter names "${alias}", which the response does not have (it has ${Object.keys(outputs).join(', ')})`,
        );
      }
      filtered[alias] = t;
    }
    return { outputs: filtered, version: undefined };
  }

  private instances(inputs: Readonly<Record<string, Tensor>>, aliases: string[]): string {
    const first = inputs[aliases[0]!];
    if (aliases.length === 1 && first) {
      if (first.shape.length === 0)
        throw errorFromCode(
          { code: 'INVALID_ARGUMENT' },
          `row format needs tensors with a batch dimension; "${aliases[0]}" is a scalar (use format: "columnar")`,
        );
      return tensorToJson(first, aliases[0]!, 'compact');
    }
    const rows = first?.shape[0] ?? 0;
    for (const a of aliases) {
      if (inputs[a]!.shape[0] !== rows || inputs[a]!.shape.length === 0) {
        throw errorFromCode(
          { code: 'INVALID_ARGUMENT' },
          `row format needs every input to share its first dimension; "${aliases[0]}" has ${rows} rows and "${a}" has ${inputs[a]!.shape[0] ?? 'none'} (use format: "columnar")`,
        );
      }
    }
    const out: string[] = [];
    for (let r = 0; r < rows; r++) {
      out.push(
        `{${aliases.map((a) => `${JSON.stringify(a)}:${tensorRowToJson(inputs[a]!, a, r, 'compact')}`).join(',')}}`,
      );
    }
    return `[${out.join(',')}]`;
  }

  private readOutputs(
    json: Schemas['PredictResponse'],
    call: PredictCall,
    target: Target,
    ctx: AttemptContext,
  ): Record<string, Tensor> {
    const outputs = call.signature?.outputs;
    const dtypeOf = (alias: string) => outputs?.[alias]?.dtype;
    const singleName = outputs && Object.keys(outputs).length === 1 ? Object.keys(outputs)[0]! : 'output';
    const result: Record<string, Tensor> = {};
    if ('outputs' in json) {
      const value = json.outputs;
      if (isPlainObject(value) && !(outputs && Object.keys(outputs).length === 1)) {
        for (const [alias, v] of Object.entries(value))
          result[alias] = jsonToTensor(v, dtypeOf(alias), alias);
      } else {
        result[singleName] = jsonToTensor(value, dtypeOf(singleName), singleName);
      }
      return result;
    }
    if ('predictions' in json && Array.isArray(json.predictions)) {
      const rows = json.predictions;
      if (rows.length > 0 && isPlainObject(rows[0])) {
        for (const alias of Object.keys(rows[0] as object)) {
          result[alias] = jsonToTensor(
            rows.map((r) => (r as Record<string, unknown>)[alias]),
            dtypeOf(alias),
            alias,
          );
        }
      } else {
        result[singleName] = jsonToTensor(rows, dtypeOf(singleName), singleName);
      }
      return result;
    }
    throw new ServerError('the predict response has neither "outputs" nor "predictions"', {
      ...targetDetails(target, ctx, 'rest'),
      code: 'DATA_LOSS',
    });
  }

  async classify(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<ClassLabel[][]> {
    const json = (await this.send(
      'POST',
      `${modelPath(target)}:classify`,
      examplesBody(target, input),
      target,
      ctx,
    )) as Schemas['ClassifyResponse'];
    if (!Array.isArray(json?.results)) throw malformed('classify', target, ctx);
    const results: Schemas['ClassifyResponse']['results'] = json.results;
    return results.map((classes) =>
      classes.map(([label, score]) => ({ label: String(label), score: Number(score) })),
    );
  }

  async regress(target: Target, input: ExamplesInput, ctx: AttemptContext): Promise<number[]> {
    const json = (await this.send(
      'POST',
      `${modelPath(target)}:regress`,
      examplesBody(target, input),
      target,
      ctx,
    )) as Schemas['RegressResponse'];
    if (!Array.isArray(json?.results)) throw malformed('regress', target, ctx);
    return json.results.map(Number);
  }

  async multiInference(target: Target): Promise<InferenceResult[]> {
    throw new UnimplementedError(
      'MultiInference exists only in the gRPC API; create the client with transport: "grpc"',
      {
        code: 'UNIMPLEMENTED',
        model: target.model,
        transport: 'rest',
      },
    );
  }

  async metadata(target: Target, ctx: AttemptContext): Promise<ModelMetadata> {
    return parseMetadataJson(await this.send('GET', `${modelPath(target)}/metadata`, undefined, target, ctx));
  }

  async status(target: Target, ctx: AttemptContext): Promise<VersionStatus[]> {
    const json = (await this.send(
      'GET',
      modelPath(target),
      undefined,
      target,
      ctx,
    )) as Schemas['GetModelStatusResponse'];
    if (!Array.isArray(json?.model_version_status)) throw malformed('status', target, ctx);
    return json.model_version_status.map((s) => ({
      version: Number(s.version),
      state: s.state as ModelState,
      error: { code: (s.status?.error_code ?? 'OK') as ErrorCode, message: s.status?.error_message ?? '' },
    }));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    target: Target,
    ctx: AttemptContext,
  ): Promise<unknown> {
    // undici takes headers as a flat [name, value, ...] list, cheaper than an object.
    const headers: string[] = body === undefined ? [] : ['content-type', 'application/json'];
    for (const name in ctx.headers) {
      if (name.toLowerCase() !== 'x-request-id') headers.push(name, ctx.headers[name]!);
    }
    headers.push('x-request-id', ctx.requestId);
    let response: Awaited<ReturnType<Agent['request']>>;
    let text: string;
    // undici takes an EventEmitter as its abort signal: far cheaper per call
    // than an AbortController, whose listeners cost more than the rest of
    // the SDK's per-call work against a fast server. It fires at the deadline
    // or when the caller's own signal does.
    const abort = new EventEmitter();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        abort.emit('abort');
      },
      Math.max(0, ctx.deadline - Date.now()),
    );
    const onCallerAbort = () => abort.emit('abort');
    ctx.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      response = await this.agent.request({
        origin: this.origin,
        path: this.prefix + path,
        method,
        headers,
        body,
        signal: abort,
      });
      text = await response.body.text();
    } catch (error) {
      if (ctx.signal?.aborted) throw error; // the pipeline turns this into a CancelledError
      const details = targetDetails(target, ctx, 'rest');
      if (timedOut) {
        throw new DeadlineExceededError('the call did not finish within its deadline', {
          ...details,
          code: 'DEADLINE_EXCEEDED',
          cause: error,
        });
      }
      const code = (error as { code?: string }).code;
      if (code && CONNECTION_ERRORS.has(code)) {
        throw new UnavailableError(
          `cannot reach TF Serving at ${this.origin}: ${(error as Error).message} (${code})`,
          {
            ...details,
            code: 'UNAVAILABLE',
            cause: error,
          },
        );
      }
      throw new ServerError(
        `REST call to ${this.origin}${this.prefix}${path} failed: ${(error as Error).message}`,
        {
          ...details,
          code: 'UNKNOWN',
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onCallerAbort);
    }
    const details = targetDetails(target, ctx, 'rest');
    if (response.statusCode === 200) {
      try {
        return parseJson(text);
      } catch {
        throw new ServerError(
          `${this.origin} answered 200 with a body that is not JSON: ${text.slice(0, 200)}`,
          {
            ...details,
            code: 'DATA_LOSS',
            httpStatus: 200,
          },
        );
      }
    }
    const code = codeFromHttpStatus(response.statusCode);
    let serverMessage: string | undefined;
    if (text.trim() !== '') {
      try {
        const parsed = parseJson(text) as { error?: unknown };
        serverMessage = typeof parsed?.error === 'string' ? parsed.error : text.slice(0, 500);
      } catch {
        serverMessage = text.slice(0, 500);
      }
    }
    const full = { ...details, code, httpStatus: response.statusCode, serverMessage };
    if (serverMessage === undefined) {
      // TF Serving always sends {"error": ...}; an empty body comes from
      // something else on that port, or a path outside /v1/.
      const hint =
        response.statusCode === 404
          ? ' (is baseUrl the TF Serving REST endpoint, e.g. http://host:8501?)'
          : '';
      return Promise.reject(
        errorFromCode(
          full,
          `HTTP ${response.statusCode} with no body for ${method} ${this.prefix}${path}${hint}`,
        ),
      );
    }
    throw errorFromCode(full);
  }
}

export function modelPath(target: Target): string {
  let path = `/v1/models/${encodeURIComponent(target.model)}`;
  if (target.version !== undefined) path += `/versions/${target.version}`;
  else if (target.label !== undefined) path += `/labels/${encodeURIComponent(target.label)}`;
  return path;
}

function examplesBody(target: Target, input: ExamplesInput): string {
  let body = target.signature ? `{"signature_name":${JSON.stringify(target.signature)},` : '{';
  if (input.context) body += `"context":${exampleToJson(input.context)},`;
  body += `"examples":[${input.examples.map((e: ExampleInput) => exampleToJson(e)).join(',')}]}`;
  return body;
}

function malformed(what: string, target: Target, ctx: AttemptContext): CatwalkError {
  return new ServerError(`the ${what} response does not have TF Serving's shape`, {
    ...targetDetails(target, ctx, 'rest'),
    code: 'DATA_LOSS',
  });
}

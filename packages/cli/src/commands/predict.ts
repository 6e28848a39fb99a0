import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { grpcHost } from '@catwalk/chart-gen';
import { type CatwalkClient, createClient, type Tensor, toNested } from '@catwalk/client';
import type { ResolvedModel } from '@catwalk/schema';
import { credentials } from '@grpc/grpc-js';
import Table from 'cli-table3';
import { colors } from '../format';
import { exitCodes, type Io, UserError } from '../io';
import { parseServingUrl, sdkUserError } from './codegen';
import { loadModels } from './load';

export interface PredictFlags {
  /** Model name, when the URL does not name it (as codegen takes it). */
  readonly model?: string;
  readonly version?: string;
  readonly label?: string;
  readonly signature?: string;
  readonly transport?: string;
  /** host:port of TF Serving's gRPC API (default: the URL's host, port 8500). */
  readonly grpcAddress?: string;
  readonly input?: string;
  readonly inputFile?: string;
  readonly json?: boolean;
  readonly timeout?: string;
}

/** `catwalk predict`: one predict call through the SDK, outputs as a table or JSON, with timing. */
export async function predictCommand(
  target: string,
  stdinFlag: string | undefined,
  flags: PredictFlags,
  io: Io,
) {
  const transport = flags.transport ?? 'rest';
  if (transport !== 'rest' && transport !== 'grpc') {
    throw new UserError(`--transport '${transport}' is not rest or grpc`, exitCodes.usage);
  }
  const inputs = await readInputs(stdinFlag, flags, io);
  const endpoint = await endpointOf(target, io);
  const where = parseServingUrl(endpoint.url, {
    model: flags.model,
    version: flags.version,
    label: flags.label,
  });
  if (transport === 'grpc' && !flags.grpcAddress && endpoint.spec && !endpoint.grpc) {
    throw new UserError(
      `${target}: the spec does not expose gRPC (spec.endpoint.grpc is false); call it over REST or give --grpc-address`,
      exitCodes.usage,
    );
  }
  const timeoutMs = flags.timeout === undefined ? 30_000 : Number(flags.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new UserError(`--timeout '${flags.timeout}' is not a number of milliseconds`, exitCodes.usage);
  }
  const client: CatwalkClient =
    transport === 'grpc'
      ? createClient({
          transport: 'grpc',
          timeoutMs,
          ...(flags.grpcAddress
            ? { grpcAddress: flags.grpcAddress }
            : endpoint.grpc
              ? {
                  grpcAddress: endpoint.grpc.address,
                  ...(endpoint.grpc.tls ? { grpc: { credentials: credentials.createSsl() } } : {}),
                }
              : { baseUrl: where.baseUrl }),
        })
      : createClient({ baseUrl: where.baseUrl, timeoutMs });
  const signature = flags.signature ?? 'serving_default';
  try {
    const model = client.model(where.model, {
      ...(where.version === undefined ? {} : { version: where.version }),
      ...(where.label === undefined ? {} : { label: where.label }),
      signature,
    });
    const started = process.hrtime.bigint();
    const outputs = await model.predict(inputs as Parameters<typeof model.predict>[0]);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const rows = Object.keys(outputs)
      .sort()
      .map((alias) => ({ alias, tensor: outputs[alias] as Tensor }));
    if (flags.json) {
      const body = {
        model: where.model,
        ...(where.version === undefined ? {} : { version: where.version }),
        ...(where.label === undefined ? {} : { label: where.label }),
        signature,
        transport,
        elapsedMs: Math.round(elapsedMs * 1000) / 1000,
        outputs: Object.fromEntries(
          rows.map(({ alias, tensor }) => [
            alias,
            { dtype: tensor.dtype, shape: tensor.shape, values: jsonSafe(toNested(tensor)) },
          ]),
        ),
      };
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return exitCodes.ok;
    }
    const c = colors(io.color);
    const table = new Table({
      head: ['output', 'dtype', 'shape', 'values'],
      style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [] },
    });
    for (const { alias, tensor } of rows) {
      table.push([alias, tensor.dtype, `[${tensor.shape.join(', ')}]`, preview(tensor)]);
    }
    const pinned =
      where.version !== undefined ? ` version ${where.version}` : where.label ? ` label ${where.label}` : '';
    io.stdout.write(`${table.toString()}\n`);
    io.stdout.write(
      c.dim(`${where.model}${pinned} ${signature} over ${transport}: ${elapsedMs.toFixed(1)} ms\n`),
    );
    return exitCodes.ok;
  } catch (error) {
    throw sdkUserError(error);
  } finally {
    await client.close();
  }
}

export interface ModelEndpoint {
  /** TF Serving's REST URL of the model. */
  readonly url: string;
  /** Where gRPC answers, when a spec exposes it (its own host name, on 443 behind the load balancer). */
  readonly grpc?: { readonly address: string; readonly tls: boolean };
  readonly spec: boolean;
}

/** A URL as given, or the endpoint a spec describes (its host, over HTTPS when TLS is on). */
async function endpointOf(target: string, io: Io): Promise<ModelEndpoint> {
  if (/^https?:\/\//i.test(target)) return { url: target, spec: false };
  if (!/\.ya?ml$/i.test(target)) {
    throw new UserError(
      `${target}: expected a spec file (.yaml) or TF Serving's URL, e.g. http://127.0.0.1:8501/v1/models/<name>`,
      exitCodes.usage,
    );
  }
  const [loaded] = await loadModels([target], io);
  const endpoint = specEndpoint(loaded!.model);
  if (endpoint === undefined) {
    const name = loaded!.model.name;
    throw new UserError(
      `${target}: the spec sets no endpoint.host, so the model has no address outside the cluster; pass its URL instead, e.g. after 'kubectl port-forward svc/${name} 8501': http://127.0.0.1:8501/v1/models/${name}`,
      exitCodes.usage,
    );
  }
  return endpoint;
}

/** The addresses the generated chart's ingress gives a model, as the chart's NOTES name them. */
export function specEndpoint(model: ResolvedModel): ModelEndpoint | undefined {
  const host = model.endpoint.host;
  if (!host) return undefined;
  const tls = model.endpoint.tls.enabled;
  // A wildcard host serves each model on its own name under the domain.
  const httpHost = host.startsWith('*.') ? `${model.name}.${host.slice(2)}` : host;
  return {
    url: `${tls ? 'https' : 'http'}://${httpHost}${model.endpoint.path}`,
    ...(model.endpoint.grpc ? { grpc: { address: `${grpcHost(model.name, host)}:443`, tls } } : {}),
    spec: true,
  };
}

async function readInputs(stdinFlag: string | undefined, flags: PredictFlags, io: Io): Promise<object> {
  if (stdinFlag !== undefined && stdinFlag !== '-') {
    throw new UserError(
      `unexpected argument '${stdinFlag}': inputs come from --input, --input-file or - (standard input)`,
      exitCodes.usage,
    );
  }
  const given = [flags.input !== undefined, flags.inputFile !== undefined, stdinFlag === '-'].filter(
    Boolean,
  ).length;
  if (given !== 1) {
    throw new UserError(
      `give the inputs once: --input '{"x": [[1.0]]}', --input-file inputs.json, or - to read standard input`,
      exitCodes.usage,
    );
  }
  let text: string;
  let where: string;
  if (flags.input !== undefined) {
    text = flags.input;
    where = '--input';
  } else if (flags.inputFile !== undefined && flags.inputFile !== '-') {
    where = flags.inputFile;
    text = await fs
      .readFile(path.resolve(io.cwd, flags.inputFile), 'utf8')
      .catch((error: NodeJS.ErrnoException) => {
        throw new UserError(
          `${flags.inputFile}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`,
        );
      });
  } else {
    where = 'standard input';
    text = await readAll(io);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${where}: not JSON (${(error as Error).message})`);
  }
  // TF Serving's own columnar request body is accepted as well.
  if (isObject(parsed) && Object.keys(parsed).length === 1 && isObject(parsed.inputs)) parsed = parsed.inputs;
  if (!isObject(parsed)) {
    throw new UserError(`${where}: expected an object of inputs by name, e.g. {"x": [[1.0], [2.0]]}`);
  }
  return parsed;
}

async function readAll(io: Io): Promise<string> {
  if (!io.stdin) throw new UserError('standard input is not available here; use --input or --input-file');
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of io.stdin)
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON has no bigint nor bytes: int64 beyond 2^53 become strings, bytes base64. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return { b64: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(jsonSafe);
  return value;
}

const PREVIEW_VALUES = 8;

function preview(tensor: Tensor): string {
  const data = Array.from(tensor.data as ArrayLike<unknown>);
  const shown = data.slice(0, PREVIEW_VALUES).map((v) => {
    if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('utf8'));
    if (typeof v === 'string') return JSON.stringify(v);
    return String(v);
  });
  return data.length > PREVIEW_VALUES ? `${shown.join(' ')} … (${data.length} values)` : shown.join(' ');
}

// Client options are a union per transport: what each transport needs is required.
import { createClient } from '../../src/index.js';

export const rest = createClient({ baseUrl: 'http://localhost:8501' });
export const restExplicit = createClient({
  transport: 'rest',
  baseUrl: 'http://localhost:8501',
  validate: false,
});
export const grpc = createClient({ transport: 'grpc', grpcAddress: 'localhost:8500' });
export const grpcFromBaseUrl = createClient({ transport: 'grpc', baseUrl: 'http://localhost:8501' });

// One options object for either transport, picked by a flag.
declare const kind: 'rest' | 'grpc';
export const either = createClient({
  transport: kind,
  baseUrl: 'http://localhost:8501',
  grpcAddress: 'localhost:8500',
});

// @ts-expect-error REST needs baseUrl
export const noBaseUrl = createClient({});
// @ts-expect-error gRPC needs grpcAddress (or a baseUrl to take the host from)
export const noAddress = createClient({ transport: 'grpc' });
// @ts-expect-error REST needs baseUrl, not only a gRPC address
export const restWithGrpcAddress = createClient({ grpcAddress: 'localhost:8500' });
// @ts-expect-error only REST and gRPC exist
export const unknownTransport = createClient({ transport: 'http3', baseUrl: 'http://localhost:8501' });

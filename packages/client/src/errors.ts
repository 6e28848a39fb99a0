/** TF Serving's error codes (tensorflow.error.Code); the numbers equal gRPC status codes. */
export const ERROR_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** TF Serving's mapping from error code to HTTP status (http_server.cc ToHTTPStatusCode). */
export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

export function grpcCodeOf(code: ErrorCode): number {
  return ERROR_CODES.indexOf(code);
}

export function codeFromGrpc(grpcCode: number): ErrorCode {
  return ERROR_CODES[grpcCode] ?? 'UNKNOWN';
}

/** The inverse of TF Serving's table; several codes share 400/409/500, so the first wins. */
export function codeFromHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    // A gateway in front of TF Serving answers 502 when no pod is reachable.
    case 502:
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    case 500:
      return 'INTERNAL';
    default:
      return 'UNKNOWN';
  }
}

export interface CatwalkErrorDetails<C extends ErrorCode = ErrorCode> {
  readonly code: C;
  /** TF Serving's own message, as it sent it. */
  readonly serverMessage?: string | undefined;
  readonly httpStatus?: number | undefined;
  readonly grpcCode?: number | undefined;
  readonly model?: string | undefined;
  readonly version?: number | undefined;
  readonly label?: string | undefined;
  readonly requestId?: string | undefined;
  readonly transport?: 'rest' | 'grpc' | undefined;
  readonly cause?: unknown;
}

/**
 * The fields every SDK error has. Not exported as a class: `CatwalkError`
 * (below) is the union of the subclasses, so `code` narrows to one of them.
 */
class CatwalkErrorBase<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name: string = 'CatwalkError';
  readonly code: C;
  readonly serverMessage: string | undefined;
  readonly httpStatus: number | undefined;
  readonly grpcCode: number | undefined;
  readonly model: string | undefined;
  readonly version: number | undefined;
  readonly label: string | undefined;
  readonly requestId: string | undefined;
  readonly transport: 'rest' | 'grpc' | undefined;
  /** Whether sending the same request again can succeed. */
  readonly retryable: boolean = false;
  /** Whose fault it is: the caller's request or the server side. */
  readonly fault: 'client' | 'server' = 'server';

  constructor(message: string, details: CatwalkErrorDetails<C>) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.serverMessage = details.serverMessage;
    this.httpStatus = details.httpStatus;
    this.grpcCode = details.grpcCode ?? grpcCodeOf(details.code);
    this.model = details.model;
    this.version = details.version;
    this.label = details.label;
    this.requestId = details.requestId;
    this.transport = details.transport;
  }
}

/** The model, version, label or signature does not exist on the server (NOT_FOUND). */
export class ModelNotFoundError extends CatwalkErrorBase<'NOT_FOUND'> {
  override readonly name = 'ModelNotFoundError';
  override readonly fault = 'client';
}

/** The request was refused as malformed: bad tensors, unknown signature, wrong dtype or shape. */
export class InvalidInputError extends CatwalkErrorBase<
  'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'OUT_OF_RANGE'
> {
  override readonly name = 'InvalidInputError';
  override readonly fault = 'client';
}

/** The server could not be reached or is not serving right now. Retryable. */
export class UnavailableError extends CatwalkErrorBase<'UNAVAILABLE'> {
  override readonly name = 'UnavailableError';
  override readonly retryable = true;
}

/** The server is overloaded (RESOURCE_EXHAUSTED, HTTP 429). Retryable. */
export class ResourceExhaustedError extends CatwalkErrorBase<'RESOURCE_EXHAUSTED'> {
  override readonly name = 'ResourceExhaustedError';
  override readonly retryable = true;
}

/** The call's deadline passed, on the client or on the server. */
export class DeadlineExceededError extends CatwalkErrorBase<'DEADLINE_EXCEEDED'> {
  override readonly name = 'DeadlineExceededError';
}

/** The caller aborted the call, or the server cancelled it. */
export class CancelledError extends CatwalkErrorBase<'CANCELLED'> {
  override readonly name = 'CancelledError';
  override readonly fault = 'client';
}

/** The server does not implement this: a dtype REST cannot carry, or an RPC it lacks. */
export class UnimplementedError extends CatwalkErrorBase<'UNIMPLEMENTED'> {
  override readonly name = 'UnimplementedError';
  override readonly fault = 'client';
}

/** Missing or refused credentials (UNAUTHENTICATED, PERMISSION_DENIED). */
export class PermissionDeniedError extends CatwalkErrorBase<'UNAUTHENTICATED' | 'PERMISSION_DENIED'> {
  override readonly name = 'PermissionDeniedError';
  override readonly fault = 'client';
}

/** The server failed (INTERNAL, UNKNOWN, DATA_LOSS, ...), or answered with something that is not TF Serving's protocol. */
export class ServerError extends CatwalkErrorBase<
  'OK' | 'UNKNOWN' | 'ALREADY_EXISTS' | 'ABORTED' | 'INTERNAL' | 'DATA_LOSS'
> {
  override readonly name = 'ServerError';
}

/**
 * Every failure the SDK reports. As a type it is the union of the
 * subclasses, so `switch (error.code)` narrows to the subclass; as a value
 * it works with `instanceof`, which narrows to that union too.
 */
export type CatwalkError =
  | ModelNotFoundError
  | InvalidInputError
  | UnavailableError
  | ResourceExhaustedError
  | DeadlineExceededError
  | CancelledError
  | UnimplementedError
  | PermissionDeniedError
  | ServerError;

/** `instanceof CatwalkError` narrows to the union of the subclasses. */
export interface CatwalkErrorClass {
  [Symbol.hasInstance](value: unknown): value is CatwalkError;
  readonly prototype: CatwalkError;
}

export const CatwalkError = CatwalkErrorBase as unknown as CatwalkErrorClass;

/** TF Serving reports a label it does not know as INVALID_ARGUMENT; to a caller it is a missing servable. */
const UNKNOWN_LABEL = 'Unrecognized servable version label';

/** Builds the right subclass for a code; the message names the model so logs are useful on their own. */
export function errorFromCode(details: CatwalkErrorDetails, message?: string): CatwalkError {
  const text = message ?? describe(details);
  const code = details.code;
  switch (code) {
    case 'NOT_FOUND':
      return new ModelNotFoundError(text, { ...details, code });
    case 'INVALID_ARGUMENT':
      if (details.serverMessage?.startsWith(UNKNOWN_LABEL))
        return new ModelNotFoundError(text, {
          ...details,
          code: 'NOT_FOUND',
          grpcCode: details.grpcCode ?? 3,
        });
      return new InvalidInputError(text, { ...details, code });
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
      return new InvalidInputError(text, { ...details, code });
    case 'UNAVAILABLE':
      return new UnavailableError(text, { ...details, code });
    case 'RESOURCE_EXHAUSTED':
      return new ResourceExhaustedError(text, { ...details, code });
    case 'DEADLINE_EXCEEDED':
      return new DeadlineExceededError(text, { ...details, code });
    case 'CANCELLED':
      return new CancelledError(text, { ...details, code });
    case 'UNIMPLEMENTED':
      return new UnimplementedError(text, { ...details, code });
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return new PermissionDeniedError(text, { ...details, code });
    default:
      return new ServerError(text, { ...details, code });
  }
}

function describe(details: CatwalkErrorDetails): string {
  let target = details.model === undefined ? '' : `model "${details.model}"`;
  if (details.version !== undefined) target += ` version ${details.version}`;
  if (details.label !== undefined) target += ` label "${details.label}"`;
  const where = target ? `${target}: ` : '';
  return `${where}${details.serverMessage || details.code}`;
}

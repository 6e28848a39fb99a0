// Errors narrow by `code` as well as by `instanceof`.
import {
  CatwalkError,
  createClient,
  type DeadlineExceededError,
  InvalidInputError,
  type ModelNotFoundError,
} from '../../src/index.js';

export async function narrowing(): Promise<string> {
  const model = createClient({ baseUrl: 'http://localhost:8501' }).model('pricing');
  try {
    await model.status();
    return 'ok';
  } catch (e) {
    if (!(e instanceof CatwalkError)) throw e;
    switch (e.code) {
      case 'NOT_FOUND': {
        const missing: ModelNotFoundError = e;
        return missing.model ?? '';
      }
      case 'DEADLINE_EXCEEDED': {
        const late: DeadlineExceededError = e;
        // @ts-expect-error a deadline is not a missing model
        const wrong: ModelNotFoundError = late;
        return String(wrong);
      }
      case 'INVALID_ARGUMENT':
      case 'FAILED_PRECONDITION': {
        const invalid: InvalidInputError = e;
        return invalid.serverMessage ?? '';
      }
      default:
        // @ts-expect-error the other codes are not InvalidInputError
        return (e satisfies InvalidInputError).message;
    }
  }
}

export function instanceofStillWorks(e: unknown): boolean {
  if (e instanceof InvalidInputError) {
    const code: 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'OUT_OF_RANGE' = e.code;
    return code !== 'OUT_OF_RANGE';
  }
  return false;
}

export function codesAreKnown(e: CatwalkError): boolean {
  // @ts-expect-error not an error code
  return e.code === 'NOT_A_CODE';
}

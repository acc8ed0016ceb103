import type { ErrorCode, WorkerErrorInfo } from './protocol';

/** An error whose code says what went wrong, so callers can react (open settings, retry, …). */
export class InferenceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }

  toInfo(): WorkerErrorInfo {
    return { code: this.code, message: this.message };
  }

  static fromInfo(info: WorkerErrorInfo): InferenceError {
    return new InferenceError(info.code, info.message);
  }

  /** Wraps anything thrown into an InferenceError, keeping the message. */
  static from(err: unknown): InferenceError {
    if (err instanceof InferenceError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (/out of memory|bad_alloc|Failed to allocate/i.test(message)) {
      return new InferenceError('out-of-memory', `Not enough memory for this model: ${message}`);
    }
    return new InferenceError('internal', message);
  }
}

export function isCancelled(err: unknown): boolean {
  return err instanceof InferenceError && err.code === 'cancelled';
}

// The one error type: a code from the closed table (which gives the HTTP status), a message and optional details.
import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';
export type ErrorDetails = Record<string, unknown>;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
    this.headers = headers;
  }

  /** An error Hono's HTTP layer raised itself (not one of our routes): code `http_error` with that layer's status. */
  static httpLayer(status: number, message: string): AppError {
    return new HttpLayerError(status, message);
  }
}

class HttpLayerError extends AppError {
  override readonly status: number;

  constructor(status: number, message: string) {
    super('http_error', message);
    this.status = Number.isInteger(status) && status >= 400 && status <= 599 ? status : ERROR_CODES.http_error.status;
  }
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details: ErrorDetails; request_id: string | null };
}

export function errorEnvelope(err: AppError, requestId: string | null): ErrorEnvelope {
  return { error: { code: err.code, message: err.message, details: err.details, request_id: requestId } };
}

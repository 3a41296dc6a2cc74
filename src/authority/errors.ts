// The one error type: a machine-readable code, an HTTP status, a message and optional details.
export type ErrorDetails = Record<string, unknown>;

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetails;
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, details: ErrorDetails = {}, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = details;
    this.headers = headers;
  }
}

export interface ErrorEnvelope {
  error: { code: string; message: string; details: ErrorDetails; request_id: string | null };
}

export function errorEnvelope(err: AppError, requestId: string | null): ErrorEnvelope {
  return { error: { code: err.code, message: err.message, details: err.details, request_id: requestId } };
}

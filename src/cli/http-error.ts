// The one-line form of an authority's HTTP error envelope: code, message, and the details an operator acts on.

interface Envelope {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

/** Issues shown in the line; the JSON on stdout has all of them. */
const MAX_ISSUES = 5;

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

function scalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/**
 * The parts of `details` worth a line: the reason, each failing path of a validation error, when to
 * retry, then any other plain value (an expected sequence, a problem name, a bound). Nested objects
 * (a standing revocation, conflicting evidence) stay on stdout.
 */
function detailParts(details: Record<string, unknown>, retryAfterHeader: string | null): string[] {
  const parts: string[] = [];
  if (scalar(details.reason)) parts.push(String(details.reason));
  if (Array.isArray(details.issues)) {
    const issues = details.issues as Array<{ path?: unknown; message?: unknown }>;
    for (const issue of issues.slice(0, MAX_ISSUES))
      parts.push(`${String(issue?.path ?? '(root)')}: ${oneLine(String(issue?.message ?? 'invalid'))}`);
    if (issues.length > MAX_ISSUES) parts.push(`${issues.length - MAX_ISSUES} more issue(s)`);
  }
  const retryAfter = scalar(details.retry_after_seconds) ? String(details.retry_after_seconds) : retryAfterHeader;
  if (retryAfter !== null && /^\d+$/.test(retryAfter)) parts.push(`retry_after_seconds: ${retryAfter}`);
  for (const [key, value] of Object.entries(details)) {
    if (key === 'reason' || key === 'issues' || key === 'retry_after_seconds') continue;
    if (scalar(value)) parts.push(`${key}: ${oneLine(String(value))}`);
    else if (Array.isArray(value) && value.length > 0 && value.length <= 10 && value.every(scalar))
      parts.push(`${key}: ${value.join(', ')}`);
  }
  return parts;
}

/**
 * `HTTP <status> <code>: <message> (<detail>; <detail>…)`, e.g.
 * `HTTP 422 invalid_treaty_request: request failed validation (validity_hours: Invalid input: expected number, received string)`.
 */
export function httpErrorLine(status: number, body: unknown, retryAfterHeader: string | null = null): string {
  const error = (body as Envelope | null)?.error;
  let line = `HTTP ${status}`;
  if (error && typeof error === 'object') {
    if (typeof error.code === 'string') line += ` ${error.code}`;
    if (typeof error.message === 'string') line += `: ${oneLine(error.message)}`;
  }
  const details =
    error && typeof error.details === 'object' && error.details !== null && !Array.isArray(error.details)
      ? (error.details as Record<string, unknown>)
      : {};
  const parts = detailParts(details, retryAfterHeader);
  return parts.length > 0 ? `${line} (${parts.join('; ')})` : line;
}

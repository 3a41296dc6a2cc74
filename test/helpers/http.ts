// Reading a response in tests: the expected status (the body is the failure message) and its JSON.
import { expect } from 'vitest';

/** Awaits the response, expects `status`, and returns its JSON object. */
export async function ok(res: Response | Promise<Response>, status = 200): Promise<Record<string, unknown>> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text).toBe(status);
  return JSON.parse(text) as Record<string, unknown>;
}

// Writes the error code tables of docs/api.md and docs/cli.md from src/authority/error-codes.ts: npx tsx test/authority/generate-error-docs.ts
import fs from 'node:fs';
import path from 'node:path';
import { errorCodesMarkdown, type ErrorSurface } from '../../src/authority/error-codes.ts';

const DOCS = path.resolve(import.meta.dirname, '../../docs');

function regenerate(doc: string, surface: ErrorSurface): boolean {
  const file = path.join(DOCS, doc);
  const text = fs.readFileSync(file, 'utf8');
  const begin = text.indexOf(`<!-- error-codes:${surface} begin`);
  const end = text.indexOf(`<!-- error-codes:${surface} end -->`);
  if (begin < 0 || end < begin)
    throw new Error(`${doc}: no <!-- error-codes:${surface} begin … --> … <!-- error-codes:${surface} end --> markers`);
  const from = text.indexOf('\n', begin) + 1;
  const next = text.slice(0, from) + errorCodesMarkdown(surface) + text.slice(end);
  if (next === text) return false;
  fs.writeFileSync(file, next);
  return true;
}

for (const [doc, surface] of [
  ['api.md', 'api'],
  ['cli.md', 'cli'],
] as const) {
  process.stdout.write(`docs/${doc}: ${regenerate(doc, surface) ? 'updated' : 'up to date'}\n`);
}

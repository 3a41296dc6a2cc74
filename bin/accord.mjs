#!/usr/bin/env node
// Entry point of the `accord` command. Runs the compiled JavaScript in dist/ (`npm run build`, which
// `npm ci` runs) when it is up to date with src/; otherwise, e.g. right after a source file was edited,
// it runs the TypeScript sources through tsx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');

/** True when every source file under src/ has its compiled file in dist/, written no earlier than the source. */
export function compiledIsCurrent() {
  let entries;
  try {
    entries = fs.readdirSync(SRC, { recursive: true, withFileTypes: true });
  } catch {
    return false;
  }
  let sources = 0;
  for (const entry of entries) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name) || entry.name.endsWith('.d.ts')) continue;
    const source = path.join(entry.parentPath ?? entry.path, entry.name);
    const compiled = path.join(DIST, path.relative(SRC, source)).replace(/\.tsx?$/, '.js');
    let compiledMtime;
    try {
      compiledMtime = fs.statSync(compiled).mtimeMs;
    } catch {
      return false;
    }
    if (compiledMtime < fs.statSync(source).mtimeMs) return false;
    sources++;
  }
  return sources > 0;
}

/**
 * Imports a module of the product by its path under src/ without extension (e.g. `cli/main`): the
 * compiled file when dist/ is current, else the TypeScript source through tsx.
 */
export async function importProduct(modulePath) {
  if (compiledIsCurrent()) return import(pathToFileURL(path.join(DIST, `${modulePath}.js`)).href);
  const { register } = await import('tsx/esm/api');
  // The project's tsconfig whatever the working directory (it sets the JSX runtime of the dashboard).
  register({ tsconfig: path.join(ROOT, 'tsconfig.json') });
  const source = ['.ts', '.tsx'].map((ext) => path.join(SRC, `${modulePath}${ext}`)).find((file) => fs.existsSync(file));
  return import(pathToFileURL(source ?? path.join(SRC, `${modulePath}.ts`)).href);
}

function invokedDirectly() {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) await importProduct('cli/main');

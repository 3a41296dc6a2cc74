// The source tree is a one-way house: each folder may import only from folders on lower floors (or its
// own floor). The floors are declared here; an import that runs back up fails this test, and so does a
// new folder that has not been given a floor.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Lowest first. Folders on one floor may import each other. */
const FLOORS: readonly (readonly string[])[] = [
  // Ground floor: crypto, canonical JSON, clock, errors, the audit writer, HTTP helpers, the database.
  ['authority', 'db'],
  // The authority's own revocation log (entries, Merkle tree, when it is published).
  ['log'],
  // Wire profiles: the Genesis Mesh model and canonical form.
  ['interop'],
  // Domains, each using only the ones below it.
  ['treaties'],
  ['transparency'],
  ['witness'],
  // Feeds, and split-view gossip beside them (it pauses issuers and talks to the same peers).
  ['feeds', 'gossip'],
  ['verification'],
  ['connectome'],
  // The static mirror: copies what feeds, transparency and the connectome serve.
  ['mirror'],
  ['ops'],
  // Read-only followers: copying a primary's published state, and publishing it for them.
  ['follow'],
  // Top floor: the app, the server and its background jobs; the command line.
  ['server'],
  ['cli'],
];

interface Import {
  file: string;
  from: string;
  to: string;
}

/** Every import (static, dynamic, or a worker's `new URL`) from one top-level folder of src/ into another. */
function crossFolderImports(root: string): Import[] {
  const found: Import[] = [];
  const specifier = /(?:from\s+|import\s*\(\s*|new URL\(\s*)['"](\.\.?\/[^'"]+)['"]/g;
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const from = path.relative(root, file).split(path.sep)[0]!;
    for (const match of fs.readFileSync(file, 'utf8').matchAll(specifier)) {
      const target = path.relative(root, path.resolve(path.dirname(file), match[1]!));
      const to = target.split(path.sep)[0]!;
      if (to !== from && !target.startsWith('..')) found.push({ file: path.relative(root, file), from, to });
    }
  }
  return found;
}

/** The imports that run back up (to a higher floor), and folders without a floor. */
function layeringProblems(imports: readonly Import[], folders: readonly string[], floors = FLOORS): string[] {
  const floorOf = new Map<string, number>();
  for (const [level, names] of floors.entries()) for (const name of names) floorOf.set(name, level);
  const problems = folders.filter((f) => !floorOf.has(f)).map((f) => `src/${f}/ has no floor in test/architecture/layers.test.ts`);
  for (const i of imports) {
    const from = floorOf.get(i.from);
    const to = floorOf.get(i.to);
    if (from !== undefined && to !== undefined && to > from)
      problems.push(`src/${i.file} imports ${i.to}/ (floor ${to}) from floor ${from}`);
  }
  return problems;
}

const folders = () =>
  fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);

describe('layers', () => {
  it('no import in src/ runs back up, and every folder has a floor', () => {
    expect(layeringProblems(crossFolderImports(SRC), folders())).toEqual([]);
  });

  it('the check sees an import that runs back up, and a folder without a floor', () => {
    const imports: Import[] = [
      { file: 'treaties/service.ts', from: 'treaties', to: 'log' },
      { file: 'log/store.ts', from: 'log', to: 'feeds' },
    ];
    expect(layeringProblems(imports, ['treaties', 'log', 'feeds', 'newcomer'])).toEqual([
      'src/newcomer/ has no floor in test/architecture/layers.test.ts',
      `src/log/store.ts imports feeds/ (floor ${FLOORS.findIndex((f) => f.includes('feeds'))}) from floor 1`,
    ]);
  });

  it('the import scan finds static, dynamic and worker imports across folders', () => {
    const imports = crossFolderImports(SRC);
    expect(imports.some((i) => i.file === path.join('server', 'app.ts') && i.to === 'feeds')).toBe(true);
    expect(imports.some((i) => i.from === 'cli' && i.to === 'server')).toBe(true);
  });
});

// Stores own the SQL: outside a domain's `*store.ts` (and the few places that are about the database
// itself) no file of src/ prepares a statement, executes SQL text or sets a pragma. Files not moved
// yet are listed below; the list only shrinks.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** What counts as SQL in a source file: a statement prepared, SQL text executed, a pragma set. */
const SQL_CALLS: readonly RegExp[] = [/\.prepare\(/, /\bstatementOnce\(/, /\.exec\(\s*['"`]/, /\.pragma\(/];

/** Where SQL belongs: the stores, the database package, and backup/restore (about the SQLite file itself). */
function mayHoldSql(file: string): boolean {
  const posix = file.split(path.sep).join('/');
  return (
    /(^|[/-])store\.ts$/.test(posix) ||
    posix.startsWith('db/') ||
    /^ops\/(backup|backup-verification|carry-forward|restore)\.ts$/.test(posix)
  );
}

/**
 * Files allowed to hold SQL outside a store while their domain gets one (none left). A listed file
 * that has no SQL any more fails the test, so the list only shrinks.
 */
const NOT_YET_IN_STORES: readonly string[] = [];

/** Files (relative to `root`, with / separators) whose text holds SQL. */
function filesWithSql(root: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = fs.readFileSync(file, 'utf8');
    if (SQL_CALLS.some((pattern) => pattern.test(text))) found.push(path.relative(root, file).split(path.sep).join('/'));
  }
  return found.sort();
}

/** SQL where it does not belong (and not listed), and listed files that no longer hold SQL. */
function storeProblems(withSql: readonly string[], allowlist: readonly string[]): string[] {
  const problems: string[] = [];
  for (const file of withSql) {
    if (!mayHoldSql(file) && !allowlist.includes(file))
      problems.push(`src/${file} holds SQL outside a store: move it into its domain's *store.ts`);
  }
  for (const file of allowlist) {
    if (mayHoldSql(file)) problems.push(`src/${file} may hold SQL anyway; remove it from NOT_YET_IN_STORES`);
    else if (!withSql.includes(file)) problems.push(`src/${file} holds no SQL any more; remove it from NOT_YET_IN_STORES`);
  }
  return problems;
}

describe('stores own the SQL', () => {
  it('no file of src/ outside a store holds SQL, except the ones listed, and every listed one still does', () => {
    expect(storeProblems(filesWithSql(SRC), NOT_YET_IN_STORES)).toEqual([]);
  });

  it('the check sees SQL outside a store, and a listed file that has none left', () => {
    const withSql = ['feeds/imported-store.ts', 'feeds/pull.ts', 'log/store.ts', 'db/database.ts', 'ops/backup.ts', 'treaties/service.ts'];
    expect(storeProblems(withSql, ['treaties/service.ts', 'authority/audit.ts', 'feeds/peer-store.ts'])).toEqual([
      "src/feeds/pull.ts holds SQL outside a store: move it into its domain's *store.ts",
      'src/authority/audit.ts holds no SQL any more; remove it from NOT_YET_IN_STORES',
      'src/feeds/peer-store.ts may hold SQL anyway; remove it from NOT_YET_IN_STORES',
    ]);
  });

  it('the scan finds prepared statements, statementOnce, SQL exec and pragmas, not a regular expression exec', () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'stores-scan-'));
    try {
      const files: Record<string, string> = {
        'a.ts': "sqlite.prepare('SELECT 1').get();",
        'b.ts': "const x = statementOnce('SELECT 1');",
        'c.ts': 'db.exec(`CREATE TABLE t (a)`);',
        'd.ts': "sqlite.pragma('quick_check');",
        'e.ts': 'const m = /^x$/.exec(value);',
      };
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
      expect(filesWithSql(dir)).toEqual(['a.ts', 'b.ts', 'c.ts', 'd.ts']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the feeds domain and the connectome hold no SQL outside their stores', () => {
    const outside = filesWithSql(SRC).filter((f) => (f.startsWith('feeds/') || f.startsWith('connectome/')) && !mayHoldSql(f));
    expect(outside).toEqual([]);
  });
});

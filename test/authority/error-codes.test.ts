// The closed error code table against the code and the docs: every code used is listed, every listed code is used and documented.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  errorCodesMarkdown,
  isErrorCode,
  PULL_FAILURE_REASONS,
  type ErrorCode,
  type ErrorSurface,
} from '../../src/authority/error-codes.ts';
import { AppError } from '../../src/authority/errors.ts';
import { EXIT } from '../../src/cli/output.ts';
import { IMPORT_REJECTIONS } from '../../src/feeds/import.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');
const TABLE_FILE = path.join(SRC, 'authority', 'error-codes.ts');
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

const sources = fs
  .readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.tsx?$/.test(f))
  .map((f) => path.join(SRC, f))
  .filter((file) => file !== TABLE_FILE)
  .map((file) => ({
    file: path.relative(ROOT, file),
    ast: ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true),
  }));

/** Functions that take an error code, and which argument it is. */
const CODE_ARGUMENT: Record<string, number> = { AppError: 0, validate: 2, validatedBody: 2, optionalBody: 2, refuse: 1, parseStrict: 2 };
/** Functions that take a feed import rejection `{ code, details }`, and which argument it is. */
const REJECTION_ARGUMENT: Record<string, number> = { reject: 0, rejectEarly: 3 };

function calleeName(node: ts.CallExpression | ts.NewExpression): string | null {
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text;
  if (callee.kind === ts.SyntaxKind.SuperKeyword) {
    // `super(…)` in a subclass of AppError is an AppError construction.
    let n: ts.Node | undefined = node;
    while (n && !ts.isClassLike(n)) n = n.parent;
    const base = n?.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression.getText();
    return base === 'AppError' ? 'new AppError' : null;
  }
  return null;
}

function stringLiterals(node: ts.Node): ts.StringLiteralLike[] {
  const found: ts.StringLiteralLike[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isStringLiteralLike(n)) found.push(n);
    // A literal inside a nested call or object belongs to that call (a message, a detail), not to the code.
    else if (!ts.isCallExpression(n) && !ts.isNewExpression(n) && !ts.isObjectLiteralExpression(n) && !ts.isTemplateExpression(n))
      ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

function codeProperties(node: ts.Node): ts.StringLiteralLike[] {
  if (!ts.isObjectLiteralExpression(node)) return [];
  return node.properties.flatMap((p) =>
    ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'code' && ts.isStringLiteralLike(p.initializer)
      ? [p.initializer]
      : [],
  );
}

/** Whether a declaration's type (annotation, `satisfies` or type argument) names ErrorCode. */
const namesErrorCode = (type: ts.Node | undefined) => type !== undefined && /\bErrorCode\b/.test(type.getText());

/** Every string literal in src in the place of an error code, where it is. */
function codeLiterals(): Array<{ code: string; where: string }> {
  const found: Array<{ code: string; where: string }> = [];
  for (const { file, ast } of sources) {
    const add = (literals: ts.StringLiteralLike[]) => {
      for (const l of literals) found.push({ code: l.text, where: `${file}:${ast.getLineAndCharacterOfPosition(l.getStart()).line + 1}` });
    };
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
        const name = calleeName(node);
        const args = node.arguments ?? ts.factory.createNodeArray();
        // AppError only as `new AppError(…)` (or `super(…)` in a subclass); the others as plain calls.
        const sink =
          name === 'new AppError' || (name === 'AppError' && ts.isNewExpression(node))
            ? 'AppError'
            : ts.isCallExpression(node) && name !== 'AppError'
              ? name
              : null;
        const codeAt = sink === null ? undefined : CODE_ARGUMENT[sink];
        if (codeAt !== undefined && args[codeAt]) add(stringLiterals(args[codeAt]));
        const rejectionAt = name === null ? undefined : REJECTION_ARGUMENT[name];
        if (rejectionAt !== undefined && args[rejectionAt]) add(codeProperties(args[rejectionAt]));
        if (ts.isNewExpression(node) && name === 'Set' && node.typeArguments?.some(namesErrorCode) && args[0]) add(stringLiterals(args[0]));
      }
      // A parameter `code: ErrorCode = '…'`.
      if (ts.isParameter(node) && namesErrorCode(node.type) && node.initializer) add(stringLiterals(node.initializer));
      if (ts.isVariableDeclaration(node) && node.initializer) {
        let init: ts.Expression = node.initializer;
        let typed = namesErrorCode(node.type);
        while (ts.isSatisfiesExpression(init) || ts.isAsExpression(init)) {
          typed ||= ts.isSatisfiesExpression(init) && namesErrorCode(init.type);
          init = init.expression;
        }
        if (typed && ts.isArrayLiteralExpression(init)) add(init.elements.flatMap((e) => (ts.isStringLiteralLike(e) ? [e] : [])));
        if (typed && ts.isObjectLiteralExpression(init)) {
          add(init.properties.flatMap((p) => (ts.isPropertyAssignment(p) && ts.isStringLiteralLike(p.initializer) ? [p.initializer] : [])));
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(ast);
  }
  return found;
}

/** The generated table of a doc: between its begin and end markers. */
function generatedBlock(doc: string, surface: ErrorSurface): string {
  const text = fs.readFileSync(path.join(ROOT, 'docs', doc), 'utf8');
  const begin = `<!-- error-codes:${surface} begin`;
  const end = `<!-- error-codes:${surface} end -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  expect(from, `${doc} has the ${begin} marker`).toBeGreaterThanOrEqual(0);
  expect(to, `${doc} has the ${end} marker`).toBeGreaterThan(from);
  expect(text.indexOf(begin, from + 1), `${doc} has one generated ${surface} table`).toBe(-1);
  return text.slice(text.indexOf('\n', from) + 1, to);
}

const surfaceCodes = (surface: ErrorSurface) => CODES.filter((c) => ERROR_CODES[c].surface === surface);

describe('the error code table', () => {
  it('codes are snake_case, meanings one line, statuses HTTP errors, exit codes those of the CLI', () => {
    const exits = new Set<number>(Object.values(EXIT));
    for (const code of CODES) {
      const entry = ERROR_CODES[code];
      expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      expect(entry.meaning.length, code).toBeGreaterThan(0);
      expect(entry.meaning, code).not.toMatch(/\n/);
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThan(600);
      if (entry.surface === 'cli') {
        expect(exits.has(entry.exit), code).toBe(true);
        expect(entry.exit, code).not.toBe(EXIT.ok);
      }
    }
  });

  it('AppError takes its status from the table; the HTTP layer keeps its own status under http_error', () => {
    for (const code of CODES) expect(new AppError(code, 'm').status, code).toBe(ERROR_CODES[code].status);
    const layer = AppError.httpLayer(408, 'request timeout');
    expect(layer).toBeInstanceOf(AppError);
    expect(layer).toMatchObject({ code: 'http_error', status: 408, message: 'request timeout' });
    expect(AppError.httpLayer(200, 'not an error').status).toBe(ERROR_CODES.http_error.status);
  });

  it('isErrorCode accepts exactly the table keys', () => {
    for (const code of CODES) expect(isErrorCode(code)).toBe(true);
    for (const other of ['', 'NOT_FOUND', 'not_found ', 'toString', '__proto__', 'constructor', 'validation_failed', 42, null, undefined]) {
      expect(isErrorCode(other), String(other)).toBe(false);
    }
  });

  it('feed import rejections are codes of the table, each once', () => {
    for (const code of IMPORT_REJECTIONS) expect(isErrorCode(code), code).toBe(true);
    expect(new Set(IMPORT_REJECTIONS).size).toBe(IMPORT_REJECTIONS.length);
  });

  it('docs/api.md and docs/cli.md carry the generated tables, with exactly the codes of each surface', () => {
    for (const [doc, surface] of [
      ['api.md', 'api'],
      ['cli.md', 'cli'],
    ] as const) {
      const block = generatedBlock(doc, surface);
      expect(block, `${doc} is out of date: run npx tsx test/authority/generate-error-docs.ts`).toBe(errorCodesMarkdown(surface));
      const documented = [...block.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
      expect(documented).toEqual(surfaceCodes(surface));
    }
    expect(surfaceCodes('api').length + surfaceCodes('cli').length).toBe(CODES.length);
  });
});

describe('the table against src', () => {
  const literals = codeLiterals();

  it('finds the code sites (the scan itself works)', () => {
    expect(literals.length).toBeGreaterThan(150);
    expect(literals).toContainEqual({ code: 'not_found', where: expect.stringMatching(/^src\/server\/app\.ts:/) });
    expect(literals).toContainEqual({ code: 'sequence_gap', where: expect.stringMatching(/^src\/feeds\/import\.ts:/) });
    expect(literals).toContainEqual({ code: 'insufficient_scope', where: expect.stringMatching(/^src\/authority\/admin-auth\.ts:/) });
  });

  it('every code used in src is in the table', () => {
    const unknown = literals.filter((l) => !isErrorCode(l.code));
    expect(unknown, 'codes used in src but missing from src/authority/error-codes.ts').toEqual([]);
  });

  it('every code in the table is used in src', () => {
    const used = new Set(literals.map((l) => l.code));
    expect(
      CODES.filter((c) => !used.has(c)),
      'codes in the table that nothing in src raises',
    ).toEqual([]);
  });

  it('no error envelope is written by hand: every one comes from errorEnvelope', () => {
    const handWritten = sources
      .filter(({ file, ast }) => file !== 'src/authority/errors.ts' && /\berror:\s*\{\s*code:/.test(ast.text))
      .map((s) => s.file);
    expect(handWritten).toEqual([]);
  });

  it('no cast to ErrorCode: a string from elsewhere goes through isErrorCode', () => {
    const casts: string[] = [];
    for (const { file, ast } of sources) {
      const visit = (node: ts.Node) => {
        if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && /\bErrorCode\b/.test(node.type.getText())) {
          casts.push(`${file}:${ast.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText()}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(ast);
    }
    expect(casts).toEqual([]);
  });

  it('every pull failure reason is used in src, and every reason a pull fails with is listed or an error code', () => {
    const reasons: string[] = [];
    for (const { ast } of sources) {
      const visit = (node: ts.Node) => {
        if (ts.isNewExpression(node) && calleeName(node) === 'PullFailure' && node.arguments?.[0])
          reasons.push(...stringLiterals(node.arguments[0]).map((l) => l.text));
        // The issuer checkpoint check answers `{ ok: false, reason, … }`, which the pull throws as its failure.
        if (ts.isObjectLiteralExpression(node)) {
          const ok = node.properties.find((p) => ts.isPropertyAssignment(p) && p.name.getText() === 'ok');
          const reason = node.properties.find((p) => ts.isPropertyAssignment(p) && p.name.getText() === 'reason');
          if (
            ok &&
            reason &&
            ts.isPropertyAssignment(ok) &&
            ok.initializer.kind === ts.SyntaxKind.FalseKeyword &&
            ts.isPropertyAssignment(reason) &&
            ts.isStringLiteralLike(reason.initializer)
          ) {
            if (reason.initializer.text.startsWith('checkpoint_')) reasons.push(reason.initializer.text);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(ast);
    }
    const listed = new Set<string>(PULL_FAILURE_REASONS);
    expect(new Set(PULL_FAILURE_REASONS).size).toBe(PULL_FAILURE_REASONS.length);
    expect(
      PULL_FAILURE_REASONS.filter((r) => !reasons.includes(r)),
      'pull failure reasons nothing in src fails with',
    ).toEqual([]);
    expect(
      reasons.filter((r) => !listed.has(r) && !isErrorCode(r)),
      'pull failures with an unlisted reason',
    ).toEqual([]);
  });
});

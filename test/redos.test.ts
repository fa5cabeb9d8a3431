import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isSafe } from 'redos-detector';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { appRoutes } from '../src/modules/apps/apps.rest.ts';
import { partnerRoutes } from '../src/modules/partners/partners.rest.ts';
import { tokenRoutes } from '../src/modules/tokens/tokens.rest.ts';
import { compileRoute } from '../src/rest/router.ts';

/**
 * Every regular expression in src/ is checked by redos-detector: a pattern that can backtrack more with every
 * character of input fails the suite. The patterns are found by the TypeScript parser (every regular expression
 * literal), so none is missed by a text search; patterns built at run time (`new RegExp`) must be listed below with
 * the test that checks what they build.
 */
const SRC = path.resolve(import.meta.dirname, '../src');

/**
 * Patterns redos-detector cannot prove safe, each kept because its input is bounded and the reason is given.
 * Keyed by file and pattern text. Empty today: add to it only with a reason a reviewer can check.
 */
const PROVEN_SAFE_BY_BOUNDED_INPUT: Record<string, string> = {};

/** Files that build patterns at run time, and where those patterns are checked. */
const RUNTIME_PATTERNS: Record<string, string> = {
  'rest/router.ts': 'compiles each REST route path; every compiled route is checked in "every REST route pattern"',
};

interface Literal {
  file: string;
  line: number;
  text: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function scan(): { literals: Literal[]; constructed: Literal[] } {
  const literals: Literal[] = [];
  const constructed: Literal[] = [];
  for (const file of sourceFiles(SRC)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (node: ts.Node) => ({ file: path.relative(SRC, file), line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, text: node.getText(source) });
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) literals.push(where(node));
      if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') constructed.push(where(node));
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { literals, constructed };
}

/** The RegExp a literal's source text denotes: `/a+b/gi` → new RegExp('a+b', 'gi'). */
function toRegExp(literal: string): RegExp {
  const end = literal.lastIndexOf('/');
  return new RegExp(literal.slice(1, end), literal.slice(end + 1));
}

const { literals, constructed } = scan();

describe('regular expressions in src/ (ReDoS)', () => {
  it('finds the patterns it is meant to check', () => {
    // A broken scan would pass vacuously: these are known to be there.
    expect(literals.length).toBeGreaterThan(30);
    expect(literals).toContainEqual(expect.objectContaining({ file: 'lib/validate.ts', text: expect.stringContaining('[^\\s@.]') }));
    expect(literals).toContainEqual(expect.objectContaining({ file: 'graphql/scalars.ts' }));
  });

  it('flags a vulnerable pattern, so a pass means something', () => {
    expect(isSafe(/^(a+)+$/).safe).toBe(false);
    // The email pattern signIn used to run before any length cap.
    expect(isSafe(/^[^\s@]+@[^\s@]+\.[^\s@]+$/).safe).toBe(false);
    expect(isSafe(/\/+$/).safe).toBe(false);
    expect(isSafe(/^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/).safe).toBe(true);
  });

  it('every regular expression literal is safe from catastrophic backtracking', () => {
    const unsafe = literals
      .filter((literal) => !PROVEN_SAFE_BY_BOUNDED_INPUT[`${literal.file} ${literal.text}`])
      .map((literal) => ({ ...literal, result: isSafe(toRegExp(literal.text), { timeout: 5000 }) }))
      .filter(({ result }) => !result.safe)
      .map(({ file, line, text, result }) => `${file}:${line} ${text} (score ${JSON.stringify(result.score)}${result.error ? `, ${result.error}` : ''})`);
    expect(unsafe).toEqual([]);
  });

  it('every allow-listed pattern still exists and has a reason', () => {
    const present = new Set(literals.map((literal) => `${literal.file} ${literal.text}`));
    for (const [key, reason] of Object.entries(PROVEN_SAFE_BY_BOUNDED_INPUT)) {
      expect(present.has(key), key).toBe(true);
      expect(reason.length).toBeGreaterThan(20);
    }
  });

  it('builds patterns at run time only where those patterns are checked', () => {
    expect([...new Set(constructed.map((c) => c.file))].sort()).toEqual(Object.keys(RUNTIME_PATTERNS).sort());
  });

  it('every REST route pattern is safe', () => {
    const routes = [...appRoutes, ...partnerRoutes, ...tokenRoutes];
    expect(routes.length).toBeGreaterThan(5);
    const unsafe = routes.map(compileRoute).filter((route) => !isSafe(route.pattern).safe).map((route) => `${route.method} ${route.path} ${route.pattern}`);
    expect(unsafe).toEqual([]);
  });
});

/**
 * Size limits a reader can live with: no source file over 500 lines (generated data excepted) and no
 * function over 120 lines — counting the factory closures that hold a whole adapter, which is where long
 * functions hide. Used by tests/structure.test.ts; run it by hand to see every offender:
 *   npx tsx tests/helpers/code-size.ts [files…]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const MAX_FILE_LINES = 500;
export const MAX_FUNCTION_LINES = 120;

/** Files whose only content is generated data (named so on purpose): exempt from the file limit. */
const GENERATED_DATA = /\.data\.ts$/;

export interface SizeViolation {
  file: string;
  what: string;
  lines: number;
  limit: number;
}

export function sourceFiles(root: string, dirs = ['src', 'commands']): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out.sort();
}

function functionName(node: ts.Node): string {
  const named = (n: ts.Node | undefined): string | undefined =>
    n && (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isPrivateIdentifier(n)) ? n.text : undefined;
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isFunctionExpression(node)) {
    const own = named(node.name);
    if (own) return own;
  }
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isGetAccessor(node) || ts.isSetAccessor(node)) return named(node.name) ?? 'accessor';
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)))
    return named(parent.name) ?? '(anonymous)';
  return '(anonymous)';
}

export function sizeViolations(file: string, text = readFileSync(file, 'utf8')): SizeViolation[] {
  const out: SizeViolation[] = [];
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES && !GENERATED_DATA.test(file)) out.push({ file, what: 'file', lines, limit: MAX_FILE_LINES });
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = end - start + 1;
      if (n > MAX_FUNCTION_LINES)
        out.push({ file, what: `function ${functionName(node)} (line ${start + 1})`, lines: n, limit: MAX_FUNCTION_LINES });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const root = process.cwd();
  const files = process.argv.length > 2 ? process.argv.slice(2) : sourceFiles(root);
  const all = files.flatMap((f) => sizeViolations(f));
  for (const v of all) console.log(`${path.relative(root, v.file)}: ${v.what} has ${v.lines} lines (limit ${v.limit})`);
  console.log(`${all.length} over the limits`);
}

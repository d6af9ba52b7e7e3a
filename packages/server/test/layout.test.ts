import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layout rules of ARCHITECTURE.md, checked on the source itself so that they hold, not only are kept.

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));

/** Every source file under `dir` (none when it does not exist). */
function sourceFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|tsx|mts|js|mjs|jsx)$/.test(name) ? [path] : [];
  });
}

/**
 * SQL in a source file: a database call (`db.query(`, `tx.exec(`; Hono's `c.req.query(` reads the query
 * string) or a statement keyword in upper case, as this repository writes SQL.
 */
function sqlIn(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [
    /(?<!\breq)\.(query|exec)\s*(<[^>]*>)?\s*\(/g,
    /\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ON\s+CONFLICT|RETURNING)\b/g,
  ]) {
    for (const m of source.matchAll(pattern)) found.push(m[0]);
  }
  return found;
}

/** The module specifiers a source file imports or re-exports (static, dynamic and require). */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const pattern of [
    /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]) {
    for (const m of source.matchAll(pattern)) specs.push(m[1]!);
  }
  return specs;
}

/** Imports that break the boundary of `packageDir`: other buildd packages, or paths that leave it. */
function forbiddenImports(file: string, source: string, packageDir: string): string[] {
  return importsOf(source).filter((spec) => {
    if (spec.startsWith('@buildd/'))
      return spec !== '@buildd/protocol' && !spec.startsWith('@buildd/protocol/');
    if (spec.startsWith('.')) return relative(packageDir, resolve(dirname(file), spec)).startsWith('..');
    return false;
  });
}

describe('layout', () => {
  it('the checks themselves catch what they are for', () => {
    expect(sqlIn("const rows = await db.query('SELECT 1');")).toEqual(['.query(', 'SELECT']);
    expect(sqlIn('await tx.query<Row>(`UPDATE tasks SET x = 1`)')).toHaveLength(2);
    expect(sqlIn("const message = 'Select a workspace, then update it.';")).toEqual([]);
    expect(sqlIn("const after = c.req.query('after');")).toEqual([]);
    const file = join(packagesDir, 'agent/src/x.ts');
    const bad = [
      "import { startServer } from '@buildd/server';",
      "import type { Db } from '../../server/src/db/index.ts';",
      "const m = await import('@buildd/agent');",
    ].join('\n');
    expect(forbiddenImports(file, bad, join(packagesDir, 'agent'))).toHaveLength(3);
    const good =
      "import { ClaimBody } from '@buildd/protocol';\nimport { x } from './y.ts';\nimport 'node:fs';";
    expect(forbiddenImports(file, good, join(packagesDir, 'agent'))).toEqual([]);
  });

  it('HTTP routes hold no SQL: it lives in src/store (plain reads and writes) and src/queue (queue operations)', () => {
    const files = sourceFiles(join(packagesDir, 'server/src/http'));
    expect(files.length).toBeGreaterThan(5);
    const offenders = files
      .map((f) => ({ file: relative(packagesDir, f), sql: sqlIn(readFileSync(f, 'utf8')) }))
      .filter((o) => o.sql.length > 0);
    expect(offenders).toEqual([]);
  });

  // The server runs its local agent as a child process (src/local-agent.ts), so it imports none of it either.
  it.each(['agent', 'cli', 'dashboard', 'server'])(
    '%s imports nothing of buildd but @buildd/protocol',
    (pkg) => {
      const root = join(packagesDir, pkg);
      const offenders = sourceFiles(join(root, 'src')).flatMap((f) =>
        forbiddenImports(f, readFileSync(f, 'utf8'), root).map(
          (spec) => `${relative(packagesDir, f)}: ${spec}`,
        ),
      );
      expect(offenders).toEqual([]);
    },
  );
});

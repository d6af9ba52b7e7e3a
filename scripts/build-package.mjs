#!/usr/bin/env node
// Builds the workspace package in the current directory to plain JavaScript in dist/, so its bins run
// with `node` alone (no TypeScript loader at run time). Each argument names one entry:
//
//   node ../../scripts/build-package.mjs src/cli.ts=buildd-agent      → dist/buildd-agent.mjs
//
// Other workspace packages (@buildd/*) are bundled in; every other bare import stays external and must
// be listed in this package's dependencies (or peer/optional dependencies), or the build fails: a tarball
// of the package then installs everything its code imports.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { build } from 'esbuild';

const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const outdir = join(pkgDir, 'dist');
const entries = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [source, name] = arg.split('=');
    if (!source || !name || !existsSync(join(pkgDir, source))) {
      throw new Error(`build-package: "${arg}" is not <existing source file>=<output name>`);
    }
    return [name, join(pkgDir, source)];
  }),
);
if (Object.keys(entries).length === 0) throw new Error('build-package: name at least one entry');

const declared = new Set(
  ['dependencies', 'optionalDependencies', 'peerDependencies'].flatMap((k) => Object.keys(pkg[k] ?? {})),
);
const builtins = new Set(builtinModules);
const packageName = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const undeclared = new Set();

/** Workspace packages are bundled (from their TypeScript sources); everything else stays external. */
const externals = {
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) return { external: true };
      const name = packageName(args.path);
      if (name.startsWith('@buildd/')) return undefined;
      if (!declared.has(name)) undeclared.add(`${name} (imported by ${relative(pkgDir, args.importer)})`);
      return { external: true };
    });
  },
};

/**
 * Code that finds files beside itself (`new URL('../../migrations/', import.meta.url)`) must keep
 * finding them once bundled into dist/: each source file's `import.meta.url` becomes its own original
 * location, computed from the bundle's. Every output file sits directly in dist/, so one relative path
 * per source file is right wherever esbuild puts its code.
 */
const sourceLocation = {
  name: 'source-location',
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.')) return undefined;
      if (/import\.meta\.(dirname|filename)/.test(text)) {
        throw new Error(
          `${relative(pkgDir, args.path)}: use new URL(…, import.meta.url), which the build relocates`,
        );
      }
      const rel = relative(outdir, args.path).split(sep).join('/');
      return {
        loader: 'ts',
        resolveDir: dirname(args.path),
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
      };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  // Readable stack traces for operators: no minification, names kept.
  keepNames: true,
  banner: { js: '#!/usr/bin/env node' },
  plugins: [externals, sourceLocation],
  logLevel: 'warning',
});
if (undeclared.size > 0) {
  rmSync(outdir, { recursive: true, force: true });
  throw new Error(
    `build-package: ${pkg.name} imports packages missing from its package.json dependencies: ` +
      `${[...undeclared].join(', ')}. Add them, or an installed tarball will not start.`,
  );
}
process.stdout.write(
  `built ${pkg.name}: ${Object.keys(entries)
    .map((n) => `dist/${n}.mjs`)
    .join(', ')}\n`,
);

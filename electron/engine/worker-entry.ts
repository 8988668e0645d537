/**
 * The entry file of an engine worker thread, for compiled code and for the test runner alike.
 * Compiled, a worker module `x.ts` is `x.js` next to its caller. Under the test runner the caller is
 * TypeScript source and a worker thread cannot load TypeScript (Node 20 has no type stripping), so
 * the entry is bundled from source once per process with esbuild (a dev dependency; this branch is
 * never reached by compiled code) into node_modules/.cache, where its package imports resolve, and
 * removed when the process exits. Owns nothing else: starting, talking to and stopping the worker
 * belong to the caller.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';

const bundled = new Map<string, URL>();

/**
 * The entry of worker module `name` (without extension, e.g. `./maintenance-worker`) that sits
 * next to the module whose `import.meta.url` is `callerUrl`.
 */
export function workerEntry(callerUrl: string, name: string): URL {
  if (!callerUrl.endsWith('.ts')) return new URL(`${name}.js`, callerUrl);
  const source = fileURLToPath(new URL(`${name}.ts`, callerUrl));
  const cached = bundled.get(source);
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as {
    buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] };
  };
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [source],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
  });
  const dir = fileURLToPath(new URL('../../node_modules/.cache/parley/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const base = name.replace(/^.*\//, '');
  const file = `${dir}${base}-${process.pid}-${threadId}.mjs`;
  writeFileSync(`${file}.tmp`, outputFiles[0]!.text);
  renameSync(`${file}.tmp`, file);
  process.once('exit', () => rmSync(file, { force: true }));
  const url = pathToFileURL(file);
  bundled.set(source, url);
  return url;
}

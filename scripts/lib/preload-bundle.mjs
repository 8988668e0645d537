// The preload bundle, built in memory (used by scripts/build-preload.mjs and by the preload test).
import path from 'node:path';
import { build } from 'esbuild';

/** Module names a sandboxed preload may require (Electron's sandbox polyfill knows these). */
export const SANDBOX_REQUIRABLE = new Set(['electron']);

/** Bundles electron/shell/preload.ts and returns the CommonJS source; throws if it requires anything else. */
export async function bundlePreload(root) {
  const result = await build({
    entryPoints: [path.join(root, 'electron', 'shell', 'preload.ts')],
    bundle: true,
    write: false,
    // 'browser' keeps Node built-ins out: a bundled `require('node:fs')` would fail in the sandbox.
    platform: 'browser',
    format: 'cjs',
    target: 'chrome130',
    external: ['electron'],
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  const required = [...code.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
  const foreign = required.filter((name) => !SANDBOX_REQUIRABLE.has(name));
  if (foreign.length > 0) throw new Error(`preload bundle requires modules a sandboxed preload cannot load: ${foreign.join(', ')}`);
  return code;
}

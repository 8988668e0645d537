// The preload bundle, built in memory (used by scripts/build-preload.mjs and by the preload test).
//
// A preload exposes channel functions and nothing else (issue 10 item 14): it needs the contract's
// channel and event NAMES, not its zod schemas. The names are computed here at build time from
// shared/api (CONTRACT, EVENTS through electron/host/channels.ts, which also checks them) and
// defined into the bundle as the constant PARLEY_PRELOAD_TABLE; the preload imports no value from
// shared/api. Before: 777 KB, all but 26 KB of it zod.
import path from 'node:path';
import { build } from 'esbuild';

/** Module names a sandboxed preload may require (Electron's sandbox polyfill knows these). */
export const SANDBOX_REQUIRABLE = new Set(['electron']);

/** The only source files the bundle may contain (relative to the repository, '/'-separated). */
export const PRELOAD_SOURCES = new Set(['electron/shell/preload.ts', 'electron/shell/ipc-preload.ts', 'electron/host/channels.ts']);

/** Bytes the bundle may not exceed (it is about 3 KB; one more module by value breaks it). */
export const PRELOAD_BUDGET_BYTES = 16 * 1024;

/** The contract's channel descriptors and event names, as the preload receives them. */
export async function preloadTable(root) {
  const result = await build({
    stdin: {
      contents: [
        "import { CONTRACT } from './shared/api/contract.ts';",
        "import { EVENTS } from './shared/api/events.ts';",
        "import { describeChannels, describeEvents } from './electron/host/channels.ts';",
        'export const table = { channels: describeChannels(CONTRACT), eventNames: describeEvents(EVENTS) };',
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'preload-table.ts',
      loader: 'ts',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  const source = result.outputFiles[0].text;
  const { table } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  return table;
}

/**
 * Bundles electron/shell/preload.ts; returns the CommonJS source and the source files it holds.
 * Throws if it requires anything but `electron`.
 */
export async function bundlePreloadWithInputs(root) {
  const table = await preloadTable(root);
  const result = await build({
    entryPoints: [path.join(root, 'electron', 'shell', 'preload.ts')],
    bundle: true,
    write: false,
    metafile: true,
    // 'browser' keeps Node built-ins out: a bundled `require('node:fs')` would fail in the sandbox.
    platform: 'browser',
    format: 'cjs',
    target: 'chrome130',
    external: ['electron'],
    define: { PARLEY_PRELOAD_TABLE: JSON.stringify(table) },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  const required = [...code.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
  const foreign = required.filter((name) => !SANDBOX_REQUIRABLE.has(name));
  if (foreign.length > 0) throw new Error(`preload bundle requires modules a sandboxed preload cannot load: ${foreign.join(', ')}`);
  const [output] = Object.values(result.metafile.outputs);
  const inputs = Object.keys(output.inputs)
    .filter((input) => !input.startsWith('<define:'))
    .map((input) => path.relative(root, path.resolve(root, input)).split(path.sep).join('/'));
  return { code, inputs };
}

/** Bundles electron/shell/preload.ts and returns the CommonJS source; throws if it requires anything else. */
export async function bundlePreload(root) {
  return (await bundlePreloadWithInputs(root)).code;
}

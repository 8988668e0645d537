#!/usr/bin/env node
// `npm run build:preload`: bundles electron/shell/preload.ts into ONE CommonJS file, dist/preload/preload.cjs
// (DESIGN §2: a sandboxed preload cannot load ESM or local modules; its `require` knows only
// `electron` and a few polyfills). Everything but `electron` is inlined; the bundle is checked so
// that no other require survives. electron/shell/ipc-preload.test.ts runs the same build in memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePreload } from './lib/preload-bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'dist', 'preload', 'preload.cjs');
const code = await bundlePreload(root);
mkdirSync(path.dirname(outfile), { recursive: true });
writeFileSync(outfile, code);
console.log(`preload: ${path.relative(root, outfile)} (${code.length} bytes)`);

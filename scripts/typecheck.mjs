#!/usr/bin/env node
// `npm run typecheck`: every TypeScript program of the repository, each checked even when an earlier
// one failed (so an error in one part never hides errors in another):
//   tsconfig.json      everything that runs in Node (product code, unit tests, scripts, benchmarks)
//   tsconfig.e2e.json  the Playwright specs (Node + DOM types) and the renderer's Vite config
//   svelte-check       the renderer (renderer/tsconfig.json: .svelte components and .ts)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const checks = [
  ['tsc (Node)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']],
  ['tsc (e2e)', bin('tsc'), ['-p', 'tsconfig.e2e.json', '--noEmit']],
  ['svelte-check (renderer)', bin('svelte-check'), ['--workspace', 'renderer', '--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human']],
];
const failed = [];
for (const [label, cmd, args] of checks) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) failed.push(label);
}
if (failed.length > 0) {
  console.error(`typecheck failed: ${failed.join(', ')}`);
  process.exit(1);
}

#!/usr/bin/env node
// `npm run start:browser`'s first step: runs `npm run build` only when the build's inputs changed
// since the last build made here, or an output is missing (scripts/lib/build-freshness.mjs).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFingerprint, buildNeeded, recordFingerprint } from './lib/build-freshness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Taken before the build: a file edited while it runs makes the next launch build again.
const fingerprint = buildFingerprint(root);
const reason = buildNeeded(root, fingerprint);
if (reason !== null) {
  console.log(`Building Parley (${reason})…`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (build.status !== 0) {
    console.log('The build failed; fix the errors above and run it again.');
    process.exit(1);
  }
  recordFingerprint(root, fingerprint);
}

#!/usr/bin/env node
// Fail-fast check that every native module loads in this Node (run by .ci/run after npm ci).
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
let bad = 0;
for (const [name, probe] of [
  ['better-sqlite3-multiple-ciphers', (m) => { const db = new m(':memory:'); db.prepare('select 1').get(); db.close(); }],
  ['@napi-rs/keyring', (m) => { if (typeof m.Entry !== 'function') throw new Error('no Entry export'); }],
]) {
  try {
    probe(require(name));
    console.log(`native module ok: ${name}`);
  } catch (e) {
    bad++;
    console.error(`native module FAILED to load: ${name}: ${e instanceof Error ? e.message : e}`);
  }
}
process.exit(bad ? 1 : 0);

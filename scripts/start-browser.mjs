#!/usr/bin/env node
// `npm run start:browser [-- --profile NAME --port N --no-open --print-url]`: the same UI as `npm start`,
// served by the browser host (electron/browser-host) on 127.0.0.1 and opened in your browser through
// the profile's owner-only launch page (docs/adr/0020-browser-host-launch.md). Runs the compiled host
// from dist/ (`npm run start:browser` runs scripts/build-if-changed.mjs first, which builds only when
// sources changed); the e2e helpers start it directly.
// Unless PARLEY_RELAY_URL names a relay already, it reuses the local relay or starts one
// (scripts/lib/local-relay.mjs) and suggests it in onboarding; a relay it started stops with it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'electron', 'browser-host', 'main.js');
if (!existsSync(entry)) {
  console.error(`The browser host is not built (${path.relative(root, entry)} is missing). Run: npm run build`);
  process.exit(1);
}
const { runBrowserHost } = await import(pathToFileURL(entry).href);
const env = { ...process.env };
let relay = null;
if (!env.PARLEY_RELAY_URL) {
  const { dataRoot } = await import(pathToFileURL(path.join(root, 'dist', 'electron', 'host', 'launch-args.js')).href);
  const { ensureLocalRelay } = await import('./lib/local-relay.mjs');
  try {
    relay = await ensureLocalRelay({ root, dataRoot: dataRoot(env), log: (line) => console.log(line) });
    env.PARLEY_RELAY_URL = relay.url;
  } catch (error) {
    console.log(`No local relay: ${error instanceof Error ? error.message : String(error)}. Enter a relay address in the app.`);
  }
}
try {
  await runBrowserHost(process.argv.slice(2), env);
} finally {
  await relay?.stop();
}

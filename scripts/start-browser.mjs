#!/usr/bin/env node
// `npm run start:browser [-- --profile NAME --port N --no-open]`: the same UI as `npm start`, served by
// the browser host (electron/browser-host) on 127.0.0.1 and opened in your browser. Runs the compiled
// host from dist/ (`npm run start:browser` builds first); the e2e helpers start it directly.
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
await runBrowserHost(process.argv.slice(2));

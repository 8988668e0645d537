// The local relay `npm start` and `npm run start:browser` use (issue 5 "Start"): reuse one that runs
// already, else start one as a child process (embedded SQLite store) and record where it listens, so
// `npm start -- --profile bob` beside the first window finds the same relay.
//
//   <data root>/relay/            the relay's data directory (--data)
//   <data root>/relay/local.json  {"url": "http://127.0.0.1:PORT", "pid": N} of the relay started last
//
// A recorded relay is reused when its /.well-known/parley answers. The relay prints one line
// {"event":"parley-relay.listening","url":…} once it accepts connections (server/main.ts); that line
// gives the bound port (we ask for port 0). The child lives as long as the process that started it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const START_TIMEOUT_MS = 15_000;
const PROBE_TIMEOUT_MS = 1_500;
const LISTENING_EVENT = 'parley-relay.listening';

/** Whether a Parley relay answers at `url` (its /.well-known/parley is JSON). */
export async function relayAnswers(url, timeoutMs = PROBE_TIMEOUT_MS) {
  try {
    const response = await fetch(new URL('/.well-known/parley', url), { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return false;
    await response.json();
    return true;
  } catch {
    return false;
  }
}

function readRecord(file) {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8'));
    return typeof record?.url === 'string' ? record : null;
  } catch {
    return null;
  }
}

/**
 * Returns `{ url, started, stop() }`: a relay that answers, either found (`started: false`, stop is a
 * no-op) or started now from dist/server/main.js (`started: true`).
 */
export async function ensureLocalRelay({ root, dataRoot, log = () => undefined }) {
  const relayDir = path.join(dataRoot, 'relay');
  const recordFile = path.join(relayDir, 'local.json');
  const record = readRecord(recordFile);
  if (record && (await relayAnswers(record.url))) {
    log(`using the local relay at ${record.url}`);
    return { url: record.url, started: false, stop: async () => undefined };
  }
  const entry = path.join(root, 'dist', 'server', 'main.js');
  if (!existsSync(entry)) throw new Error(`the relay is not built (${path.relative(root, entry)} is missing); run: npm run build`);
  mkdirSync(relayDir, { recursive: true, mode: 0o700 });
  const child = spawn(process.execPath, [entry, '--host', '127.0.0.1', '--port', '0', '--data', relayDir, '--log-level', 'warn'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the local relay did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event?.event === LISTENING_EVENT && typeof event.url === 'string') {
        clearTimeout(timer);
        resolve(event.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the local relay exited (${code}) before it listened`));
    });
  });
  writeFileSync(recordFile, `${JSON.stringify({ url, pid: child.pid })}\n`, { mode: 0o600 });
  log(`started a local relay at ${url}`);
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', () => resolve(undefined));
      child.kill('SIGTERM');
    });
  return { url, started: true, stop };
}

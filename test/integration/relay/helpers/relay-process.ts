/**
 * The relay as a child process of the built bin (dist/server/main.js) for tests: its bound port is
 * read from the `parley-relay.listening` line; stderr and stdout are captured; stop() sends SIGTERM,
 * kill() SIGKILL. Imports nothing from server/, so tests outside test/ (the relay client's) can use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const RELAY_BIN = path.join(REPO_ROOT, 'dist/server/main.js');

/** Rate-limit overrides (JSON for PARLEY_RELAY_LIMITS), loose enough for tests from 127.0.0.1. */
export const TEST_LIMITS = {
  registrationPerIp: { points: 100_000, duration: 1 },
  authPerIp: { points: 100_000, duration: 1 },
  challengesPerAddressAndDevice: { points: 1_000, duration: 1 },
  requestsPerIp: { points: 100_000, duration: 1 },
  lookupsPerAccount: { points: 10_000, duration: 1 },
  upgradesPerIp: { points: 100_000, duration: 1 },
  wsAuthPerIp: { points: 100_000, duration: 1 },
  maxPreAuthPerIp: 100_000,
  bundlesPerIp: { points: 100_000, duration: 1 },
  oneTimeClaimsPerDevice: { points: 100_000, duration: 1 },
  contactReplacementsPerAccount: { points: 100_000, duration: 1 },
};

/** The bearer token test relays serve /metrics to (PARLEY_RELAY_METRICS_TOKEN). */
export const TEST_METRICS_TOKEN = 'parley-test-metrics-token-not-secret';

/** The Prometheus text of a relay's /metrics (on its public listener, with the token). */
export async function scrapeMetrics(url: string, token = TEST_METRICS_TOKEN): Promise<string> {
  const res = await fetch(`${url.replace(/\/$/, '')}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

export type RelayProcess = {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdoutLines(): readonly string[];
  /** SIGTERM and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
};

export async function spawnRelay(options: {
  dataDir: string;
  port?: number;
  env?: Readonly<Record<string, string>>;
  limits?: Readonly<Record<string, unknown>>;
  /** Replaces the default flags (host, port, data dir, log level), e.g. to configure through env. */
  args?: readonly string[];
}): Promise<RelayProcess> {
  if (!existsSync(RELAY_BIN)) throw new Error(`${RELAY_BIN} is missing: run \`npm run build\` first`);
  const child = spawn(
    process.execPath,
    [RELAY_BIN, ...(options.args ?? ['--host', '127.0.0.1', '--port', String(options.port ?? 0), '--data', options.dataDir, '--log-level', 'warn'])],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PARLEY_RELAY_LIMITS: JSON.stringify({ ...TEST_LIMITS, ...options.limits }),
        PARLEY_RELAY_METRICS_TOKEN: TEST_METRICS_TOKEN,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  const lines: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${stderr}`)), 20_000);
    rl.on('line', (line) => {
      lines.push(line);
      if (!line.includes('parley-relay.listening')) return;
      try {
        const parsed = JSON.parse(line) as { event?: string; port?: number };
        if (parsed.event === 'parley-relay.listening' && typeof parsed.port === 'number') {
          clearTimeout(timer);
          resolve(parsed.port);
        }
      } catch {
        // a log line that merely mentions the event
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    exited,
    stderr: () => stderr,
    stdoutLines: () => lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

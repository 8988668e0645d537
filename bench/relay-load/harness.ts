/**
 * What the relay benchmarks share (run.ts, scale.ts): starting processes under a raised descriptor
 * limit, reading their listening line, their CPU time and RSS, the machine's CPU pressure, the load
 * generators' IPC, and merging load-generator statistics into one step result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command, LoadStats, Reply } from './protocol.js';

export const DIST = fileURLToPath(new URL('../../', import.meta.url));
export const RELAY_MAIN = path.join(DIST, 'server/main.js');
export const LOADGEN = path.join(DIST, 'bench/relay-load/loadgen.js');
export const FORWARDER = path.join(DIST, 'bench/relay-load/forwarder.js');
export const WANTED_NOFILE = 65_535;
/** The relay serves /metrics only with a token (or on a listener of its own). */
export const METRICS_TOKEN = 'bench-relay-load-metrics-token';
/** Loopback is one IP: the per-IP limits of a public relay would throttle the setup, not the relay. */
export const BENCH_LIMITS = {
  registrationPerIp: { points: 1e6, duration: 1 },
  authPerIp: { points: 1e6, duration: 1 },
  requestsPerIp: { points: 1e6, duration: 1 },
  upgradesPerIp: { points: 1e6, duration: 1 },
  wsAuthPerIp: { points: 1e6, duration: 1 },
  maxPreAuthPerIp: 1e6,
  maxMailboxEnvelopes: 1e9,
};

export const log = (message: string): void => {
  process.stderr.write(`[bench:relay] ${message}\n`);
};

export function spawnNode(script: string, nodeArgs: readonly string[], scriptArgs: readonly string[], env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [
    `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`,
    'export PARLEY_BENCH_NOFILE="$(ulimit -n)"',
    `exec ${[process.execPath, ...nodeArgs, script, ...scriptArgs].map(quote).join(' ')}`,
  ].join('; ');
  return spawn('bash', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? (['ipc'] as const) : [])] });
}

export function waitForLine(child: ChildProcess, event: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (!line.includes(event)) return;
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        // not the line
      }
    });
    child.once('exit', (code) => reject(new Error(`${event}: process exited with ${code}`)));
  });
}

/** User + system CPU time of a process, in ms (Linux clock ticks are 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Share of the last 10 s in which some runnable task waited for a CPU (PSI), or null. */
export function cpuPressure(): number | null {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return null;
  }
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

export async function relayHeapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return Number(/^parley_relay_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LoadGen {
  private waiting: ((r: Reply) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m) => this.waiting.shift()?.(m as Reply));
  }
  async call(command: Command): Promise<Reply & { ok: true }> {
    const reply = await new Promise<Reply>((resolve) => {
      this.waiting.push(resolve);
      this.child.send(command);
    });
    if (!reply.ok) throw new Error(`loadgen: ${reply.error}`);
    return reply;
  }
}

export async function all<T extends Reply & { ok: true }>(gens: readonly LoadGen[], command: (i: number) => Command): Promise<T[]> {
  return (await Promise.all(gens.map((g, i) => g.call(command(i))))) as T[];
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return Number.isFinite(v) ? Math.round(v * 10) / 10 : null;
}

export type StepResult = {
  offeredPerSec: number;
  sentPerSec: number;
  deliveredPerSec: number;
  ackedPerSec: number;
  lost: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  errors: Record<string, number>;
  /** CPU time of the server process per delivered envelope over the whole step (warmup, window, drain). */
  serverCpuUsPerEnvelope?: number;
  serverCpuPercent?: number;
  /** Machine CPU pressure (PSI some avg10, %) at the end of the step: other tenants' load. */
  cpuPressure?: number | null;
  /** CPU time of all load generators per envelope (they share the machine with the server). */
  loadgenCpuUsPerEnvelope?: number;
};

export function mergeStep(rate: number, stats: readonly LoadStats[]): StepResult {
  const windowS = stats[0]!.windowMs / 1000;
  const sentInWindow = stats.reduce((n, s) => n + s.sentInWindow, 0);
  const latencies = stats.flatMap((s) => s.latencies);
  const lost = Math.max(0, sentInWindow - latencies.length);
  // Undelivered envelopes count as infinitely late.
  const sorted = [...latencies, ...Array<number>(lost).fill(Infinity)].sort((a, b) => a - b);
  const commits = stats.flatMap((s) => s.commitLatencies).sort((a, b) => a - b);
  const errors: Record<string, number> = {};
  for (const s of stats) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    offeredPerSec: rate,
    sentPerSec: Math.round(sentInWindow / windowS),
    deliveredPerSec: Math.round(latencies.length / windowS),
    ackedPerSec: Math.round(stats.reduce((n, s) => n + s.ackedInWindow, 0) / windowS),
    lost,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    commitP50Ms: percentile(commits, 50),
    commitP99Ms: percentile(commits, 99),
    errors,
  };
}


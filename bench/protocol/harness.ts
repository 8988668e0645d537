/**
 * Timing harness for bench/protocol: a measured case and its primitive floor run in the same
 * process, interleaved rep by rep (order alternating), so drift and noise on a shared 2-core
 * machine hit both alike. Every op is timed on its own (per-op median and p95); every rep is also
 * timed as a whole (throughput = ops / wall time, reported as the median over reps) and by the
 * process's CPU time (ops per CPU-second: what the code costs, whatever else the machine runs).
 * Does not own what is measured (ratchet.ts, pqxdh.ts) or the report (run.ts).
 */
import { performance } from 'node:perf_hooks';

/**
 * One measured thing: `prepare` builds a rep's ops outside the timing (fresh keys, messages); each
 * op is then timed.
 */
export type Case = {
  readonly name: string;
  readonly prepare: (count: number) => ReadonlyArray<() => void>;
  /** Called after each rep, outside the timing (correctness checks). */
  readonly check?: () => void;
};

export type Plan = {
  /** Untimed reps first (JIT warm-up, caches, lazy initialisation). */
  readonly warmupReps: number;
  readonly reps: number;
  /** Ops per rep. */
  readonly batch: number;
};

export type Stats = {
  /** Per-op latency in microseconds. */
  readonly medianUs: number;
  readonly p95Us: number;
  /** Ops per second: median over reps of ops / wall time of the rep. */
  readonly medianRate: number;
  readonly minRate: number;
  readonly maxRate: number;
  /** Ops per second of each timed rep, in rep order (rep r of every case ran side by side). */
  readonly repRates: readonly number[];
  /** Ops per CPU-second (user + system, all threads: GC helpers count), median over reps. */
  readonly medianCpuRate: number;
  readonly repCpuRates: readonly number[];
  /** Per-op latency medians of each timed rep, in rep order. */
  readonly repMediansUs: readonly number[];
  readonly ops: number;
};

export function quantile(sorted: Float64Array | readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  // Nearest-rank on the sorted samples: p95 of 100 samples is the 95th.
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * Median over reps of a / b, rep by rep: both ran back to back in each rep, so load from
 * elsewhere on the machine hits the pair alike and mostly cancels out of their ratio.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error('bench: unpaired reps');
  return median(a.map((x, i) => x / b[i]!));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

type Collector = { samples: number[]; rates: number[]; cpuRates: number[]; medians: number[] };

function runRep(c: Case, batch: number, into: Collector | null): void {
  const ops = c.prepare(batch);
  const times = new Float64Array(ops.length);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < ops.length; i++) {
    const t0 = performance.now();
    ops[i]!();
    times[i] = performance.now() - t0;
  }
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  c.check?.();
  if (into) {
    for (const t of times) into.samples.push(t * 1000);
    into.rates.push((ops.length * 1000) / wall);
    into.cpuRates.push((ops.length * 1e6) / Math.max(1, cpu.user + cpu.system));
    into.medians.push(quantile(times.sort(), 0.5) * 1000);
  }
}

function summarize(c: Collector): Stats {
  const sorted = Float64Array.from(c.samples).sort();
  return {
    medianUs: quantile(sorted, 0.5),
    p95Us: quantile(sorted, 0.95),
    medianRate: median(c.rates),
    minRate: Math.min(...c.rates),
    maxRate: Math.max(...c.rates),
    repRates: c.rates,
    medianCpuRate: median(c.cpuRates),
    repCpuRates: c.cpuRates,
    repMediansUs: c.medians,
    ops: sorted.length,
  };
}

/**
 * Runs all cases rep by rep, interleaved: in rep r the cases run in order (r even) or reversed
 * (r odd). Returns one Stats per case, by name.
 */
export function measure(cases: readonly Case[], plan: Plan): Map<string, Stats> {
  const collectors = cases.map((): Collector => ({ samples: [], rates: [], cpuRates: [], medians: [] }));
  for (let rep = 0; rep < plan.warmupReps + plan.reps; rep++) {
    const timed = rep >= plan.warmupReps;
    const order = cases.map((_, i) => i);
    if (rep % 2 === 1) order.reverse();
    for (const i of order) runRep(cases[i]!, plan.batch, timed ? collectors[i]! : null);
  }
  return new Map(cases.map((c, i) => [c.name, summarize(collectors[i]!)]));
}

/**
 * bench/protocol entry point (`npm run bench:protocol`): runs every protocol benchmark next to its
 * same-run primitive floor and prints one JSON object per line (a `run` header, one object per
 * benchmark, one with the primitive timings), then a table for people. Always exits 0 when the
 * benchmarks ran, goals met or not: it is a measurement, not a test.
 *
 *   node dist/bench/protocol/run.js [--quick] [--json] [--only=GROUP]
 *     --quick       fewer and smaller reps (a smoke run; figures are not for the record)
 *     --json        only the JSON lines
 *     --only=GROUP  run one group only (one-direction | ping-pong | setup | primitives | sender-key), e.g. under
 *                   `node --cpu-prof` to profile it; prints the raw stats of that group and, for
 *                   one-direction, ping-pong and sender-key, its result lines (figure, floor, ratio) as in a full run
 *
 * Figures: throughput benchmarks report the median over reps of ops / wall time of the rep, and
 * the per-op median and p95 latency; latency benchmarks the per-op median and p95. `ratio` is
 * benchmark / floor in the figure's unit — a share of the floor's rate for throughput, a multiple
 * of the floor's time for latency — taken rep by rep (each rep runs both back to back) and then
 * the median, which cancels most load from elsewhere on a shared machine; `ratioOfMedians` is the
 * plain figure / floor for comparison. docs/benchmarks.md "Protocol" records the figures.
 */
import { cpus, loadavg } from 'node:os';
import { measure, pairedRatio, type Plan, type Stats } from './harness.js';
import { checkSessionAdLength, initiatorCases, kemCases, responderCases } from './pqxdh.js';
import { primitiveCases } from './primitives.js';
import { oneDirectionCases, pingPongCases } from './ratchet.js';
import { senderKeyCases } from './sender-key.js';

type Goal = { readonly min?: number; readonly max?: number; readonly ratioMin?: number; readonly ratioMax?: number };

type Result = {
  readonly benchmark: string;
  readonly unit: string;
  readonly figure: number;
  readonly p95: number;
  readonly floor: number;
  readonly ratio: number;
  readonly ratioOf: 'floor rate' | 'floor time';
  readonly goal: Goal;
  readonly goalText: string;
  readonly pass: boolean;
  readonly [extra: string]: unknown;
};

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const jsonOnly = args.has('--json');
const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length);

function plan(batch: number, reps: number): Plan {
  return quick ? { warmupReps: 1, reps: 3, batch: Math.max(5, Math.ceil(batch / 5)) } : { warmupReps: 2, reps, batch };
}

function get(stats: Map<string, Stats>, name: string): Stats {
  const s = stats.get(name);
  if (!s) throw new Error(`bench: no stats for ${name}`);
  return s;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

function checkGoal(goal: Goal, figure: number, ratio: number): boolean {
  return (
    (goal.min === undefined || figure >= goal.min) &&
    (goal.max === undefined || figure <= goal.max) &&
    (goal.ratioMin === undefined || ratio >= goal.ratioMin) &&
    (goal.ratioMax === undefined || ratio <= goal.ratioMax)
  );
}

function throughput(
  name: string,
  unit: string,
  stats: Map<string, Stats>,
  goal: Goal,
  goalText: string,
): Result {
  const b = get(stats, name);
  const f = get(stats, `${name}:floor`);
  const ratio = pairedRatio(b.repRates, f.repRates);
  return {
    benchmark: name,
    unit,
    figure: Math.round(b.medianRate),
    p95: round(b.p95Us, 1),
    floor: Math.round(f.medianRate),
    ratio: round(ratio, 3),
    ratioOf: 'floor rate',
    goal,
    goalText,
    pass: checkGoal(goal, b.medianRate, ratio),
    ratioOfMedians: round(b.medianRate / f.medianRate, 3),
    cpuRate: Math.round(b.medianCpuRate),
    floorCpuRate: Math.round(f.medianCpuRate),
    cpuRatio: round(pairedRatio(b.repCpuRates, f.repCpuRates), 3),
    rateRange: [Math.round(b.minRate), Math.round(b.maxRate)],
    floorRateRange: [Math.round(f.minRate), Math.round(f.maxRate)],
    latencyUs: { median: round(b.medianUs, 1), p95: round(b.p95Us, 1) },
    floorLatencyUs: { median: round(f.medianUs, 1), p95: round(f.p95Us, 1) },
    ops: b.ops,
  };
}

function latency(
  name: string,
  stats: Map<string, Stats>,
  goal: Goal,
  goalText: string,
  extra: Record<string, unknown> = {},
): Result {
  const b = get(stats, name);
  const f = get(stats, `${name}:floor`);
  const ms = (us: number): number => round(us / 1000, 3);
  const ratio = pairedRatio(b.repMediansUs, f.repMediansUs);
  return {
    benchmark: name,
    unit: 'ms',
    figure: ms(b.medianUs),
    p95: ms(b.p95Us),
    floor: ms(f.medianUs),
    ratio: round(ratio, 3),
    ratioOf: 'floor time',
    goal,
    goalText,
    pass: checkGoal(goal, b.medianUs / 1000, ratio),
    ratioOfMedians: round(b.medianUs / f.medianUs, 3),
    floorP95: ms(f.p95Us),
    ops: b.ops,
    ...extra,
  };
}

const oneDirectionResult = (stats: Map<string, Stats>): Result =>
  throughput('ratchet-one-direction', 'msg/s', stats, { min: 8000, ratioMin: 0.75 }, '>= 8000 msg/s and >= 75% of floor rate');
const pingPongResult = (stats: Map<string, Stats>): Result =>
  throughput('ratchet-ping-pong', 'round trips/s', stats, { min: 1500 }, '>= 1500 round trips/s');
/** Sender keys (issue 16): encrypt and decrypt each against its own floor. */
const senderKeyResults = (stats: Map<string, Stats>): Result[] => [
  throughput('sender-key-encrypt', 'msg/s', stats, { ratioMin: 0.7 }, '>= 70% of floor rate'),
  throughput('sender-key-decrypt', 'msg/s', stats, { ratioMin: 0.7 }, '>= 70% of floor rate'),
];

function runHeader(): Record<string, unknown> {
  const cores = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cores.length,
    cpuModel: cores[0]?.model ?? 'unknown',
    // 1-minute load average at the start: on a shared machine, the context for every figure.
    loadAverage: round(loadavg()[0] ?? 0, 2),
    quick,
  };
}

/** The groups `--only` can pick, each measured on its own (same plans as the full run). */
const GROUPS: Record<string, () => Map<string, Stats>> = {
  'one-direction': () => {
    const c = oneDirectionCases();
    return measure([c.bench, c.floor], plan(1000, 15));
  },
  'ping-pong': () => {
    const c = pingPongCases();
    return measure([c.bench, c.floor], plan(150, 15));
  },
  setup: () => {
    const init = initiatorCases(true);
    const classical = initiatorCases(false);
    const responder = responderCases();
    const kem = kemCases();
    return measure(
      [init.bench, init.floor, classical.bench, classical.floor, responder.bench, responder.floor, kem.encaps, kem.decaps],
      plan(20, 15),
    );
  },
  primitives: () => measure(primitiveCases(), plan(300, 5)),
  'sender-key': () => {
    const c = senderKeyCases();
    return measure([c.encrypt, c.encryptFloor, c.decrypt, c.decryptFloor], plan(500, 15));
  },
};

function main(): void {
  checkSessionAdLength();
  if (only !== undefined) {
    const group = GROUPS[only];
    if (!group) throw new Error(`bench: unknown group ${only}; one of ${Object.keys(GROUPS).join(', ')}`);
    const run = runHeader();
    const stats = group();
    for (const [name, s] of stats) console.log(JSON.stringify({ name, ...s }));
    const found = only === 'one-direction' ? [oneDirectionResult(stats)] : only === 'ping-pong' ? [pingPongResult(stats)] : only === 'sender-key' ? senderKeyResults(stats) : [];
    for (const result of found) {
      console.log(JSON.stringify({ run, ...result, loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) }));
      if (!jsonOnly) {
        console.log(
          `${result.benchmark}: ${result.figure} ${result.unit} = ${(result.ratio * 100).toFixed(1)} % of its floor (${result.floor} ${result.unit}); ` +
            `by CPU time ${((result.cpuRatio as number) * 100).toFixed(1)} %; goal ${result.goalText}: ${result.pass ? 'met' : 'MISSED'}`,
        );
      }
    }
    return;
  }
  const header = { run: runHeader() };

  const oneStats = GROUPS['one-direction']!();
  const ppStats = GROUPS['ping-pong']!();
  const setupStats = GROUPS.setup!();
  const primStats = GROUPS.primitives!();
  const senderKeyStats = GROUPS['sender-key']!();

  const initiator = get(setupStats, 'pqxdh-initiator');
  const classicalStats = get(setupStats, 'pqxdh-initiator-classical');
  const encaps = get(setupStats, 'ml-kem-768-encapsulate');
  const decaps = get(setupStats, 'ml-kem-768-decapsulate');
  const responderStats = get(setupStats, 'pqxdh-responder');

  const results: Result[] = [
    oneDirectionResult(oneStats),
    pingPongResult(ppStats),
    latency('pqxdh-initiator', setupStats, { max: 3, ratioMax: 1.3 }, 'median <= 3 ms and <= 1.3x floor', {
      kemMedianMs: round(encaps.medianUs / 1000, 3),
      kemShare: round(encaps.medianUs / initiator.medianUs, 3),
      postQuantumShare: round((initiator.medianUs - classicalStats.medianUs) / initiator.medianUs, 3),
    }),
    latency('pqxdh-initiator-classical', setupStats, { max: 1, ratioMax: 1.3 }, 'median <= 1.0 ms and <= 1.3x floor'),
    latency('pqxdh-responder', setupStats, { ratioMax: 1.3 }, '<= 1.3x floor', {
      kemMedianMs: round(decaps.medianUs / 1000, 3),
      kemShare: round(decaps.medianUs / responderStats.medianUs, 3),
    }),
    ...senderKeyResults(senderKeyStats),
  ];
  const primitiveUs = Object.fromEntries(
    [...primStats].map(([name, s]) => [name, { median: round(s.medianUs, 2), p95: round(s.p95Us, 2) }]),
  );

  const lines = [header, ...results, { primitivesUs: primitiveUs }, { loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) }];
  for (const line of lines) console.log(JSON.stringify(line));
  if (jsonOnly) return;

  const rows = results.map((r) => [
    r.benchmark,
    `${r.figure} ${r.unit}`,
    r.unit === 'ms' ? `${r.p95} ms` : `${r.p95} µs/op`,
    `${r.floor} ${r.unit}`,
    r.ratioOf === 'floor rate' ? `${(r.ratio * 100).toFixed(1)} % of floor` : `${r.ratio.toFixed(2)}× floor`,
    r.goalText,
    r.pass ? 'PASS' : 'MISS',
  ]);
  printTable(['benchmark', 'figure (median)', 'p95', 'floor (median)', 'ratio', 'goal', ''], rows);
  const pqInit = results[2]!;
  const pqResp = results[4]!;
  console.log(
    `\nML-KEM-768 share: initiator encapsulation ${pqInit.kemMedianMs} ms = ${pct(pqInit.kemShare)} of the initiator; ` +
      `everything post-quantum (KEM + KEM prekey signature + transcript) ${pct(pqInit.postQuantumShare)}; ` +
      `responder decapsulation (seed expansion included) ${pqResp.kemMedianMs} ms = ${pct(pqResp.kemShare)}.`,
  );
  console.log('\nPrimitives alone (µs per call):');
  printTable(
    ['primitive', 'median', 'p95'],
    Object.entries(primitiveUs).map(([name, s]) => [name, s.median.toFixed(2), s.p95.toFixed(2)]),
  );
  const through = results.filter((r) => r.ratioOf === 'floor rate');
  console.log('\nBy CPU time (ops per CPU-second, all threads; robust to load from other processes):');
  printTable(
    ['benchmark', 'figure', 'floor', 'ratio'],
    through.map((r) => [r.benchmark, `${r.cpuRate as number} ${r.unit}`, `${r.floorCpuRate as number} ${r.unit}`, `${((r.cpuRatio as number) * 100).toFixed(1)} % of floor`]),
  );
  console.log(
    `\n${header.run.date} · Node ${header.run.node} · ${header.run.cpus} × ${header.run.cpuModel} · ` +
      `load average ${header.run.loadAverage} → ${round(loadavg()[0] ?? 0, 2)}${quick ? ' · QUICK RUN' : ''}`,
  );
}

function pct(x: unknown): string {
  return `${((x as number) * 100).toFixed(0)} %`;
}

function printTable(head: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}

main();

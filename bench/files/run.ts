/**
 * bench/files entry point (`npm run bench:files`): the engine's file encryption and decryption of
 * issue 13 (electron/engine/files), against raw AES-256-GCM over the same segments in the same run.
 *
 *   node dist/bench/files/run.js [--size=MiB] [--transfer-size=MiB] [--rounds=N] [--only=cipher|transfer]
 *                                [--quick] [--json] [--dir=PATH] [--keep]
 *     --size=MiB           file size of the cipher part (default 1024 = 1 GiB, the recorded figure)
 *     --transfer-size=MiB  file size of the transfer part (default 256, the recorded figure)
 *     --rounds=N           repetitions of every measurement, interleaved (default 3); medians are reported
 *     --only=…             run one of the two parts
 *     --quick              64 and 32 MiB, 2 rounds (a smoke run; not for the record)
 *     --json               only the JSON lines
 *     --dir=PATH           where the files go (default: a new directory under the OS temp dir)
 *     --keep               keep the files afterwards
 *
 * Part 1, the cipher (docs/adr/0021):
 * One source file of pseudo-random bytes; per round (every file a step wrote is fsynced first,
 * outside the timing, so no step pays for another's writeback):
 *  - raw seal, file to file — the baseline of the goal: AES-256-GCM (node:crypto, what the engine
 *    uses; one cipher object per segment, the engine's nonces and AD) of the same segments (the
 *    Padmé-padded file cut at 2²⁰ bytes), read from the source file into one reused buffer and
 *    written (body, then tag) into a new file, one plain synchronous loop on this thread: the same
 *    reads and writes as the engine, nothing else (no hashing, no padding checks, no worker);
 *  - engine encrypt: `encryptToSpool` of the file (read, pad, seal, ciphertext digest, plaintext
 *    SHA-256 on the helper thread, write, rename), with this thread's event-loop delay
 *    (monitorEventLoopDelay, 1 ms resolution) and the process RSS sampled every 20 ms;
 *  - raw open, file to file: the raw sealed file read back segment by segment, opened, the
 *    plaintext (cut to the true length) written into a new file;
 *  - engine decrypt: `decryptToFile` of the spool into a new file (every check, rename).
 * Raw and engine alternate which goes first by round. Also per round, for reference, the cipher
 * alone from memory (the floor: the same segments sealed and opened with no I/O at all), and the CPU
 * time (all threads) of each raw and engine step: the engine hides the plaintext SHA-256 on a second
 * core, so where no core is idle its wall-clock ratio falls towards the CPU ratio.
 * Goals (issue 13): engine ≥ 75 % of raw in each direction; RSS growth ≤ 64 MiB; loop p99 ≤ 50 ms.
 *
 * Part 2, the transfer: the engine's upload (tus, from the spool, 8 MiB chunks) and download (range
 * GET into a file) of a 256 MiB file's ciphertext through the relay as shipped (dist/server/main.js,
 * a child process on 127.0.0.1, files in its data dir), against a bare HTTP server in another child
 * process on the same machine that takes a PUT of the same bytes into a file and serves them back
 * with a GET (node:http on both ends, as the engine's client). Per round: bare PUT + GET and engine
 * upload + download, which pair first alternating by round, each step after a sync(1) so that no
 * step pays for another's writeback. Goal (issue 13): engine ≥ 50 % of the bare pair.
 * A measurement, not a test: it exits 0 whether or not goals are met. docs/benchmarks.md records it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { request as httpRequest } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { decryptToFile, encryptToSpool } from '../../electron/engine/files/file-cipher.js';
import { downloadAttachment, uploadSpool, type UploadState } from '../../electron/engine/files/transfer.js';
import { RelayClient } from '../../electron/engine/relay/client.js';
import { makeAccount } from '../relay-load/accounts.js';
import { attachmentLayout, segmentNonce } from '../../shared/protocol/attachment-cipher.js';
import { ATTACHMENT_SEGMENT_SIZE, ATTACHMENT_TAG_LENGTH } from '../../shared/protocol/constants.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const jsonOnly = flag('json');
const MiB = 1024 * 1024;
const SIZE = Number(option('size') ?? (quick ? 64 : 1024)) * MiB;
const TRANSFER_SIZE = Number(option('transfer-size') ?? (quick ? 32 : 256)) * MiB;
const ONLY = option('only');
const ROUNDS = Number(option('rounds') ?? (quick ? 2 : 3));
const GOAL_RATIO = 0.75;
const GOAL_RSS_MIB = 64;
const GOAL_LOOP_P99_MS = 50;
const GOAL_TRANSFER_RATIO = 0.5;
/** Raw GCM cycles through this much of the file held in memory (more than any cache). */
const RAW_WORKING_SET = 64 * MiB;
/** The compiled tree (this file runs as dist/bench/files/run.js). */
const DIST = fileURLToPath(new URL('../../', import.meta.url));

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function out(record: Record<string, unknown>): void {
  console.log(JSON.stringify(record));
}
function say(text: string): void {
  if (!jsonOnly) console.error(text);
}

function makeSource(path: string, size: number): void {
  const fd = openSync(path, 'w');
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), Buffer.alloc(16));
  const zeros = Buffer.alloc(8 * MiB);
  for (let done = 0; done < size; ) {
    const n = Math.min(zeros.length, size - done);
    writeSync(fd, cipher.update(zeros.subarray(0, n)));
    done += n;
  }
  fsyncSync(fd);
  closeSync(fd);
}

/**
 * Writes a file's dirty pages to disk (outside any timing), so that each measurement starts from a
 * clean page cache rather than the writeback backlog of the bench's own previous step.
 */
function settle(path: string): void {
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

function readHead(path: string, size: number): Buffer {
  const buffer = Buffer.allocUnsafeSlow(size);
  const fd = openSync(path, 'r');
  let done = 0;
  while (done < size) {
    const n = readSync(fd, buffer, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  closeSync(fd);
  buffer.fill(0, done);
  return buffer;
}

/** The segment plaintext lengths of a file of `size` bytes (Padmé-padded, cut at 2²⁰). */
function segmentLengths(size: number): number[] {
  const layout = attachmentLayout(size);
  return Array.from({ length: layout.segments }, (_, i) => (i === layout.segments - 1 ? layout.lastSegmentLength : ATTACHMENT_SEGMENT_SIZE));
}

type Sealed = { readonly body: Buffer; readonly tag: Buffer };

/** Raw AES-256-GCM seal of every segment, from memory (the floor, for reference). Keeps a working set of sealed segments for rawOpen. */
function rawSeal(key: Buffer, ad: Buffer, lengths: readonly number[], memory: Buffer, keep: Sealed[]): number {
  const slots = Math.floor(memory.length / ATTACHMENT_SEGMENT_SIZE);
  const start = performance.now();
  for (let i = 0; i < lengths.length; i++) {
    const offset = (i % slots) * ATTACHMENT_SEGMENT_SIZE;
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(i, i === lengths.length - 1), { authTagLength: 16 });
    cipher.setAAD(ad);
    const body = cipher.update(memory.subarray(offset, offset + lengths[i]!));
    cipher.final();
    const tag = cipher.getAuthTag();
    if (i < slots) keep.push({ body, tag });
  }
  return performance.now() - start;
}

/** Raw AES-256-GCM open of every segment (cycling through the sealed working set under its own nonces). */
function rawOpen(key: Buffer, ad: Buffer, lengths: readonly number[], sealed: readonly Sealed[]): number {
  const start = performance.now();
  for (let i = 0; i < lengths.length; i++) {
    const k = i % sealed.length;
    const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(k, k === lengths.length - 1), { authTagLength: 16 });
    decipher.setAAD(ad);
    decipher.setAuthTag(sealed[k]!.tag);
    decipher.update(sealed[k]!.body);
    decipher.final();
  }
  return performance.now() - start;
}

/** Wall-clock and CPU time of a step. */
type Timed = { readonly ms: number; readonly cpuMs: number };

/** Reads exactly `length` bytes at the file's current position (fewer only at its end). */
function readFully(fd: number, into: Buffer, length: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, done, length - done, null);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Raw seal, file to file (the goal's baseline): each segment read from `source` into one reused
 * buffer (zero-padded past the end), sealed, body and tag appended to `destination`.
 */
function rawSealFile(source: string, destination: string, key: Buffer, ad: Buffer, lengths: readonly number[]): Timed {
  const input = Buffer.allocUnsafeSlow(ATTACHMENT_SEGMENT_SIZE);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const from = openSync(source, 'r');
  const to = openSync(destination, 'w');
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    input.fill(0, readFully(from, input, length), length);
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(i, i === lengths.length - 1), { authTagLength: 16 });
    cipher.setAAD(ad);
    writeSync(to, cipher.update(input.subarray(0, length)));
    cipher.final();
    writeSync(to, cipher.getAuthTag());
  }
  closeSync(from);
  closeSync(to);
  return { ms: performance.now() - start, cpuMs: cpuMsSince(cpu) };
}

/** Raw open, file to file: each sealed segment of `sealed` read, opened, its plaintext (up to `size`) appended to `destination`. */
function rawOpenFile(sealed: string, destination: string, key: Buffer, ad: Buffer, lengths: readonly number[], size: number): Timed {
  const input = Buffer.allocUnsafeSlow(ATTACHMENT_SEGMENT_SIZE + ATTACHMENT_TAG_LENGTH);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const from = openSync(sealed, 'r');
  const to = openSync(destination, 'w');
  let written = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    if (readFully(from, input, length + ATTACHMENT_TAG_LENGTH) !== length + ATTACHMENT_TAG_LENGTH) throw new Error('raw sealed file too short');
    const decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(i, i === lengths.length - 1), { authTagLength: 16 });
    decipher.setAAD(ad);
    decipher.setAuthTag(input.subarray(length, length + ATTACHMENT_TAG_LENGTH));
    const plain = decipher.update(input.subarray(0, length));
    decipher.final();
    const keep = Math.min(length, size - written);
    writeSync(to, plain, 0, keep);
    written += keep;
  }
  closeSync(from);
  closeSync(to);
  return { ms: performance.now() - start, cpuMs: cpuMsSince(cpu) };
}

type Observed = { readonly ms: number; readonly cpuMs: number; readonly loopP99Ms: number; readonly loopMaxMs: number; readonly rssGrowthMiB: number };

/** CPU time (user + system, every thread of this process) since `since`, in ms. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** Runs `work` with the event-loop monitor on and the RSS sampled; growth = peak − RSS just before. */
async function observe(work: () => Promise<unknown>): Promise<Observed> {
  global.gc?.();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  const cpuMs = cpuMsSince(cpu);
  loop.disable();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return {
    ms,
    cpuMs,
    loopP99Ms: loop.percentile(99) / 1e6,
    loopMaxMs: loop.max / 1e6,
    rssGrowthMiB: (peak - before) / MiB,
  };
}

async function cipherPart(dir: string): Promise<void> {
  const source = join(dir, 'source.bin');
  const spoolDir = join(dir, 'spool');
  const lengths = segmentLengths(SIZE);
  const paddedMiB = lengths.reduce((a, b) => a + b, 0) / MiB;
  say(`bench/files: ${SIZE / MiB} MiB (${lengths.length} segments, ${round(paddedMiB)} MiB padded), ${ROUNDS} rounds, in ${dir}`);
  out({
    bench: 'files',
    phase: 'setup',
    sizeBytes: SIZE,
    segments: lengths.length,
    rounds: ROUNDS,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    load1: round(loadavg()[0]!),
    date: new Date().toISOString(),
  });
  makeSource(source, SIZE);
  const memory = readHead(source, Math.min(RAW_WORKING_SET, Math.max(ATTACHMENT_SEGMENT_SIZE, SIZE)));
  const key = randomBytes(32);
  const ad = createHash('sha256').update(randomBytes(53)).digest();

  type Row = { fileSeal: Timed; fileOpen: Timed; floorSealMs: number; floorOpenMs: number; enc: Observed; dec: Observed };
  const rows: Row[] = [];
  const rawSealed = join(dir, 'raw.sealed');
  const rawOutput = join(dir, 'raw-output.bin');
  const output = join(dir, 'output.bin');
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const sealed: Sealed[] = [];
      const floorSealMs = rawSeal(key, ad, lengths, memory, sealed);
      const floorOpenMs = rawOpen(key, ad, lengths, sealed);
      sealed.length = 0;
      const rawFirst = r % 2 === 0;
      let spooled: Awaited<ReturnType<typeof encryptToSpool>> | undefined;
      /** Runs a raw step and an engine step in this round's order; each file written is fsynced after its step. */
      const pair = async (raw: () => Timed, engine: () => Promise<Observed>): Promise<[Timed, Observed]> => {
        if (rawFirst) {
          const r = raw();
          return [r, await engine()];
        }
        const e = await engine();
        return [raw(), e];
      };
      const [fileSeal, enc] = await pair(
        () => {
          const timed = rawSealFile(source, rawSealed, key, ad, lengths);
          settle(rawSealed);
          return timed;
        },
        async () => {
          const observed = await observe(async () => {
            spooled = await encryptToSpool(source, { spoolDir });
          });
          settle(spooled!.spoolPath);
          return observed;
        },
      );
      const [fileOpen, dec] = await pair(
        () => {
          const timed = rawOpenFile(rawSealed, rawOutput, key, ad, lengths, SIZE);
          settle(rawOutput);
          return timed;
        },
        async () => {
          const observed = await observe(() => decryptToFile(spooled!.spoolPath, output, spooled!.descriptor));
          settle(output);
          return observed;
        },
      );
      for (const f of [spooled!.spoolPath, output, rawSealed, rawOutput]) rmSync(f, { force: true });
      rows.push({ fileSeal, fileOpen, floorSealMs, floorOpenMs, enc, dec });
      const mibps = (ms: number): number => round(paddedMiB / (ms / 1000), 0);
      out({
        bench: 'files',
        phase: 'round',
        round: r + 1,
        first: rawFirst ? 'raw' : 'engine',
        rawSealFileMiBps: mibps(fileSeal.ms),
        engineEncryptMiBps: mibps(enc.ms),
        encryptRatio: round(fileSeal.ms / enc.ms),
        rawOpenFileMiBps: mibps(fileOpen.ms),
        engineDecryptMiBps: mibps(dec.ms),
        decryptRatio: round(fileOpen.ms / dec.ms),
        rawSealCpuMsPerGiB: round(fileSeal.cpuMs / (paddedMiB / 1024), 0),
        engineEncryptCpuMsPerGiB: round(enc.cpuMs / (paddedMiB / 1024), 0),
        rawOpenCpuMsPerGiB: round(fileOpen.cpuMs / (paddedMiB / 1024), 0),
        engineDecryptCpuMsPerGiB: round(dec.cpuMs / (paddedMiB / 1024), 0),
        floorSealMiBps: mibps(floorSealMs),
        floorOpenMiBps: mibps(floorOpenMs),
        encryptRatioToFloor: round(floorSealMs / enc.ms),
        decryptRatioToFloor: round(floorOpenMs / dec.ms),
        encryptLoopP99Ms: round(enc.loopP99Ms),
        encryptLoopMaxMs: round(enc.loopMaxMs),
        decryptLoopP99Ms: round(dec.loopP99Ms),
        decryptLoopMaxMs: round(dec.loopMaxMs),
        encryptRssGrowthMiB: round(enc.rssGrowthMiB, 1),
        decryptRssGrowthMiB: round(dec.rssGrowthMiB, 1),
        load1: round(loadavg()[0]!),
      });
    }
  } finally {
    for (const f of [source, rawSealed, rawOutput, output]) rmSync(f, { force: true });
  }

  const encRatio = median(rows.map((r) => r.fileSeal.ms / r.enc.ms));
  const decRatio = median(rows.map((r) => r.fileOpen.ms / r.dec.ms));
  const perGiB = (ms: number): number => round(ms / (paddedMiB / 1024), 0);
  const rss = Math.max(...rows.flatMap((r) => [r.enc.rssGrowthMiB, r.dec.rssGrowthMiB]));
  const p99 = Math.max(...rows.flatMap((r) => [r.enc.loopP99Ms, r.dec.loopP99Ms]));
  const loopMax = Math.max(...rows.flatMap((r) => [r.enc.loopMaxMs, r.dec.loopMaxMs]));
  const medianMiBps = (pick: (r: Row) => number): number => round(paddedMiB / (median(rows.map(pick)) / 1000), 0);
  const summary = {
    bench: 'files',
    phase: 'summary',
    sizeBytes: SIZE,
    medianRawSealFileMiBps: medianMiBps((r) => r.fileSeal.ms),
    medianEngineEncryptMiBps: medianMiBps((r) => r.enc.ms),
    medianEncryptRatio: round(encRatio),
    medianRawOpenFileMiBps: medianMiBps((r) => r.fileOpen.ms),
    medianEngineDecryptMiBps: medianMiBps((r) => r.dec.ms),
    medianDecryptRatio: round(decRatio),
    medianFloorSealMiBps: medianMiBps((r) => r.floorSealMs),
    medianFloorOpenMiBps: medianMiBps((r) => r.floorOpenMs),
    medianEncryptRatioToFloor: round(median(rows.map((r) => r.floorSealMs / r.enc.ms))),
    medianDecryptRatioToFloor: round(median(rows.map((r) => r.floorOpenMs / r.dec.ms))),
    /** CPU time per GiB (all threads): what a machine with no idle core pays; the ratio of these is the floor of the wall-clock ratio. */
    medianCpuMsPerGiB: {
      rawSeal: perGiB(median(rows.map((r) => r.fileSeal.cpuMs))),
      engineEncrypt: perGiB(median(rows.map((r) => r.enc.cpuMs))),
      rawOpen: perGiB(median(rows.map((r) => r.fileOpen.cpuMs))),
      engineDecrypt: perGiB(median(rows.map((r) => r.dec.cpuMs))),
    },
    worstRssGrowthMiB: round(rss, 1),
    worstLoopP99Ms: round(p99),
    worstLoopMaxMs: round(loopMax),
    goals: {
      encryptRatio: encRatio >= GOAL_RATIO ? 'met' : 'missed',
      decryptRatio: decRatio >= GOAL_RATIO ? 'met' : 'missed',
      rssGrowth: rss <= GOAL_RSS_MIB ? 'met' : 'missed',
      loopP99: p99 <= GOAL_LOOP_P99_MS ? 'met' : 'missed',
    },
  };
  out(summary);
  say(
    `encrypt ${summary.medianEngineEncryptMiBps} MiB/s = ${summary.medianEncryptRatio} × raw file to file ${summary.medianRawSealFileMiBps} MiB/s ` +
      `(${summary.medianEncryptRatioToFloor} × the in-memory floor ${summary.medianFloorSealMiBps}); ` +
      `decrypt ${summary.medianEngineDecryptMiBps} MiB/s = ${summary.medianDecryptRatio} × raw ${summary.medianRawOpenFileMiBps} MiB/s ` +
      `(${summary.medianDecryptRatioToFloor} × floor ${summary.medianFloorOpenMiBps}); ` +
      `CPU per GiB: raw seal ${summary.medianCpuMsPerGiB.rawSeal} ms, engine encrypt ${summary.medianCpuMsPerGiB.engineEncrypt} ms, ` +
      `raw open ${summary.medianCpuMsPerGiB.rawOpen} ms, engine decrypt ${summary.medianCpuMsPerGiB.engineDecrypt} ms; ` +
      `RSS +${summary.worstRssGrowthMiB} MiB; loop p99 ${summary.worstLoopP99Ms} ms (max ${summary.worstLoopMaxMs} ms)`,
  );
}

// ── Part 2: transfers through the relay ─────────────────────────────────────

/** What the relay may take from one address in a benchmark (the limits are policy, not cost). */
const RELAY_LIMITS = { requestsPerIp: { capacity: 1e6, refillPerSecond: 1e6 }, authPerIp: { capacity: 1e6, refillPerSecond: 1e6 }, registrationPerIp: { capacity: 1e6, refillPerSecond: 1e6 } };

/** The same-machine baseline: PUT writes the body into a file, GET streams it back. */
const BARE_SERVER = `
const { createServer } = require('node:http');
const { createReadStream, createWriteStream, statSync } = require('node:fs');
const { pipeline } = require('node:stream');
const file = process.argv[1];
const server = createServer((req, res) => {
  if (req.method === 'PUT') {
    pipeline(req, createWriteStream(file), (e) => { res.statusCode = e ? 500 : 204; res.end(); });
  } else if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
    pipeline(createReadStream(file), res, () => undefined);
  } else { res.statusCode = 405; res.end(); }
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

async function startChild(args: readonly string[], env: NodeJS.ProcessEnv, ready: (line: string) => number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = ready(line);
      if (port !== undefined) resolve(port);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { child, port };
}

/** Writes every dirty page to disk first (sync(1)), so no phase pays for the previous one's writeback. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  spawnSync('sync');
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function transferPart(dir: string): Promise<void> {
  const relayDir = join(dir, 'relay');
  const relay = await startChild(
    [join(DIST, 'server/main.js'), '--host', '127.0.0.1', '--port', '0', '--data', relayDir, '--log-level', 'warn'],
    { ...process.env, PARLEY_RELAY_LIMITS: JSON.stringify(RELAY_LIMITS) },
    (line) => {
      if (!line.includes('parley-relay.listening')) return undefined;
      try {
        return (JSON.parse(line) as { port: number }).port;
      } catch {
        return undefined;
      }
    },
  );
  const bare = await startChild(['-e', BARE_SERVER, join(dir, 'bare.bin')], process.env, (line) =>
    line.startsWith('listening ') ? Number(line.slice(10)) : undefined,
  );
  const relayUrl = `http://127.0.0.1:${relay.port}`;
  const bareUrl = `http://127.0.0.1:${bare.port}/blob`;
  try {
    const account = makeAccount(`bench_files_${process.pid}`);
    await RelayClient.register(relayUrl, account.request);
    const client = new RelayClient({ url: relayUrl, accountId: account.accountId, deviceId: 1, identitySigningKey: account.signingKey });
    const source = join(dir, 'transfer-source.bin');
    makeSource(source, TRANSFER_SIZE);
    const spooled = await encryptToSpool(source, { spoolDir: join(dir, 'transfer-spool') });
    settle(spooled.spoolPath);
    const length = spooled.ciphertextLength;
    say(`transfer: ${TRANSFER_SIZE / MiB} MiB file, ${round(length / MiB)} MiB ciphertext, relay ${relayUrl}`);
    const rows: { barePutMs: number; bareGetMs: number; uploadMs: number; downloadMs: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const bareCopy = join(dir, 'bare-copy.bin');
      const received = join(dir, 'received.spool');
      // The baseline uses node:http directly, as the engine's transfer client does.
      const bare = async (): Promise<{ barePutMs: number; bareGetMs: number }> => ({
        barePutMs: await timed(
          () =>
            new Promise<void>((resolve, reject) => {
              const req = httpRequest(bareUrl, { method: 'PUT', headers: { 'content-length': String(length) } }, (res) => {
                res.resume();
                res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`bare PUT answered ${res.statusCode}`))));
              });
              req.on('error', reject);
              createReadStream(spooled.spoolPath, { highWaterMark: MiB }).pipe(req);
            }),
        ),
        bareGetMs: await timed(
          () =>
            new Promise<void>((resolve, reject) => {
              httpRequest(bareUrl, (res) => void pipeline(res, createWriteStream(bareCopy)).then(resolve, reject))
                .on('error', reject)
                .end();
            }),
        ),
      });
      const engine = async (): Promise<{ uploadMs: number; downloadMs: number }> => {
        let state: UploadState | undefined;
        let attachmentId: Uint8Array | undefined;
        const uploadMs = await timed(async () => {
          ({ attachmentId } = await uploadSpool({
            relayUrl,
            spoolPath: spooled.spoolPath,
            length,
            sessionToken: () => client.sessionToken(),
            state: { load: async () => state, save: async (s) => void (state = s), clear: async () => void (state = undefined) },
          }));
        });
        const downloadMs = await timed(() => downloadAttachment({ relayUrl, attachmentId: attachmentId!, length, destination: received }));
        return { uploadMs, downloadMs };
      };
      // Alternate which pair goes first, so neither always runs on the warmer machine.
      let b: { barePutMs: number; bareGetMs: number };
      let e: { uploadMs: number; downloadMs: number };
      if (r % 2 === 0) {
        b = await bare();
        e = await engine();
      } else {
        e = await engine();
        b = await bare();
      }
      const { barePutMs, bareGetMs } = b;
      const { uploadMs, downloadMs } = e;
      for (const f of [bareCopy, received, join(dir, 'bare.bin')]) rmSync(f, { force: true });
      rows.push({ barePutMs, bareGetMs, uploadMs, downloadMs });
      const mibps = (ms: number): number => round(length / MiB / (ms / 1000), 0);
      out({
        bench: 'files',
        phase: 'transfer-round',
        round: r + 1,
        barePutMiBps: mibps(barePutMs),
        bareGetMiBps: mibps(bareGetMs),
        uploadMiBps: mibps(uploadMs),
        downloadMiBps: mibps(downloadMs),
        uploadRatio: round(barePutMs / uploadMs),
        downloadRatio: round(bareGetMs / downloadMs),
        ratio: round((barePutMs + bareGetMs) / (uploadMs + downloadMs)),
        load1: round(loadavg()[0]!),
      });
    }
    client.close();
    const ratio = median(rows.map((r) => (r.barePutMs + r.bareGetMs) / (r.uploadMs + r.downloadMs)));
    const summary = {
      bench: 'files',
      phase: 'transfer-summary',
      fileBytes: TRANSFER_SIZE,
      ciphertextBytes: length,
      medianBarePutMiBps: round(length / MiB / (median(rows.map((r) => r.barePutMs)) / 1000), 0),
      medianBareGetMiBps: round(length / MiB / (median(rows.map((r) => r.bareGetMs)) / 1000), 0),
      medianUploadMiBps: round(length / MiB / (median(rows.map((r) => r.uploadMs)) / 1000), 0),
      medianDownloadMiBps: round(length / MiB / (median(rows.map((r) => r.downloadMs)) / 1000), 0),
      medianRatio: round(ratio),
      goals: { transferRatio: ratio >= GOAL_TRANSFER_RATIO ? 'met' : 'missed' },
    };
    out(summary);
    say(
      `transfer: upload ${summary.medianUploadMiBps} + download ${summary.medianDownloadMiBps} MiB/s against bare PUT ${summary.medianBarePutMiBps} + GET ${summary.medianBareGetMiBps} MiB/s: ${summary.medianRatio} of bare`,
    );
  } finally {
    relay.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const dir = option('dir') ?? mkdtempSync(join(tmpdir(), 'parley-bench-files-'));
  try {
    if (ONLY !== 'transfer') await cipherPart(dir);
    if (ONLY !== 'cipher') await transferPart(dir);
  } finally {
    if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
  }
}

await main();

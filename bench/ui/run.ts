/**
 * bench/ui (issue 5 "Performance"): opening a conversation of 100,000 messages in the real renderer.
 *
 *   npm run build && bash scripts/with-keyring.sh node dist/bench/ui/run.js [--messages N] [--opens N] [--scroll N] [--json]
 *
 * 1. Seeds two profiles through the engine (bench/ui/seed.ts: accounts created by Engine, contacts,
 *    and N realistic message rows — 1-40 words, alternating runs, spread over months — written with
 *    the engine's DB layer in one transaction).
 * 2. Baseline, same run: the engine's own `messages:openPage` (latest page, through the dispatcher,
 *    in this process) — what the renderer cannot go below.
 * 3. `--opens` cold opens (default 10): each starts a fresh browser host process (a real relay is
 *    running) and a fresh Chromium page, waits for the conversation list, clicks the conversation
 *    and reads the renderer's performance measure `parley:open-to-first-row` (click handler mark →
 *    first rows painted: the frame after they render). Goal: median ≤ 300 ms.
 * 4. JS heap (CDP HeapProfiler.collectGarbage, then Runtime.getHeapUsage) at the top (just opened,
 *    newest messages), middle and end of a scripted scroll back through `--scroll` messages
 *    (default: all of them), one page load per step.
 * Prints one JSON object per line, then a short table. A measurement, not a test: exits 0 when it ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { chromium, type Page } from '@playwright/test';
import { systemRng } from '../../shared/crypto/random.js';
import { createDispatcher } from '../../electron/engine/dispatch.js';
import { Engine } from '../../electron/engine/engine.js';
import { KeychainKeyStore, osKeychainBackend } from '../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../electron/engine/profile.js';
import { seedPair, syntheticHistory } from './seed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const GOAL_MS = 300;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const json = process.argv.includes('--json');
const MESSAGES = arg('messages', 100_000);
const OPENS = arg('opens', 10);
const SCROLL = arg('scroll', MESSAGES);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function out(record: Record<string, unknown>): void {
  console.log(JSON.stringify(record));
}

async function startChild(args: string[], env: NodeJS.ProcessEnv, match: (line: string) => string | null): Promise<{ child: ChildProcess; value: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const value = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const v = match(line);
      if (v !== null) {
        clearTimeout(timer);
        resolve(v);
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
  return { child, value };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function engineBaseline(dataRoot: string, profile: string, conversationId: string): Promise<number[]> {
  const p = resolveProfile(dataRoot, profile);
  const engine = await Engine.start({
    profile: p,
    keychain: new KeychainKeyStore(osKeychainBackend, p.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(p.keyFilePath, systemRng),
  });
  const dispatch = createDispatcher(engine.handlers());
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const r = await dispatch('messages:openPage', { conversationId, anchor: { kind: 'latest' }, limit: 50 });
    times.push(performance.now() - t0);
    if (!r.ok) throw new Error(`openPage failed: ${r.error.code}`);
  }
  await engine.close();
  return times;
}

async function heap(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  await cdp.detach();
  return usedSize;
}

/**
 * Scrolls the message log to its top `n` times, each time waiting for the older page (runs in the
 * page; a string because this file is compiled without the DOM library).
 */
const SCROLL_BACK = `async (n) => {
  const log = document.querySelector('[role="log"]');
  const atStart = () => document.body.innerText.includes('This is the beginning of your conversation');
  const firstId = () => log.querySelector('[data-message-id]')?.dataset.messageId;
  let maxRows = 0;
  let done = 0;
  for (; done < n && !atStart(); done++) {
    const first = firstId();
    log.scrollTop = 0;
    log.dispatchEvent(new Event('scroll'));
    const t0 = performance.now();
    while (firstId() === first && !atStart() && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    maxRows = Math.max(maxRows, log.querySelectorAll('li').length);
  }
  return { steps: done, atStart: atStart(), maxRows };
}`;

async function scrollBack(page: Page, steps: number): Promise<{ steps: number; atStart: boolean; maxRows: number }> {
  return (await page.evaluate(`(${SCROLL_BACK})(${steps})`)) as { steps: number; atStart: boolean; maxRows: number };
}

async function main(): Promise<void> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-ui-'));
  const children: ChildProcess[] = [];
  try {
    const relay = await startChild(
      [path.join(ROOT, 'dist', 'server', 'main.js'), '--host', '127.0.0.1', '--port', '0', '--data', path.join(dataRoot, 'relay'), '--log-level', 'warn'],
      {},
      (line) => (line.includes('parley-relay.listening') ? (JSON.parse(line) as { url: string }).url : null),
    );
    children.push(relay.child);
    const relayUrl = relay.value;
    const suffix = systemRng(4).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
    const alice = `bench-a-${suffix}`;
    let state = 1;
    const rng = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const t0 = performance.now();
    const { conversationA } = await seedPair({
      dataRoot,
      relayUrl,
      a: { profile: alice, username: 'alice' },
      b: { profile: `bench-b-${suffix}`, username: 'bob' },
      messages: syntheticHistory(MESSAGES, Date.now() - 60_000, rng),
    });
    out({ step: 'seed', messages: MESSAGES, ms: Math.round(performance.now() - t0) });

    const baseline = await engineBaseline(dataRoot, alice, conversationA);
    out({ step: 'baseline', what: 'engine messages:openPage latest 50, in-process', medianMs: +median(baseline).toFixed(2), samplesMs: baseline.map((x) => +x.toFixed(2)) });

    const browser = await chromium.launch({ executablePath: process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    const env = { PARLEY_DATA_DIR: dataRoot, PARLEY_RELAY_URL: relayUrl };
    const hostArgs = [path.join(ROOT, 'scripts', 'start-browser.mjs'), '--profile', alice, '--port', '0', '--no-open', '--print-url'];
    const readUrl = (line: string) => (line.startsWith('PARLEY_BROWSER_HOST ') ? (JSON.parse(line.slice(20)) as { url: string }).url : null);
    const opens: number[] = [];
    for (let i = 0; i < OPENS; i++) {
      const host = await startChild(hostArgs, env, readUrl);
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(host.value);
      const item = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /\bbob\b/ });
      await item.waitFor({ timeout: 30_000 });
      await item.click();
      const ms = await page.waitForFunction(() => performance.getEntriesByName('parley:open-to-first-row', 'measure')[0]?.duration ?? null, null, { timeout: 30_000 });
      opens.push((await ms.jsonValue()) as number);
      await context.close();
      await stop(host.child);
    }
    const openMedian = median(opens);
    out({ step: 'open', what: 'click → first rows painted, cold (fresh host + page)', medianMs: +openMedian.toFixed(1), samplesMs: opens.map((x) => +x.toFixed(1)), goalMs: GOAL_MS, pass: openMedian <= GOAL_MS, vsBaseline: +(openMedian / median(baseline)).toFixed(1) });

    // Heap along a scripted scroll back through the history.
    const host = await startChild(hostArgs, env, readUrl);
    children.push(host.child);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(host.value);
    const item = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /\bbob\b/ });
    await item.click();
    await page.waitForFunction(() => performance.getEntriesByName('parley:open-to-first-row', 'measure').length > 0);
    const pageSize = 50;
    const totalSteps = Math.ceil(Math.min(SCROLL, MESSAGES) / pageSize);
    const heapTop = await heap(page);
    const s0 = performance.now();
    const firstHalf = await scrollBack(page, Math.floor(totalSteps / 2));
    const heapMiddle = await heap(page);
    const secondHalf = await scrollBack(page, totalSteps - firstHalf.steps + 5);
    const heapEnd = await heap(page);
    const scrollMs = performance.now() - s0;
    out({
      step: 'heap',
      what: 'JS heap used after forced GC (CDP)',
      topBytes: heapTop,
      middleBytes: heapMiddle,
      endBytes: heapEnd,
      scrolledMessages: Math.min((firstHalf.steps + secondHalf.steps) * pageSize, MESSAGES),
      reachedStart: secondHalf.atStart,
      maxListItemsInDom: Math.max(firstHalf.maxRows, secondHalf.maxRows),
      scrollMs: Math.round(scrollMs),
      msPerPage: +(scrollMs / Math.max(1, firstHalf.steps + secondHalf.steps)).toFixed(1),
    });
    await context.close();
    await browser.close();
    if (!json) {
      console.log('');
      console.log(`open (median of ${OPENS} cold): ${openMedian.toFixed(1)} ms (goal ≤ ${GOAL_MS} ms: ${openMedian <= GOAL_MS ? 'met' : 'MISSED'}); engine openPage baseline ${median(baseline).toFixed(2)} ms`);
      const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
      console.log(`heap: top ${mib(heapTop)}, middle ${mib(heapMiddle)}, end ${mib(heapEnd)}`);
    }
  } finally {
    for (const child of children.reverse()) await stop(child);
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

await main();

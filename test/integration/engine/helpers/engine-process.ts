/**
 * The engine as a child process (dist/electron/engine/cli.js, the built product) driven over its
 * JSON-lines interface: calls by id, pushed events collected, exit observed. For fault tests:
 * PARLEY_TEST_CRASH_AT in `env` makes the child SIGKILL itself at a named point.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Channel } from '../../../../shared/api/contract.js';
import type { ApiResult, EngineEvent, EngineState, RequestOf, ResponseOf } from '../../../../shared/api/types.js';
import { REPO_ROOT } from '../../relay/helpers/relay-process.js';
import { ApiFailure } from '../../../support/engines.js';

export const ENGINE_BIN = path.join(REPO_ROOT, 'dist/electron/engine/cli.js');

export class EngineProcess {
  readonly events: EngineEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ready: Promise<EngineState>;
  #next = 1;
  readonly #calls = new Map<number, (r: ApiResult<unknown>) => void>();

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let markReady: (s: EngineState) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      void this.exited.then(() => reject(new Error('the engine process exited before it was ready')));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: { state: EngineState }; id?: number; result?: ApiResult<unknown>; event?: EngineEvent['event']; payload?: unknown };
      if (m.ready) markReady(m.ready.state);
      else if (m.event) this.events.push({ event: m.event, payload: m.payload } as EngineEvent);
      else if (typeof m.id === 'number') {
        this.#calls.get(m.id)?.(m.result!);
        this.#calls.delete(m.id);
      }
    });
  }

  static async start(o: { readonly data: string; readonly env?: Readonly<Record<string, string>> }): Promise<EngineProcess> {
    if (!existsSync(ENGINE_BIN)) throw new Error(`${ENGINE_BIN} is missing: run \`npm run build\` first`);
    const child = spawn(process.execPath, [ENGINE_BIN, '--data', o.data, '--profile', 'p'], {
      cwd: REPO_ROOT,
      // No D-Bus session: the keychain is unavailable, accounts use a passphrase (minimal Argon2id).
      env: { PATH: process.env.PATH ?? '', PARLEY_TEST_ARGON2: 'minimum', ...o.env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const p = new EngineProcess(child);
    await p.ready;
    return p;
  }

  call<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, (r) => (r.ok ? resolve(r.value as ResponseOf<C>) : reject(new ApiFailure(r.error.code, r.error.message))));
      void this.exited.then(() => reject(new Error(`the engine process exited during ${channel}`)));
      this.child.stdin!.write(`${JSON.stringify({ id, channel, request })}\n`);
    });
  }

  async waitEvent(match: (e: EngineEvent) => boolean, timeoutMs = 10_000): Promise<EngineEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for an event from the engine process');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes stdin: the engine closes its database and exits 0. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin!.end();
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

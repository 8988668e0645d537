/**
 * Messages between the engine benchmark's orchestrator (run.ts) and its host processes (host.ts),
 * over the Node IPC channel: one request, one reply, matched by `id`. A host holds either a real
 * engine (one profile) or, for the relay-only baseline, a bare relay client.
 */

/** Event-loop delay over a window (monitorEventLoopDelay, 1 ms resolution), in ms. */
export type LoopStats = { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number; readonly samples: number };

/** CPU time of the host process over a window, in ms (user + system, all threads). */
export type CpuStats = { readonly userMs: number; readonly systemMs: number };

export type Command =
  | {
      readonly cmd: 'create';
      readonly base: string;
      readonly relayUrl: string;
      readonly username: string;
      readonly searchEnabled: boolean;
    }
  | { readonly cmd: 'add'; readonly username: string }
  /**
   * Sends `count` texts of `bodyBytes` ASCII bytes through the contract with up to `inflight`
   * requests outstanding (1: each request waits for the previous answer, in its own macrotask).
   */
  | { readonly cmd: 'send'; readonly conversationId: string; readonly count: number; readonly bodyBytes: number; readonly inflight: number }
  /** Resolves when `count` incoming texts were added since the last `reset`. */
  | { readonly cmd: 'waitIncoming'; readonly count: number; readonly timeoutMs: number }
  /** Resolves when `count` outgoing texts reached `status` (or a later one) since the last `reset`. */
  | { readonly cmd: 'waitStatus'; readonly status: 'sent' | 'delivered'; readonly count: number; readonly timeoutMs: number }
  /** Resolves when the outbox is empty and no inbound envelope is queued. */
  | { readonly cmd: 'waitIdle'; readonly timeoutMs: number }
  /** Resolves at the next connection (state online) after this command. */
  | { readonly cmd: 'waitOnline'; readonly timeoutMs: number }
  /**
   * Arms a measurement for the next connection: from `online` until `count` incoming texts were
   * committed, with the event-loop delay and CPU time over exactly that window.
   */
  | { readonly cmd: 'drain'; readonly count: number; readonly timeoutMs: number }
  | { readonly cmd: 'reset' }
  | { readonly cmd: 'monitorStart' }
  | { readonly cmd: 'monitorStop' }
  | { readonly cmd: 'pragmas' }
  | { readonly cmd: 'counts' }
  // ── relay-only baseline (a bare RelayClient; no engine in this host) ──
  | { readonly cmd: 'rawRegister'; readonly relayUrl: string; readonly username: string }
  | { readonly cmd: 'rawConnect'; readonly relayUrl: string }
  | { readonly cmd: 'rawDisconnect' }
  | { readonly cmd: 'rawSend'; readonly toAccountId: string; readonly count: number; readonly contentBytes: number; readonly window: number }
  | { readonly cmd: 'rawWaitReceived'; readonly count: number; readonly timeoutMs: number }
  /** Connects and measures from `ready` until `count` envelopes were received (and acked as they come). */
  | { readonly cmd: 'rawDrain'; readonly relayUrl: string; readonly count: number; readonly timeoutMs: number }
  | { readonly cmd: 'exit' };

export type Request = Command & { readonly id: number };

/** Wall-clock times are `performance.timeOrigin + performance.now()`, comparable across processes. */
export type ReplyValue =
  | { readonly cmd: 'create'; readonly accountId: string }
  | { readonly cmd: 'add'; readonly conversationId: string }
  | { readonly cmd: 'send'; readonly startedAt: number; readonly finishedAt: number; readonly cpu: CpuStats }
  | { readonly cmd: 'waitIncoming' | 'waitStatus' | 'waitIdle' | 'waitOnline' | 'rawWaitReceived'; readonly firstAt: number; readonly lastAt: number }
  | { readonly cmd: 'monitorStop'; readonly loop: LoopStats; readonly cpu: CpuStats; readonly wallMs: number }
  | {
      readonly cmd: 'drain' | 'rawDrain';
      readonly onlineAt: number;
      readonly firstAt: number;
      readonly lastAt: number;
      readonly loop: LoopStats;
      readonly cpu: CpuStats;
      readonly wallMs: number;
    }
  | { readonly cmd: 'pragmas'; readonly pragmas: Readonly<Record<string, string | number>> }
  | { readonly cmd: 'counts'; readonly counts: Readonly<Record<string, number>> }
  | { readonly cmd: 'rawRegister'; readonly accountId: string }
  | { readonly cmd: 'rawSend'; readonly startedAt: number; readonly finishedAt: number; readonly cpu: CpuStats }
  | { readonly cmd: 'ready' | 'reset' | 'monitorStart' | 'rawConnect' | 'rawDisconnect' | 'exit' };

export type Reply = { readonly id: number } & ({ readonly ok: true; readonly value: ReplyValue } | { readonly ok: false; readonly error: string });

/** The reply value of a command (some replies serve several commands). */
export type ReplyFor<C extends Command['cmd']> = ReplyValue extends infer R ? (R extends { readonly cmd: infer K } ? (C extends K ? R : never) : never) : never;

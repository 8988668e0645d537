/**
 * Messages between the benchmark orchestrator (run.ts) and its load-generator processes
 * (loadgen.ts), over the Node IPC channel.
 */
export type Target = 'relay' | 'forwarder';

export type Command =
  | { readonly cmd: 'setup'; readonly relayUrl: string; readonly accounts: number; readonly concurrency: number }
  | { readonly cmd: 'targets'; readonly target: Target; readonly accountIds: readonly string[] }
  | { readonly cmd: 'connect'; readonly target: Target; readonly url: string; readonly count: number; readonly concurrency: number }
  | { readonly cmd: 'disconnect'; readonly target: Target }
  /**
   * Idle authenticated connections (the 100,000-connection hold): until this process holds `count`,
   * connection k is account ⌊k / perAccount⌋'s, to urls[k mod n], from localAddresses[k mod m].
   */
  | {
      readonly cmd: 'hold';
      readonly urls: readonly string[];
      readonly count: number;
      readonly perAccount: number;
      readonly localAddresses: readonly string[];
      readonly concurrency: number;
    }
  | {
      readonly cmd: 'load';
      readonly target: Target;
      /** Epoch ms at which every load generator starts, so all share one measurement window. */
      readonly startAt: number;
      /** Envelopes per second this process sends. */
      readonly rate: number;
      readonly warmupMs: number;
      readonly windowMs: number;
      readonly drainMs: number;
      readonly contentBytes: number;
    }
  | { readonly cmd: 'exit' };

export type LoadStats = {
  readonly sent: number;
  readonly sentInWindow: number;
  readonly committed: number;
  readonly errors: Readonly<Record<string, number>>;
  /** Delivery latency (send → envelope received), ms, of envelopes sent inside the window. */
  readonly latencies: readonly number[];
  /** Send → `sent` (committed) latency, ms, of sends inside the window. */
  readonly commitLatencies: readonly number[];
  /** Envelopes (sent inside the window) whose ack the relay confirmed. */
  readonly ackedInWindow: number;
  readonly windowMs: number;
};

export type Reply =
  | { readonly ok: true; readonly cmd: 'setup'; readonly accountIds: readonly string[]; readonly ms: number; readonly nofile: number }
  | { readonly ok: true; readonly cmd: 'connect'; readonly connected: number; readonly accountIds: readonly string[]; readonly ms: number }
  | { readonly ok: true; readonly cmd: 'load'; readonly stats: LoadStats }
  | { readonly ok: true; readonly cmd: 'hold'; readonly held: number; readonly failed: number; readonly firstError: string | null; readonly ms: number }
  | { readonly ok: true; readonly cmd: 'targets' | 'disconnect' | 'exit' }
  | { readonly ok: false; readonly error: string };

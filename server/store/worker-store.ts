/**
 * The SQLite store on its own thread: a RelayStore whose every call is posted to a worker
 * (sqlite-worker.ts) running the real store. The relay's event loop then spends no time in SQLite or
 * in Kysely, and the two threads use two cores; with the group committer, a whole batch of sends and
 * acks is one message each way.
 *
 * The proxy is generic: its methods are the ones the worker's store announces at start, each typed
 * from RelayStore (`Remote`), so a method added to an aggregate needs no line here. Two are special:
 * `close` also stops the thread, and `commitBatch` is answered once its batch is durable and hands
 * back the caller's own content arrays for committed envelopes (the clones the worker saw are
 * dropped), so live delivery can reuse what the caller knows about them. Arguments and results are
 * structured-cloned.
 *
 * If the worker dies, every pending and later call fails: the relay answers UNAVAILABLE/INTERNAL
 * rather than pretending to store anything. Does not own SQL (aggregates/) or setup (sqlite.ts).
 */
import { Worker } from 'node:worker_threads';
import { StoreLockedError, type SqliteSynchronous } from './sqlite.js';
import { sendParts, type RelayStore, type SendOutcome, type StoredEnvelope } from './store.js';
import type { WorkerError, WorkerHello, WorkerReply } from './worker-protocol.js';

/** The compiled worker entry, next to this module in dist/. */
export const DEFAULT_WORKER_SCRIPT = new URL('./sqlite-worker.js', import.meta.url);

/** The methods of T as called on another thread: same arguments, results awaited across the boundary. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** An object with one function per name, each forwarding its arguments to `call`. */
export function remote<T>(methods: readonly string[], call: (method: string, args: unknown[]) => Promise<unknown>): Remote<T> {
  return Object.fromEntries(methods.map((method) => [method, (...args: unknown[]) => call(method, args)])) as Remote<T>;
}

function revive(error: WorkerError): Error {
  if (error.name === 'StoreLockedError') return new StoreLockedError(error.message);
  const e = new Error(error.message) as Error & { code?: string };
  e.name = error.name;
  if (error.code !== undefined) e.code = error.code;
  return e;
}

export async function openWorkerStore(
  file: string,
  options: { readonly synchronous?: SqliteSynchronous; readonly workerScript?: URL } = {},
): Promise<RelayStore> {
  const worker = new Worker(options.workerScript ?? DEFAULT_WORKER_SCRIPT, {
    workerData: { file, synchronous: options.synchronous ?? 'NORMAL' },
  });
  const hello = await new Promise<WorkerHello>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`store worker exited (${code}) before opening the database`)));
  });
  if (!hello.ready) {
    await worker.terminate();
    throw revive(hello.error);
  }

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  worker.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(revive(reply.error));
  });
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`store worker exited (${code})`)));

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  };
  const methods = remote<RelayStore>(hello.methods, call);

  return {
    ...methods,
    backend: 'sqlite',
    async close() {
      if (!failure) await methods.close();
      failure ??= new Error('store closed');
      await worker.terminate();
    },
    async commitBatch(batch) {
      // The worker answers once the batch is durable, so `durable` is already settled.
      const result = (await call('commitBatch', [batch])) as { sends: SendOutcome[]; acked: number };
      const sends = result.sends.map((outcome, i): SendOutcome => {
        if (outcome.status !== 'committed') return outcome;
        const messages = sendParts(batch.sends[i]!).flatMap((p) => p.messages);
        // Deliveries come in message order: give each envelope the caller's content array back.
        return {
          status: 'committed',
          deliveries: outcome.deliveries.map((d, j): { deviceKey: number; envelope: StoredEnvelope } => ({
            deviceKey: d.deviceKey,
            envelope: { ...d.envelope, content: messages[j]!.content },
          })),
        };
      });
      return { sends, acked: result.acked, durable: Promise.resolve() };
    },
  };
}

/**
 * Worker-thread entry of the SQLite store (see worker-store.ts): opens the database with
 * openSqliteStore, announces the store's methods, and serves the calls posted by the main thread,
 * one message per call. commitBatch is answered once its batch is durable (the WAL barrier runs
 * here, off both event loops). Only the store's own methods can be called. Not imported by
 * anything: started by path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteStore, type SqliteSynchronous } from './sqlite.js';
import { storeMethods, type WorkerError, type WorkerHello, type WorkerReply, type WorkerRequest } from './worker-protocol.js';

const port = parentPort!;
const { file, synchronous } = workerData as { file: string; synchronous: SqliteSynchronous };

function describe(e: unknown): WorkerError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const code = (e as { code?: unknown }).code;
  return { name: e.name, message: e.message, ...(typeof code === 'string' && { code }) };
}

try {
  const store = await openSqliteStore(file, { synchronous });
  const methods = storeMethods(store);
  const known = new Set<string>(methods);
  port.on('message', (request: WorkerRequest) => {
    void (async (): Promise<void> => {
      let reply: WorkerReply;
      try {
        if (!known.has(request.method)) throw new Error(`not a store method: ${request.method}`);
        const method = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[request.method]!;
        let result = await method.apply(store, [...request.args]);
        if (request.method === 'commitBatch') {
          const { sends, acked, durable } = result as Awaited<ReturnType<typeof store.commitBatch>>;
          await durable;
          result = { sends, acked };
        }
        reply = { id: request.id, ok: true, result };
      } catch (e) {
        reply = { id: request.id, ok: false, error: describe(e) };
      }
      port.postMessage(reply);
    })();
  });
  port.postMessage({ ready: true, methods } satisfies WorkerHello);
} catch (e) {
  port.postMessage({ ready: false, error: describe(e) } satisfies WorkerHello);
}

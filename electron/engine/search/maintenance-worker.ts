/**
 * Entry of the search index's maintenance worker thread (started by service.ts; not imported by
 * anything). Opens its own connection to the encrypted database with the key it was handed as bytes
 * (transferred, never a string; wiped as soon as the connection is keyed — SQLCipher keeps its own
 * derived copy until the connection closes), runs the upkeep loop (maintenance.ts) and answers the
 * service's messages. On `close` (the engine locks, logs out or quits) it finishes the current step,
 * closes the connection and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSideConnection, type SideConnection } from '../db/database.js';
import { SEARCH_SQL_FUNCTIONS } from './text.js';
import { IndexMaintenance, type FromWorker, type ToWorker, type WorkerInit } from './maintenance.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (message: FromWorker): void => port.postMessage(message);

let db: SideConnection | null = null;
try {
  db = openSideConnection({ path: init.path, key: init.key, functions: SEARCH_SQL_FUNCTIONS, nativeBinding: init.nativeBinding, unencryptedForTests: init.unencryptedForTests });
} catch (e) {
  post({ type: 'failed', message: e instanceof Error ? `${e.name}: ${e.message}` : 'could not open the database' });
} finally {
  init.key.fill(0);
}

if (db !== null) {
  const connection = db;
  const loop = new IndexMaintenance({
    db: connection,
    shadowWritable: (fn) => connection.withShadowTablesWritable(fn),
    emit: (progress) => post({ type: 'progress', progress }),
    batchTargetMs: init.batchTargetMs,
    progressIntervalMs: init.progressIntervalMs,
    pollMs: init.pollMs,
  });
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'nudge':
        loop.nudge();
        return;
      case 'wait':
        void (m.until === 'idle' ? loop.whenIdle() : loop.whenCaughtUp()).then(() => post({ type: 'reply', id: m.id, stats: loop.stats }));
        return;
      case 'stats':
        post({ type: 'reply', id: m.id, stats: loop.stats });
        if (m.reset) loop.resetStats();
        return;
      case 'close':
        loop.close();
        return;
    }
  });
  post({ type: 'opened' });
  await loop.run();
  connection.close();
  port.close();
}

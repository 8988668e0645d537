/**
 * Re-keying the engine's database file (issue 10 item 13): `PRAGMA rekey` of
 * better-sqlite3-multiple-ciphers rewrites every page under the new key inside one transaction.
 * It does not work in WAL mode, so the WAL is checkpointed and the file switched to a rollback
 * journal first (the next open switches it back to WAL, database.ts). A crash at any moment leaves
 * a file that opens with exactly one of the two keys: the rollback journal holds the pages as
 * they were, and the first open under the old key rolls them back; once the journal is gone the
 * new key opens it. (Opening under the new key while a journal from a crashed re-key is still there
 * fails as a wrong key and changes nothing: tested in test/integration/faults/rekey-crash.test.ts.)
 *
 * The rewrite runs in a worker thread on its own connection, so the engine's thread stays free to
 * report progress: the pages copied into the journal so far (its size over page size + 8), polled
 * every `progressIntervalMs`. The engine's own connections (writer, reader, the search worker's)
 * must be closed before, or the journal mode cannot change.
 *
 * Does not own which key files name which key (keys/passphrase-key-file.ts), or when to re-key
 * (engine.ts, setPassphrase).
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { rawKeyText } from './database.js';
import { StorageError, toStorageError } from './errors.js';

export type RekeyProgress = { readonly done: number; readonly total: number };

export type RekeyOptions = {
  readonly path: string;
  /** The key the file has now, and the one it gets; both 32 bytes, owned (and wiped) by the caller. */
  readonly oldKey: Uint8Array;
  readonly newKey: Uint8Array;
  readonly nativeBinding?: string | undefined;
  /** Pages journaled so far of the total; the last report is done = total. */
  readonly onProgress?: (progress: RekeyProgress) => void;
  readonly progressIntervalMs?: number;
};

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { modulePath, path, nativeBinding, oldKeyText, newKeyText } = workerData;
let db;
try {
  const Sqlite = require(modulePath);
  db = new Sqlite(path, { fileMustExist: true, ...(nativeBinding ? { nativeBinding } : {}) });
  db.pragma("cipher = 'sqlcipher'");
  db.pragma('legacy = 4');
  if (db.key(Buffer.from(oldKeyText.buffer)) !== 0) throw Object.assign(new Error('key'), { code: 'SQLITE_NOTADB' });
  db.prepare('SELECT count(*) AS n FROM sqlite_schema').get();
  db.pragma('busy_timeout = 5000');
  db.pragma('secure_delete = ON');
  db.pragma('wal_checkpoint(TRUNCATE)');
  if (db.pragma('journal_mode = DELETE', { simple: true }) !== 'delete') throw Object.assign(new Error('journal'), { code: 'SQLITE_BUSY' });
  db.pragma('synchronous = FULL');
  const total = db.pragma('page_count', { simple: true });
  const pageSize = db.pragma('page_size', { simple: true });
  parentPort.postMessage({ type: 'started', total, pageSize });
  if (db.rekey(Buffer.from(newKeyText.buffer)) !== 0) throw Object.assign(new Error('rekey'), { code: 'SQLITE_ERROR' });
  db.close();
  db = undefined;
  parentPort.postMessage({ type: 'done', total });
} catch (e) {
  try { db && db.close(); } catch {}
  parentPort.postMessage({ type: 'failed', code: typeof e?.code === 'string' ? e.code : null });
} finally {
  oldKeyText.fill(0);
  newKeyText.fill(0);
}
`;

const modulePath = createRequire(import.meta.url).resolve('better-sqlite3-multiple-ciphers');

type FromWorker = { type: 'started'; total: number; pageSize: number } | { type: 'done'; total: number } | { type: 'failed'; code: string | null };

/** A journal record: page number (4) ‖ page ‖ checksum (4); the journal starts with a header (one sector, 512 bytes or more). */
const JOURNAL_RECORD_OVERHEAD = 8;
const JOURNAL_HEADER_BYTES = 512;

/**
 * Re-keys the database file at `path` from `oldKey` to `newKey`. Resolves when the new key is the
 * file's key (committed, journal gone); throws StorageError (WRONG_KEY if `oldKey` does not open
 * it, IO when the rewrite failed — the file then still has `oldKey`).
 */
export async function rekeyDatabase(o: RekeyOptions): Promise<void> {
  // The raw-key texts go to the worker by transfer: no copy stays on this thread.
  const oldKeyText = new Uint8Array(rawKeyText(o.oldKey));
  const newKeyText = new Uint8Array(rawKeyText(o.newKey));
  const journal = `${o.path}-journal`;
  const interval = o.progressIntervalMs ?? 100;
  await new Promise<void>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { modulePath, path: o.path, nativeBinding: o.nativeBinding, oldKeyText, newKeyText },
      transferList: [oldKeyText.buffer as ArrayBuffer, newKeyText.buffer as ArrayBuffer],
    });
    let poll: NodeJS.Timeout | undefined;
    let settled = false;
    let reported = -1;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      void worker.terminate();
      if (error === undefined) resolve();
      else reject(error);
    };
    const report = (done: number, total: number) => {
      if (done === reported) return;
      reported = done;
      o.onProgress?.({ done, total });
    };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'started') {
        report(0, m.total);
        poll = setInterval(() => {
          void stat(journal).then(
            (s) => {
              if (!settled) report(Math.min(m.total, Math.floor(Math.max(0, s.size - JOURNAL_HEADER_BYTES) / (m.pageSize + JOURNAL_RECORD_OVERHEAD))), m.total);
            },
            () => undefined, // not created yet, or already deleted at the commit
          );
        }, interval);
      } else if (m.type === 'done') {
        report(m.total, m.total);
        finish();
      } else {
        const mapped = toStorageError(Object.assign(new Error('rekey failed'), { code: m.code ?? 'SQLITE_ERROR' }));
        finish(mapped instanceof StorageError ? mapped : new StorageError('IO', 'the database could not be re-keyed'));
      }
    });
    worker.once('error', () => finish(new StorageError('IO', 'the database could not be re-keyed')));
    worker.once('exit', () => finish(new StorageError('IO', 'the database could not be re-keyed')));
  });
}

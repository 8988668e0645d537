/**
 * The RelayStore suite (test/support/relay-store-suite.ts) on SQLite, inline and on its worker
 * thread; PostgreSQL runs the same suite in store.services.test.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relayStoreSuite, type StoreBackend } from '../../test/support/relay-store-suite.js';
import { openSqliteStore } from './sqlite.js';
import type { RelayStore } from './store.js';
import { openWorkerStore } from './worker-store.js';

/** Worker threads run compiled JavaScript: the worker backend uses the build (`npm run build`). */
const WORKER_SCRIPT = new URL('../../dist/server/store/sqlite-worker.js', import.meta.url);

function requireWorkerScript(): void {
  if (!existsSync(fileURLToPath(WORKER_SCRIPT))) throw new Error(`${fileURLToPath(WORKER_SCRIPT)} is missing: run \`npm run build\` first`);
}

function sqliteBackend(name: string, open: (file: string) => Promise<RelayStore>): StoreBackend {
  return {
    name,
    exclusive: true,
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'parley-store-'));
      const file = path.join(dir, 'relay.sqlite');
      const store = await open(file);
      await store.migrate();
      return {
        store,
        reopen: async () => {
          const s = await open(file);
          await s.migrate();
          return s;
        },
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

relayStoreSuite(sqliteBackend('sqlite', (file) => openSqliteStore(file)));
relayStoreSuite(
  sqliteBackend('sqlite on a worker thread', (file) => {
    requireWorkerScript();
    return openWorkerStore(file, { workerScript: WORKER_SCRIPT });
  }),
);

describe('the worker store', () => {
  it('serves every member of the inline store, so a method added to an aggregate reaches the worker too', async () => {
    requireWorkerScript();
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-store-'));
    const inline = await openSqliteStore(path.join(dir, 'inline.sqlite'));
    const worker = await openWorkerStore(path.join(dir, 'worker.sqlite'), { workerScript: WORKER_SCRIPT });
    try {
      expect(Object.keys(worker).sort()).toEqual(Object.keys(inline).sort());
      expect(Object.keys(inline)).toContain('commitBatch');
      expect(worker.backend).toBe(inline.backend);
    } finally {
      await worker.close();
      await inline.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

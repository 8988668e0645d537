/**
 * A real relay for the e2e specs: `node dist/server/main.js --host 127.0.0.1 --port 0 --data DIR`,
 * started the way `npm start` starts its local one (scripts/lib/local-relay.mjs), with its data in a
 * temporary directory that goes away with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalRelay } from '../../../scripts/lib/local-relay.mjs';
import { ROOT } from './paths.js';

export type RelayProcess = { readonly url: string; stop(): Promise<void> };

export async function launchRelay(): Promise<RelayProcess> {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-relay-'));
  const relay = await ensureLocalRelay({ root: ROOT, dataRoot });
  return {
    url: relay.url,
    stop: async () => {
      await relay.stop();
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

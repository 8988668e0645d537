/**
 * Running relays for tests: in process (startRelay on 127.0.0.1:0 in a temporary data dir, silent
 * logs, injectable clock and limits, /metrics behind TEST_METRICS_TOKEN), or as a child process
 * (relay-process.ts, re-exported).
 * Everything started here is stopped by the returned handle; temporary dirs are removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../../shared/crypto/random.js';
import type { LimitsOverride } from '../../../../server/limits/relay-limits.js';
import type { MetricsOptions } from '../../../../server/http/metrics-endpoint.js';
import { startRelay, type Relay } from '../../../../server/relay.js';
import { TEST_LIMITS, TEST_METRICS_TOKEN } from './relay-process.js';

export * from './relay-process.js';

export function tempDir(prefix = 'parley-relay-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export type TestRelay = Relay & { readonly dataDir: string; stop(): Promise<void> };

export async function startTestRelay(
  options: { limits?: LimitsOverride; clock?: Clock; dataDir?: string; trustProxy?: boolean | string | number; metrics?: MetricsOptions } = {},
): Promise<TestRelay> {
  const dataDir = options.dataDir ?? tempDir();
  const relay = await startRelay({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    limits: { ...TEST_LIMITS, ...options.limits },
    ...(options.clock && { clock: options.clock }),
    ...(options.trustProxy !== undefined && { trustProxy: options.trustProxy }),
    metrics: options.metrics ?? { token: TEST_METRICS_TOKEN },
  });
  return {
    ...relay,
    dataDir,
    async stop() {
      await relay.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}


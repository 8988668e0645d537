/**
 * Redis for tests: the server scripts/with-services.sh starts (REDIS_URL) for suites that need
 * PostgreSQL and Redis together (`describeWithServices`: skipped outside CI without them, failing
 * under CI=true, as describeWithPostgres), and a Redis of a test's own (`startRedis`: Debian's
 * redis-server on a free loopback port, no persistence) for tests that stop and restart it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';

export type ServiceUrls = { readonly postgres: string; readonly redis: string };

/** `describe(name, …)` with the PostgreSQL server's and Redis's URLs, or a skip (a failure under CI). */
export function describeWithServices(name: string, body: (urls: ServiceUrls) => void): void {
  const postgres = process.env.DATABASE_URL;
  const redis = process.env.REDIS_URL;
  if (postgres && redis) {
    describe(name, () => body({ postgres, redis }));
    return;
  }
  const reason = 'DATABASE_URL and REDIS_URL are not set (run the suite under scripts/with-services.sh, as `npm test` does)';
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('PostgreSQL and Redis are available: under CI this suite must run, not skip', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(`${name} — skipped: ${reason}`, () => body({ postgres: '', redis: '' }));
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type OwnRedis = {
  readonly url: string;
  readonly port: number;
  /** SIGKILL (no goodbye to clients) and wait for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  stop(): Promise<void>;
};

/** A redis-server of the test's own, on a free loopback port; `stop()` removes everything. */
export async function startRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-redis-'));
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    port,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Several relay processes of one relay (ADR 0035) for scale-out tests: the built bin, each with its
 * own data dir, all on one fresh PostgreSQL database, one Redis, one identity file and one
 * attachments directory. `restart(i)` starts instance i again on the same port (so a load balancer
 * or a client pointed at it finds it again); `stop()` ends everything started and drops the database.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres.js';
import { spawnRelay, tempDir, type RelayProcess } from './relay.js';

export type Cluster = {
  readonly database: TestDatabase;
  readonly redisUrl: string;
  readonly identityFile: string;
  readonly attachmentsDir: string;
  /** The instances' processes (an entry is replaced when the instance restarts). */
  readonly instances: RelayProcess[];
  readonly ports: number[];
  url(i: number): string;
  /** SIGKILL instance i. */
  kill(i: number): Promise<void>;
  /** SIGTERM instance i (drain) and wait for it to exit; its exit code. */
  stopInstance(i: number): Promise<number | null>;
  /** Starts instance i again, on the port it had. */
  restart(i: number): Promise<RelayProcess>;
  /** Adds an instance on a new port. */
  add(): Promise<RelayProcess>;
  stop(): Promise<void>;
};

export async function startCluster(options: {
  readonly postgresServerUrl: string;
  readonly redisUrl: string;
  readonly instances: number;
  readonly limits?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string>>;
  /** The instances reach the database through this URL instead (a forwarder the test can unplug). */
  readonly databaseVia?: (databaseUrl: string) => string;
}): Promise<Cluster> {
  const database = await createTestDatabase(options.postgresServerUrl);
  const shared = tempDir('parley-cluster-');
  const identityFile = path.join(shared, 'identity.bin');
  const attachmentsDir = path.join(shared, 'attachments');
  const dataDirs: string[] = [];
  const instances: RelayProcess[] = [];
  const ports: number[] = [];
  const spawnOne = async (i: number, port: number): Promise<RelayProcess> => {
    dataDirs[i] ??= tempDir('parley-instance-');
    const relay = await spawnRelay({
      dataDir: dataDirs[i]!,
      ...(options.limits && { limits: options.limits }),
      args: [
        ...['--host', '127.0.0.1', '--port', String(port), '--data', dataDirs[i]!, '--log-level', 'warn'],
        ...['--store', 'postgres', '--database-url', options.databaseVia?.(database.url) ?? database.url, '--bus', 'redis', '--redis-url', options.redisUrl],
        ...['--identity', identityFile, '--attachments', attachmentsDir],
      ],
      ...(options.env && { env: options.env }),
    });
    instances[i] = relay;
    ports[i] = relay.port;
    return relay;
  };
  try {
    // The first creates the identity and runs the migrations; the others start together.
    await spawnOne(0, 0);
    await Promise.all(Array.from({ length: options.instances - 1 }, (_, k) => spawnOne(k + 1, 0)));
  } catch (e) {
    for (const r of instances) await r?.kill();
    await database.drop();
    throw e;
  }
  return {
    database,
    redisUrl: options.redisUrl,
    identityFile,
    attachmentsDir,
    instances,
    ports,
    url: (i) => `http://127.0.0.1:${ports[i]}`,
    kill: (i) => instances[i]!.kill(),
    async stopInstance(i) {
      return (await instances[i]!.stop()).code;
    },
    restart: (i) => spawnOne(i, ports[i]!),
    add: () => spawnOne(instances.length, 0),
    async stop() {
      for (const r of instances) await r.kill();
      await database.drop();
      for (const d of [shared, ...dataDirs]) rmSync(d, { recursive: true, force: true });
    },
  };
}

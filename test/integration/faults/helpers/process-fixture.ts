/**
 * The shared fixture of the fault suites that run the built engine as a child process: one relay
 * process for the file (started before its tests, stopped after), engine processes and temporary
 * directories that each test registers and that are killed and removed after it.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { EngineProcess } from '../../engine/helpers/engine-process.js';
import { spawnRelay, tempDir, type RelayProcess } from '../../relay/helpers/relay.js';

export type ProcessFixture = {
  /** The relay process (valid inside tests). */
  readonly relay: RelayProcess;
  /** An engine process on `data`, killed after the test. */
  engine(data: string, env?: Readonly<Record<string, string>>): Promise<EngineProcess>;
  /** A temporary directory removed after the test. */
  dir(prefix: string): string;
};

export function processFixture(relayPrefix: string): ProcessFixture {
  let relay: RelayProcess | undefined;
  let relayDir = '';
  const dirs: string[] = [];
  const processes: EngineProcess[] = [];
  beforeAll(async () => {
    relayDir = tempDir(relayPrefix);
    relay = await spawnRelay({ dataDir: relayDir });
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  afterAll(async () => {
    await relay?.stop();
    rmSync(relayDir, { recursive: true, force: true });
  });
  return {
    get relay() {
      if (!relay) throw new Error('the relay starts in beforeAll');
      return relay;
    },
    async engine(data, env = {}) {
      const p = await EngineProcess.start({ data, env });
      processes.push(p);
      return p;
    },
    dir(prefix) {
      const d = tempDir(prefix);
      dirs.push(d);
      return d;
    },
  };
}

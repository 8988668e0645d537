#!/usr/bin/env node
/**
 * The engine as a child process (fault tests, benchmarks, headless use): one profile, the whole
 * renderer↔engine contract over stdin/stdout as JSON lines, validated by the same dispatcher every
 * host uses (electron/engine/dispatch.ts).
 *
 *   node dist/electron/engine/cli.js --data DIR [--profile NAME]
 *
 *   stdout, first line   {"ready":{"pid":N,"state":<EngineState>}}
 *   stdin               {"id":<string|number>,"channel":"messages:send","request":{…}}
 *   stdout              {"id":…,"result":{"ok":true,"value":…}}  |  {"id":…,"result":{"ok":false,"error":{code,message}}}
 *   stdout              {"event":"message:added","payload":{…}}   (every pushed event, as it happens)
 *
 * Requests run concurrently, as they do from a renderer. stdin closing or SIGTERM closes the engine
 * (database checkpointed) and exits 0. The relay is the one the account was created with
 * (account:create's relayUrl). The database key comes from the OS keychain, or from a passphrase
 * (account:create / account:unlock with one) when there is no keychain.
 *
 * Environment: PARLEY_TEST_CRASH_AT (electron/engine/crash-points.ts) makes the process SIGKILL
 * itself at a named point; PARLEY_TEST_ARGON2=minimum uses the smallest Argon2id parameters the
 * key file accepts (tests that create many profiles; never in production). Nothing else is read.
 * stderr carries only fixed diagnostic lines — never request contents.
 */
import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { EngineEvent } from '../../shared/api/types.js';
import { systemRng } from '../../shared/crypto/random.js';
import { armCrashPoints, CRASH_AT_ENV } from './crash-points.js';
import { createDispatcher } from './dispatch.js';
import { Engine } from './engine.js';
import { ARGON2_BOUNDS, DEFAULT_ARGON2_PARAMS } from './keys/argon2.js';
import { KeychainKeyStore, osKeychainBackend } from './keys/keychain.js';
import { PassphraseKeyFile } from './keys/passphrase-key-file.js';
import { DEFAULT_PROFILE, ProfileError, resolveProfile } from './profile.js';

type Args = { readonly data: string; readonly profile: string };

function parseArgs(argv: readonly string[]): Args {
  let data: string | undefined;
  let profile = DEFAULT_PROFILE;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if (arg === '--data' && value !== undefined) {
      data = value;
      i++;
    } else if (arg === '--profile' && value !== undefined) {
      profile = value;
      i++;
    } else {
      throw new ProfileError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (!data) throw new ProfileError('--data DIR is required');
  return { data, profile };
}

function write(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`parley-engine: ${e instanceof ProfileError ? e.message : 'invalid arguments'}\n`);
    process.exitCode = 2;
    return;
  }
  const profile = resolveProfile(args.data, args.profile);
  armCrashPoints(env[CRASH_AT_ENV]);
  const argon2 =
    env.PARLEY_TEST_ARGON2 === 'minimum'
      ? { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: ARGON2_BOUNDS.iterations.min, parallelism: ARGON2_BOUNDS.parallelism.min }
      : DEFAULT_ARGON2_PARAMS;
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, argon2),
    emit: (e: EngineEvent) => write({ event: e.event, payload: e.payload }),
  });
  const dispatch = createDispatcher(engine.handlers());
  write({ ready: { pid: process.pid, state: engine.getState() } });

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= engine.close().then(() => {
      process.exitCode = 0;
    });
    return closing;
  };
  process.once('SIGTERM', () => void shutdown().then(() => process.exit()));
  const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const pending = new Set<Promise<void>>();
  input.on('line', (line) => {
    let message: { id?: unknown; channel?: unknown; request?: unknown };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      write({ id: null, result: { ok: false, error: { code: 'INVALID_REQUEST', message: 'a line is one JSON object' } } });
      return;
    }
    const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null;
    const work = dispatch(message.channel, message.request).then((result) => write({ id, result }));
    pending.add(work);
    void work.finally(() => pending.delete(work));
  });
  await new Promise<void>((resolve) => input.once('close', resolve));
  await Promise.allSettled([...pending]);
  await shutdown();
}

// Run when executed directly (not when imported by a test).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2), process.env).catch(() => {
    process.stderr.write('parley-engine: failed to start\n');
    process.exitCode = 1;
  });
}

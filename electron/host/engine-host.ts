/**
 * One engine per host process (issue 5 "Start"): both hosts — Electron's main process and the
 * browser host — create the engine for `--profile NAME` here and serve the contract through the
 * engine's own dispatcher (electron/engine/dispatch.ts, the one contract layer), so neither host
 * wraps it in a second one. Events the engine pushes go to the host's `emit` (which validates them,
 * events.ts); contract faults are reported to `onFault` by name only.
 *
 * Also owns the environment knobs hosts read (Electron's main process passes an environment without
 * the test-only ones when packaged: host/security.ts hostEnvironment):
 *   PARLEY_RELAY_URL         the relay address onboarding suggests (the start scripts set it to the
 *                            local relay they started or found); passed to the renderer in the URL;
 *   PARLEY_TEST_CLOCK_FILE   tests only: the engine's clock is the system clock plus the integer
 *                            number of milliseconds this file holds (re-read on every reading, so a
 *                            spec moves one profile's clock while its host runs). Unset in
 *                            production; a missing or unreadable file means offset 0;
 *   PARLEY_TEST_CRASH_AT     tests only: arms an engine crash point (engine/crash-points.ts).
 * Imports no `electron` value.
 */
import { readFileSync } from 'node:fs';
import { CONTRACT } from '../../shared/api/contract.js';
import { isRelayUrl } from '../../shared/api/primitives.js';
import type { EngineEvent } from '../../shared/api/types.js';
import { systemRng, type Clock } from '../../shared/crypto/random.js';
import { armCrashPoints, CRASH_AT_ENV } from '../engine/crash-points.js';
import { createDispatcher, type ContractFault, type Dispatch } from '../engine/dispatch.js';
import { Engine } from '../engine/engine.js';
import { KeychainKeyStore, osKeychainBackend } from '../engine/keys/keychain.js';
import { PassphraseKeyFile } from '../engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../engine/profile.js';
import { describeChannels, type ChannelDescriptor } from './channels.js';

export const TEST_CLOCK_ENV = 'PARLEY_TEST_CLOCK_FILE';
export const RELAY_URL_ENV = 'PARLEY_RELAY_URL';

/** The engine clock the environment asks for: the system clock, or (tests) the system clock plus an offset file. */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock | undefined {
  const file = env[TEST_CLOCK_ENV];
  if (!file) return undefined;
  return () => {
    let offset = 0;
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (/^-?\d{1,15}$/.test(text)) offset = Number(text);
    } catch {
      // no file yet: no offset
    }
    return Date.now() + offset;
  };
}

/**
 * The suggested relay address, if the environment names one the engine accepts (https, or http on
 * 127.0.0.1 or [::1]: shared/api's isRelayUrl, the rule onboarding enforces too); else null.
 */
export function relayUrlFromEnv(env: NodeJS.ProcessEnv): string | null {
  const url = env[RELAY_URL_ENV]?.replace(/\/+$/, '');
  return url && isRelayUrl(url) ? url : null;
}

/** An entry URL with the suggested relay as a query parameter (the fragment, if any, stays last). */
export function withRelayHint(entryUrl: string, relayUrl: string | null): string {
  if (relayUrl === null) return entryUrl;
  const url = new URL(entryUrl);
  url.searchParams.set('relay', relayUrl);
  return url.toString();
}

export type EngineHost = {
  readonly engine: Engine;
  /** The transports' `invoke`: the engine's dispatcher (validation, handler, response and error check). */
  readonly invoke: Dispatch;
  readonly channels: readonly ChannelDescriptor[];
  close(): Promise<void>;
};

export async function startEngineHost(options: {
  readonly dataRoot: string;
  readonly profile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly emit: (event: EngineEvent) => void;
  readonly onFault?: (fault: ContractFault) => void;
  readonly nativeBinding?: string;
}): Promise<EngineHost> {
  const profile = resolveProfile(options.dataRoot, options.profile);
  const clock = clockFromEnv(options.env);
  armCrashPoints(options.env[CRASH_AT_ENV]);
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng),
    emit: options.emit,
    ...(clock ? { clock } : {}),
    ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
  });
  const invoke = createDispatcher(engine.handlers(), { ...(options.onFault && { onFault: options.onFault }) });
  return { engine, invoke, channels: describeChannels(CONTRACT), close: () => engine.close() };
}

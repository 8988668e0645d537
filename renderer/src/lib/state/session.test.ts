/**
 * SessionState's passphrase change with a scripted bridge: the re-encryption progress the engine
 * pushes (`account:rekeyProgress`) is shown while the change is in flight and gone once it answers,
 * whether it succeeded or failed; a stray event with no change in flight shows nothing.
 */
import { describe, expect, it } from 'vitest';
import type { ApiResult, Bridge, EngineState } from '../../../../shared/api/types.js';
import { SessionState } from './session.svelte.js';

const READY: EngineState = { state: 'ready', profile: 'default', keychainAvailable: false, keyProtection: 'passphrase', account: null };

function scripted() {
  const answers: ((r: ApiResult<EngineState>) => void)[] = [];
  const bridge = {
    setPassphrase: () => new Promise<ApiResult<EngineState>>((answer) => answers.push(answer)),
  } as unknown as Bridge;
  return { bridge, answers };
}

describe('SessionState: passphrase change progress', () => {
  it('shows the re-encryption progress while the change is in flight, and none after it answers', async () => {
    const { bridge, answers } = scripted();
    const session = new SessionState(bridge);
    session.onRekeyProgress({ done: 1, total: 10 });
    expect(session.rekeyProgress).toBeNull();

    const change = session.setPassphrase('a new passphrase', 'the old passphrase');
    session.onRekeyProgress({ done: 0, total: 400 });
    session.onRekeyProgress({ done: 250, total: 400 });
    expect(session.rekeyProgress).toEqual({ done: 250, total: 400 });
    answers[0]!({ ok: true, value: READY });
    expect(await change).toBe(true);
    expect(session.rekeyProgress).toBeNull();

    const failing = session.setPassphrase('a new passphrase', 'wrong');
    session.onRekeyProgress({ done: 3, total: 400 });
    answers[1]!({ ok: false, error: { code: 'STORAGE_FAILURE', message: 'the database could not be read or written' } });
    expect(await failing).toBe(false);
    expect(session.rekeyProgress).toBeNull();
    expect(session.error).not.toBeNull();
  });
});

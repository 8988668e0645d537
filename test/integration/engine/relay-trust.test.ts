/**
 * What an engine trusts about its relay (issue 10 items 7 and 12), against the real relay: the relay
 * id is pinned at registration (and, for an account from before the pin, at its first challenge),
 * and an account whose stored address is plain http to anything but a literal loopback address
 * (an older build accepted `localhost`) never sends a byte there. The lying relay itself is in
 * test/integration/hostile/hostile-relay.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { sql } from '../../../electron/engine/db/sql.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { relayAndEngines, TestEngine, waitFor } from '../../support/engines.js';

const fixture = relayAndEngines();

describe('relay trust', () => {
  it('registration pins the relay id from the relay’s description; an account from before the pin pins it at its first challenge', async () => {
    const alice = await fixture.engine('alice');
    const relayId = (await RelayClient.wellKnown(fixture.relay.url)).relayId;
    expect(alice.engine.current!.account.relayId).toEqual(relayId);

    const db = alice.engine.current!.db.writer;
    db.transaction(() => db.run(sql`UPDATE account SET relay_id = NULL`));
    const again = await alice.restart();
    fixture.track(again);
    expect(again.engine.current!.account.relayId).toEqual(relayId);
    const stored = again.engine.current!.db.reader.get<{ relay_id: Uint8Array }>(sql`SELECT relay_id FROM account`)!;
    expect(new Uint8Array(stored.relay_id)).toEqual(relayId);
  });

  it('an account stored with a localhost relay address (an older build) never reaches it: INSECURE_TRANSPORT, offline', async () => {
    const alice = await fixture.engine('alice');
    const localhost = fixture.relay.url.replace('127.0.0.1', 'localhost');
    const db = alice.engine.current!.db.writer;
    db.transaction(() => db.run(sql`UPDATE account SET relay_url = ${localhost}`));
    await alice.close();
    const again = await TestEngine.start({ relayUrl: localhost, base: alice.options.base, keychain: alice.options.keychain, clock: alice.clock, timers: alice.timers });
    fixture.track(again);
    const errors: string[] = [];
    again.engine.messaging!.relay.on('error', (e) => errors.push(e.code));
    await waitFor(() => errors.length >= 2, 'two refused connection attempts');
    expect(new Set(errors)).toEqual(new Set(['INSECURE_TRANSPORT']));
    expect(again.engine.messaging!.relay.state).toBe('reconnecting');
    // Through the contract: an action that needs the relay says why, without reaching it.
    expect(await again.errorOf('contacts:add', { username: 'nobody_here' })).toBe('RELAY_UNAVAILABLE');
  });

  it('onboarding refuses a localhost relay address (only 127.0.0.1 and [::1] may be plain http)', async () => {
    const fresh = await TestEngine.start({ relayUrl: fixture.relay.url });
    fixture.track(fresh);
    expect(await fresh.errorOf('account:create', { username: 'carol_local', relayUrl: fixture.relay.url.replace('127.0.0.1', 'localhost') })).toBe('INVALID_REQUEST');
    expect(fresh.engine.getState().state).toBe('needs-account');
  });
});

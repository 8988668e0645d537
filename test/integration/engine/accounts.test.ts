/**
 * "Log out this device" versus "Delete account" (issue 12, ADR 0019) against the real relay: logout
 * wipes the device and the account lives on (its username still finds it); deleting — signed with
 * the account key, primary device only — removes the account at the relay, whose username hold
 * then refuses the name to a new account, and wipes the device; a device without the account key
 * is told NOT_PRIMARY_DEVICE and keeps everything.
 */
import { describe, expect, it } from 'vitest';
import { sql } from '../../../electron/engine/db/sql.js';
import { relayAndEngines, TestEngine } from '../../support/engines.js';

const fixture = relayAndEngines();

describe('accounts', () => {
  it('logging out wipes this device; the account and its username live on', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    expect(alice.engine.getState().account).toMatchObject({ primaryDevice: true });
    const state = await alice.call('account:logout', {});
    expect(state).toMatchObject({ state: 'needs-account', account: null });
    const found = await bob.call('contacts:add', { username: alice.username });
    expect(found.id).toBe(alice.accountId);
  });

  it('deleting the account removes it at the relay, holds its username, and wipes this device', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const state = await alice.call('account:delete', {});
    expect(state).toMatchObject({ state: 'needs-account', account: null });
    expect(await bob.errorOf('contacts:add', { username: alice.username })).toBe('NOT_FOUND');
    const again = await TestEngine.start({ relayUrl: fixture.relay.url });
    fixture.track(again);
    expect(await again.errorOf('account:create', { username: alice.username, relayUrl: fixture.relay.url })).toBe('USERNAME_TAKEN');
  });

  it('a device without the account key cannot delete the account and keeps everything', async () => {
    const alice = await fixture.engine('alice');
    const db = alice.engine.current!.db.writer;
    db.transaction(() => db.run(sql`UPDATE account SET account_private_key = NULL`));
    const linked = await alice.restart();
    fixture.track(linked);
    expect(linked.engine.getState().account).toMatchObject({ primaryDevice: false });
    expect(await linked.errorOf('account:delete', {})).toBe('NOT_PRIMARY_DEVICE');
    expect(linked.engine.getState()).toMatchObject({ state: 'ready' });
  });
});

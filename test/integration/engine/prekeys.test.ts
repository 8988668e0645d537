/**
 * The prekey lifecycle at the relay (DESIGN §3.3): one-time keys refilled when the relay reports
 * fewer than 10 (uploads of at most 100 keys each), the signed and last-resort prekeys rotated
 * after 7 days and uploaded, the own device list re-signed every 7 days while online, and one-time
 * keys uploaded long before the newest batch erased.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { currentLastResortKemPrekey, currentSignedPrekey } from '../../../electron/engine/db/prekeys.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { TestEngine, relayAndEngines } from '../../support/engines.js';

const fixture = relayAndEngines({ limits: { bundlesPerPair: { points: 10_000, duration: 1 } } });
const DAY = 24 * 3600_000;

describe('prekeys at the relay', () => {
  it('refills one-time keys below 10, rotates the signed and last-resort keys after 7 days, re-signs the list', async () => {
    const alice = await TestEngine.create({ relayUrl: fixture.relay.url, name: 'alice' });
    const bob = await TestEngine.create({ relayUrl: fixture.relay.url, name: 'bob' });
    fixture.track(alice, bob);
    const messaging = alice.engine.messaging!;
    // Bob's device claims 91 bundles of Alice's: 9 of each kind are left.
    const bobAccount = bob.engine.current!.account;
    const claimer = new RelayClient({ url: fixture.relay.url, accountId: bobAccount.accountId, deviceId: 1, identitySigningKey: bobAccount.identitySigning.privateKey });
    try {
      for (let i = 0; i < 91; i++) await claimer.fetchBundles(fromHex(alice.accountId), 1);
    } finally {
      claimer.close();
    }
    expect(await messaging.relay.prekeyCounts()).toMatchObject({ oneTimePrekeys: 9, kemOneTimePrekeys: 9 });
    await messaging.runMaintenance();
    expect(await messaging.relay.prekeyCounts()).toMatchObject({ oneTimePrekeys: 100, kemOneTimePrekeys: 100 });

    // A week later: new signed and last-resort keys at the relay, and list version 2.
    const db = alice.engine.current!.db;
    const signedBefore = currentSignedPrekey(db.reader)!.keyId;
    alice.clock.advance(7 * DAY);
    await messaging.runMaintenance();
    const counts = await messaging.relay.prekeyCounts();
    expect(counts.signedPrekey!.keyId).toBe(currentSignedPrekey(db.reader)!.keyId);
    expect(counts.signedPrekey!.keyId).not.toBe(signedBefore);
    expect(counts.lastResortKemPrekey!.keyId).toBe(currentLastResortKemPrekey(db.reader)!.keyId);
    const published = await messaging.relay.lookupAccount(fromHex(alice.accountId));
    expect(parseDeviceList(published.deviceList).list.version).toBe(2);
    expect(alice.engine.current!.account.deviceList.version).toBe(2);
    // Old one-time keys (handed out long ago) go 30 days after a newer batch was uploaded.
    const count = () => db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM one_time_prekeys`)!.n;
    expect(count()).toBe(191);
    db.writer.transaction(() => db.writer.run(sql`UPDATE one_time_prekeys SET uploaded_at = uploaded_at - ${31 * DAY} WHERE key_id <= 100`));
    await messaging.runMaintenance();
    expect(count()).toBe(91);
  });
});

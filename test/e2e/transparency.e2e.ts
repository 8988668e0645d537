/**
 * Key transparency on the safety-number screen (issue 19, ADR 0034), through the UI against the real
 * relay: after Alice adds Bob, the screen says "Keys match the public log" next to the safety number.
 * With a relay (a hostile proxy in front of the real one) whose proofs do not verify, adding a
 * contact is refused with a clear message and nothing is added.
 */
import { HostileProxy } from '../hostile-proxy/hostile-proxy.js';
import { accountPair, createAccount, expect, expectAccessible, startConversation, test } from './app.js';

test('the safety-number screen says the keys match the public log', async ({ parley }) => {
  const { alice, b } = await accountPair(parley);
  await startConversation(alice.page, b);
  await alice.page.getByRole('button', { name: 'Verify' }).click();
  await expect(alice.page.getByRole('heading', { name: `Verify safety number with ${b}` })).toBeVisible();
  await expect(alice.page.getByRole('status', { name: 'Key transparency' })).toHaveText('✓ Keys match the public log.');
  await expectAccessible(alice.page);
});

test('a relay whose key-transparency proof does not verify: adding the contact is refused and says why', async ({ parley }) => {
  const proxy = await HostileProxy.start(parley.relayUrl);
  try {
    const bob = await parley.open(parley.name('bob'));
    const b = parley.name('bob').replace(/-/g, '_');
    await createAccount(bob.page, b);
    const alice = await parley.open(parley.name('alice'), { relayUrl: proxy.url });
    await createAccount(alice.page, parley.name('alice').replace(/-/g, '_'));
    proxy.rewriteAccount = (answer) => {
      const t = answer.transparency;
      if (!t) return answer;
      const first = Buffer.from(t.inclusion[0] ?? '', 'base64url');
      if (first.length > 0) first[0]! ^= 0x01;
      return { ...answer, transparency: { ...t, inclusion: [first.toString('base64url'), ...t.inclusion.slice(1)] } };
    };
    await alice.page.getByRole('button', { name: 'New conversation' }).click();
    await alice.page.getByLabel('Username').fill(b);
    await alice.page.getByRole('button', { name: 'Start conversation' }).click();
    await expect(alice.page.getByRole('alert')).toContainText('The relay’s public key log does not confirm these keys.', { timeout: 20_000 });
    await expect(alice.page.getByRole('button', { name: b })).toHaveCount(0);
  } finally {
    await proxy.close();
  }
});

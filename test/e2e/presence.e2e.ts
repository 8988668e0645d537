/**
 * Presence as a person sees it (issue 12 "Presence"), with two browser hosts and a real relay:
 * a contact who has not added me back shows nothing (not "Offline"); when they add me back while we
 * are both online, they show "Online" at once, without anyone reconnecting; someone who hides their
 * presence shows nothing (not "Last seen now"). The conversation list names the person before their
 * presence, for screen readers.
 */
import type { Page } from '@playwright/test';
import { accountPair, connectedPair, conversationButton, expect, expectAccessible, messageLog, openConversation, screen, send, startConversation, test } from './app.js';

function presence(page: Page, peer: string) {
  return page.getByRole('status', { name: `Presence of ${peer}` });
}

test('a contact who has not added me back shows nothing; adding me back shows them online at once', async ({ parley }) => {
  const { alice, bob, a, b } = await accountPair(parley);
  // Alice adds Bob; Bob, online all along, has not added her.
  await startConversation(alice.page, b);
  // The relay has answered Alice's presence query: Bob does not share his presence with her.
  await expect(presence(alice.page, b)).toHaveAttribute('data-presence', 'not-shared', { timeout: 10_000 });
  await expect(presence(alice.page, b)).toHaveText('');
  await expect(conversationButton(alice.page, b)).toHaveAccessibleName(new RegExp(`^${b}\\b`));
  await expect(conversationButton(alice.page, b)).not.toHaveAccessibleName(/online/);
  await expectAccessible(alice.page);
  await screen(alice.page, 'presence-not-shared');

  // Bob adds Alice back: she sees him online without either of them reconnecting.
  await startConversation(bob.page, a);
  await expect(presence(alice.page, b)).toHaveText('Online', { timeout: 10_000 });
  await expect(presence(bob.page, a)).toHaveText('Online', { timeout: 10_000 });
  // A screen reader hears the name first, then that the person is online.
  await expect(alice.page.getByRole('navigation', { name: 'Conversations' })).toMatchAriaSnapshot(`
    - navigation "Conversations":
      - list:
        - listitem:
          - button /^${b} ?, online/
  `);
});

test('hiding my presence shows my contacts nothing, not "Last seen"', async ({ parley }) => {
  const { alice, bob, a, b } = await connectedPair(parley);
  await expect(presence(alice.page, b)).toHaveText('Online', { timeout: 10_000 });

  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await bob.page.getByRole('switch', { name: 'Show when I am online' }).uncheck();
  await expect(presence(alice.page, b)).toHaveAttribute('data-presence', 'not-shared', { timeout: 10_000 });
  // Ordering barrier: a message Bob sends after hiding reaches Alice after every presence frame the
  // relay wrote to her before it; by then no "Last seen" has replaced the nothing.
  await openConversation(bob.page, a);
  await send(bob.page, a, 'after hiding');
  await expect(messageLog(alice.page, b).getByText('after hiding')).toBeVisible({ timeout: 10_000 });
  await expect(presence(alice.page, b)).toHaveText('');
  await expect(conversationButton(alice.page, b)).not.toHaveAccessibleName(/online/);
  // Still nothing after Alice reconnects (her snapshot says the same).
  await alice.restart();
  await conversationButton(alice.page, b).click();
  await expect(presence(alice.page, b)).toHaveAttribute('data-presence', 'not-shared', { timeout: 10_000 });
  await expect(presence(alice.page, b)).toHaveText('');

  // Shown again: online.
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await bob.page.getByRole('switch', { name: 'Show when I am online' }).check();
  await expect(presence(alice.page, b)).toHaveText('Online', { timeout: 10_000 });
});

/**
 * Two people, two browser hosts, one real relay, everything through the UI: add a contact by
 * username, send both ways, statuses (sent → delivered → read when the other side opens the
 * conversation), typing, presence across a host restart, arrival order vs display order (a
 * hostile proxy reorders deliveries; the engine clock skews a sender), timestamps and separators from the engine clock, receipts off, HTML payloads,
 * and the keyboard-only path.
 */
import type { Page } from '@playwright/test';
import { HostileProxy } from '../hostile-proxy/hostile-proxy.js';
import {
  composer,
  conversationButton,
  createAccount,
  expect,
  expectMessageTime,
  messageLog,
  messageStatus,
  openConversation,
  send,
  startConversation,
  test,
  type Parley,
  type ProfileApp,
} from './app.js';

const DAY = 24 * 60 * 60_000;

/** Alice and Bob with accounts; Alice has started the conversation with Bob. */
async function pair(parley: Parley): Promise<{ alice: ProfileApp; bob: ProfileApp }> {
  const alice = await parley.open(parley.name('alice'), { context: { locale: 'en-US', timezoneId: 'America/New_York' } });
  const bob = await parley.open(parley.name('bob'), { context: { locale: 'en-US', timezoneId: 'America/New_York' } });
  // Usernames are unique on the worker's relay: the test's profile names, with "_" for "-".
  await createAccount(alice.page, parley.name('alice').replace(/-/g, '_'));
  await createAccount(bob.page, parley.name('bob').replace(/-/g, '_'));
  return { alice, bob };
}

/** Both add each other by username (contacts:add); Alice ends up in her conversation with Bob. */
async function connect(parley: Parley, alice: ProfileApp, bob: ProfileApp): Promise<{ a: string; b: string }> {
  const a = parley.name('alice').replace(/-/g, '_');
  const b = parley.name('bob').replace(/-/g, '_');
  await startConversation(bob.page, a);
  await startConversation(alice.page, b);
  return { a, b };
}

function bubble(page: Page, peer: string, text: string) {
  return messageLog(page, peer).getByRole('listitem').filter({ hasText: text });
}

/** Sends and waits until the engine has taken the message (its bubble shows a status), so a clock change after it cannot race the send. */
async function sendAndWait(page: Page, peer: string, text: string): Promise<void> {
  await send(page, peer, text);
  await expect(messageStatus(bubble(page, peer, text))).toBeVisible();
}

test('send both ways', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await send(alice.page, b, 'Hi Bob, it is Alice.');
  // Alice holds no delivery token for Bob yet (he has not shared his profile): her header says the send is not sealed.
  await expect(alice.page.getByText('Not sealed', { exact: true })).toBeVisible();
  await expect(conversationButton(bob.page, a)).toContainText('Hi Bob, it is Alice.', { timeout: 20_000 });
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('Hi Bob, it is Alice.')).toBeVisible();
  // Alice's first message carried her profile key: Bob writes to her sealed.
  await expect(bob.page.getByText('Not sealed', { exact: true })).toBeHidden();
  await send(bob.page, a, 'Hello Alice!\nTwo lines.');
  await expect(messageLog(alice.page, b).getByText(/Hello Alice!\s+Two lines\./)).toBeVisible({ timeout: 20_000 });
  // …and his reply carried his: the marker goes.
  await expect(alice.page.getByText('Not sealed', { exact: true })).toBeHidden({ timeout: 20_000 });
});

test('statuses: sent → delivered → read when the other side opens the conversation', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await bob.stop();
  await send(alice.page, b, 'are you there?');
  await expect(messageStatus(bubble(alice.page, b, 'are you there?'))).toHaveAccessibleName('Sent', { timeout: 20_000 });
  await bob.restart();
  await expect(messageStatus(bubble(alice.page, b, 'are you there?'))).toHaveAccessibleName('Delivered', { timeout: 30_000 });
  await openConversation(bob.page, a);
  await expect(messageStatus(bubble(alice.page, b, 'are you there?'))).toHaveAccessibleName('Read', { timeout: 20_000 });
});

test('typing shows and clears', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await send(alice.page, b, 'hello');
  await openConversation(bob.page, a);
  await composer(bob.page, a).pressSequentially('I am typ', { delay: 50 });
  await expect(alice.page.getByRole('status').filter({ hasText: `${b} is typing…` })).toBeVisible({ timeout: 10_000 });
  await composer(bob.page, a).fill('');
  await expect(alice.page.getByText(`${b} is typing…`)).toHaveCount(0, { timeout: 10_000 });
});

test('presence changes when Bob’s host stops and restarts', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { b } = await connect(parley, alice, bob);
  const presence = alice.page.getByRole('status', { name: `Presence of ${b}` });
  await expect(presence).toHaveText('Online', { timeout: 20_000 });
  await bob.stop();
  await expect(presence).toHaveText(/Offline|Last seen/, { timeout: 30_000 });
  await bob.restart();
  await expect(presence).toHaveText('Online', { timeout: 30_000 });
});

test('out-of-order arrivals display in display order (engine clock)', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await sendAndWait(alice.page, b, 'written second, arrives first');
  // Alice's clock runs 10 minutes behind for the next message: it arrives later but sorts earlier.
  alice.setClockOffset(-10 * 60_000);
  await sendAndWait(alice.page, b, 'written first, arrives second');
  alice.setClockOffset(0);
  await openConversation(bob.page, a);
  const log = messageLog(bob.page, a);
  await expect(log.getByText('written first, arrives second')).toBeVisible({ timeout: 20_000 });
  await expect(log.getByText('written second, arrives first')).toBeVisible({ timeout: 20_000 });
  const texts = await log.getByRole('listitem').allInnerTexts();
  const first = texts.findIndex((t) => t.includes('written first, arrives second'));
  const second = texts.findIndex((t) => t.includes('written second, arrives first'));
  expect(first).toBeLessThan(second);
});

test('arrivals reordered by a relay (hostile proxy) display in the order they were written', async ({ parley }) => {
  // Bob reaches the relay through the proxy; Alice does not, so every envelope the proxy delivers
  // is one Alice sent to Bob. With her typing indicators off, those are exactly her three texts.
  const proxy = await HostileProxy.start(parley.relayUrl);
  try {
    const alice = await parley.open(parley.name('alice'), { context: { locale: 'en-US', timezoneId: 'America/New_York' } });
    const bob = await parley.open(parley.name('bob'), { relayUrl: proxy.url, context: { locale: 'en-US', timezoneId: 'America/New_York' } });
    await createAccount(alice.page, parley.name('alice').replace(/-/g, '_'));
    await createAccount(bob.page, parley.name('bob').replace(/-/g, '_'));
    const { a, b } = await connect(parley, alice, bob);
    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('switch', { name: 'Send typing indicators' }).uncheck();
    await openConversation(alice.page, b);
    // A first text (with Alice's profile key, in an envelope of its own) before the proxy holds anything.
    await sendAndWait(alice.page, b, 'hello first');
    await expect(messageStatus(bubble(alice.page, b, 'hello first'))).toHaveAccessibleName(/^(Delivered|Read)$/, { timeout: 30_000 });
    const before = proxy.delivered().length;
    const texts = ['first written', 'second written', 'third written'];
    proxy.envelopes({}).reorder(texts.length); // hold all three, deliver them last first
    for (const text of texts) await sendAndWait(alice.page, b, text);
    await expect(messageStatus(bubble(alice.page, b, texts[2]!))).toHaveAccessibleName(/^(Delivered|Read)$/, { timeout: 30_000 });
    const arrived = proxy.delivered().slice(before).map((e) => e.seq);
    expect(arrived).toHaveLength(texts.length);
    expect(arrived).toEqual([...arrived].sort((x, y) => y - x)); // Bob received the last written first
    await openConversation(bob.page, a);
    const log = messageLog(bob.page, a);
    for (const text of texts) await expect(log.getByText(text, { exact: true })).toBeVisible({ timeout: 20_000 });
    const shown = await log.getByRole('listitem').allInnerTexts();
    const positions = texts.map((text) => shown.findIndex((row) => row.includes(text)));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  } finally {
    await proxy.close();
  }
});

test('timestamps and separators from the engine clock', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  // Start the session at the real time first: a clock set back two days would see Bob's fresh signed
  // prekey as created in the future and, rightly, refuse it (docs/protocol.md §5.3).
  await send(alice.page, b, 'session start');
  await expect(messageStatus(bubble(alice.page, b, 'session start'))).toHaveAccessibleName(/^(Sent|Delivered|Read)$/, { timeout: 20_000 });
  alice.setClockOffset(-2 * DAY);
  await sendAndWait(alice.page, b, 'two days ago');
  alice.setClockOffset(-DAY);
  await sendAndWait(alice.page, b, 'one day ago');
  alice.setClockOffset(0);
  await sendAndWait(alice.page, b, 'sent this moment');
  await openConversation(bob.page, a);
  const log = messageLog(bob.page, a);
  await expect(log.getByText('sent this moment', { exact: true })).toBeVisible({ timeout: 20_000 });
  await expect(log.getByRole('separator', { name: 'Yesterday' })).toBeVisible();
  await expect(log.getByRole('separator', { name: 'Today' })).toBeVisible();
  // Clock times; the full date (yesterday's for the message sent with the clock a day back) on hover.
  const fullDay = (at: number) => new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeZone: 'America/New_York' }).format(at);
  const clock = /^\d{1,2}:\d{2} [AP]M$/;
  await expectMessageTime(log.getByRole('listitem').filter({ hasText: 'one day ago' }), clock, new RegExp(`^${fullDay(Date.now() - DAY)} at `));
  await expectMessageTime(log.getByRole('listitem').filter({ hasText: 'sent this moment' }), clock, new RegExp(`^${fullDay(Date.now())} at `));
});

test('receipts off: the sender never sees Read', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await bob.page.getByRole('switch', { name: 'Send read receipts' }).uncheck();
  await send(alice.page, b, 'no receipts please');
  await expect(messageStatus(bubble(alice.page, b, 'no receipts please'))).toHaveAccessibleName('Delivered', { timeout: 30_000 });
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('no receipts please')).toBeVisible();
  // Barrier: Bob's receipt for a later message leaves his outbox after any receipt for this one.
  await send(alice.page, b, 'sentinel');
  await expect(messageStatus(bubble(alice.page, b, 'sentinel'))).toHaveAccessibleName(/Delivered|Read/, { timeout: 30_000 });
  await expect(messageStatus(bubble(alice.page, b, 'no receipts please'))).toHaveAccessibleName('Delivered');
});

test('HTML payloads sent over the wire display as typed', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  const payload = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>';
  await send(alice.page, b, payload);
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText(payload, { exact: true })).toBeVisible({ timeout: 20_000 });
  await expect(messageLog(bob.page, a).getByRole('img')).toHaveCount(0);
  expect(await bob.page.evaluate(() => (window as unknown as Record<string, unknown>).__pwned)).toBeUndefined();
});

test('keyboard only: open a conversation and send a message', async ({ parley }) => {
  const { alice, bob } = await pair(parley);
  const { a, b } = await connect(parley, alice, bob);
  await send(alice.page, b, 'ping');
  const page = bob.page;
  await expect(conversationButton(page, a)).toContainText('ping', { timeout: 20_000 });
  await page.reload(); // a fresh start: nothing focused
  await expect(conversationButton(page, a)).toBeVisible({ timeout: 20_000 });
  await page.keyboard.press('Tab'); // New conversation
  await page.keyboard.press('Tab'); // New group
  await expect(page.getByRole('button', { name: 'New group' })).toBeFocused();
  await page.keyboard.press('Tab'); // Settings
  await page.keyboard.press('Tab'); // Search
  await page.keyboard.press('Tab'); // the first conversation
  await expect(conversationButton(page, a)).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: a, level: 2 })).toBeVisible();
  const box = composer(page, a);
  for (let i = 0; i < 10 && !(await box.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(box).toBeFocused();
  await page.keyboard.type('pong');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  await page.keyboard.press('Enter');
  await expect(messageLog(alice.page, b).getByText(/pong\s+second line/)).toBeVisible({ timeout: 20_000 });
});

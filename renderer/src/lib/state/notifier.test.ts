/** Notification wording per setting; a message request's text never appears (issue 12). */
import { describe, expect, it } from 'vitest';
import { notificationText, Notifier, type NotificationApi } from './notifier.js';

describe('notificationText', () => {
  it('shows name and text, the name only, or neither, as the setting says', () => {
    const notice = { sender: 'Alice', body: 'see you at 8' };
    expect(notificationText(notice, 'name-and-message')).toEqual({ title: 'Alice', body: 'see you at 8' });
    expect(notificationText(notice, 'name-only')).toEqual({ title: 'Alice', body: 'New message' });
    expect(notificationText(notice, 'nothing')).toEqual({ title: 'Parley', body: 'New message' });
  });

  it('never shows the text of a message request, whatever the setting', () => {
    const notice = { sender: 'Mallory', body: 'click this link', request: true };
    expect(notificationText(notice, 'name-and-message')).toEqual({ title: 'Mallory', body: 'Message request' });
    expect(notificationText(notice, 'name-only')).toEqual({ title: 'Mallory', body: 'Message request' });
    expect(notificationText(notice, 'nothing')).toEqual({ title: 'Parley', body: 'New message' });
  });
});

describe('Notifier', () => {
  it('closes the notification of a message that left this device (expired or deleted for everyone), and only that one', async () => {
    const open = new Set<string>();
    const api: NotificationApi = {
      permission: 'granted',
      requestPermission: async () => 'granted',
      show: (title, body) => {
        const key = `${title}: ${body}`;
        open.add(key);
        return () => open.delete(key);
      },
    };
    const notifier = new Notifier(api);
    await notifier.notify({ sender: 'Alice', body: 'the timed one' }, 'name-and-message', () => {}, '7');
    await notifier.notify({ sender: 'Alice', body: 'another' }, 'name-and-message', () => {}, '8');
    notifier.withdraw('7');
    expect([...open]).toEqual(['Alice: another']);
    notifier.withdraw('7');
    notifier.withdraw('99');
    expect([...open]).toEqual(['Alice: another']);
  });
});

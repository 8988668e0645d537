/** Notification wording per setting; a message request's text never appears (issue 12). */
import { describe, expect, it } from 'vitest';
import { notificationText } from './notifier.js';

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

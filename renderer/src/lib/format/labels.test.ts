import { describe, expect, it } from 'vitest';
import type { ApiErrorCode } from '../../../../shared/api/types.js';
import { describeError, deviceNoticeText, presenceLabel, statusLabel } from './labels.js';

describe('labels', () => {
  it('every API error code has its own sentence, and an unknown channel says the feature is missing', () => {
    const codes: ApiErrorCode[] = ['INVALID_REQUEST', 'NEEDS_ACCOUNT', 'LOCKED', 'ACCOUNT_EXISTS', 'KEYCHAIN_UNAVAILABLE', 'KEY_MISSING', 'WRONG_PASSPHRASE', 'WEAK_PASSPHRASE', 'PASSPHRASE_NOT_SET', 'INVALID_USERNAME', 'USERNAME_TAKEN', 'NOT_FOUND', 'KEY_CHANGE_PENDING', 'MESSAGE_TOO_LARGE', 'NOT_RETRYABLE', 'UNTRUSTED_DEVICE_LIST', 'RELAY_UNAVAILABLE', 'RATE_LIMITED', 'STORAGE_FAILURE', 'INTERNAL'];
    for (const code of codes) expect(describeError({ code, message: '' }).length).toBeGreaterThan(10);
    expect(describeError({ code: 'INVALID_REQUEST', message: 'unknown channel' })).toBe('This version of Parley cannot do that yet.');
  });

  it('names each status and presence', () => {
    expect(['sending', 'sent', 'delivered', 'read', 'failed'].map((s) => statusLabel(s as never))).toEqual(['Sending', 'Sent', 'Delivered', 'Read', 'Not sent']);
    const now = Date.UTC(2025, 5, 20, 18, 34);
    expect(presenceLabel({ state: 'online', lastSeenAt: null }, now, 'en-US', 'UTC')).toBe('Online');
    expect(presenceLabel({ state: 'offline', lastSeenAt: now - 12 * 60_000 }, now, 'en-US', 'UTC')).toBe('Last seen today at 6:22 PM');
    expect(presenceLabel({ state: 'offline', lastSeenAt: null }, now, 'en-US', 'UTC')).toBe('Offline');
    expect(presenceLabel({ state: 'unknown', lastSeenAt: null }, now, 'en-US', 'UTC')).toBeNull();
    expect(presenceLabel({ state: 'not-shared', lastSeenAt: null }, now, 'en-US', 'UTC')).toBeNull();
  });

  it('device notices name the device when known and say what to do about an unexpected link; other kinds are not theirs', () => {
    expect(deviceNoticeText('device-linked', "Bob's <tablet>", 'Note to self')).toBe('A new device “Bob\'s <tablet>” was linked to your account. If that was not you, remove it on your primary device in Settings → Linked devices.');
    expect(deviceNoticeText('device-linked', null, 'Note to self')).toMatch(/^A new device was linked/);
    expect(deviceNoticeText('device-removed', 'Laptop', 'Note to self')).toBe('“Laptop” was removed from your account.');
    expect(deviceNoticeText('device-removed', null, 'Note to self')).toBe('A device was removed from your account.');
    expect(deviceNoticeText('contact-devices-changed', null, 'Bob')).toBe('Bob’s devices changed.');
    expect(deviceNoticeText('key-changed', null, 'Bob')).toBeNull();
    for (const code of ['INVALID_DEVICE_NAME', 'CANNOT_REMOVE_THIS_DEVICE', 'TOO_MANY_DEVICES'] as const) expect(describeError({ code, message: '' }).length).toBeGreaterThan(10);
  });
});

/**
 * LinkingState with a scripted bridge: a status event only updates a link this window started; a
 * link that failed on the other device shows its reason in words; accepting clears the link; the
 * primary's "Link a new device" shows the engine's error in words and keeps no stale success.
 */
import { describe, expect, it } from 'vitest';
import type { ApiResult, Bridge, LinkStatusView, OwnDeviceView } from '../../../../shared/api/types.js';
import { LinkingState } from './linking.svelte.js';

const WAITING: LinkStatusView = { phase: 'waiting', offerText: 'parley-link:AAAA', code: '123456-1234-5678', expiresAt: 1, safetyNumber: null, error: null };
const DEVICE: OwnDeviceView = { deviceId: 2, name: null, addedAt: 1, lastActiveAt: null, thisDevice: false, primary: false };

function bridge(answers: Partial<Record<keyof Bridge, () => Promise<ApiResult<unknown>>>>): Bridge {
  return answers as unknown as Bridge;
}

describe('LinkingState', () => {
  it('follows the status of its own link only, words a failure, and drops the link once accepted', async () => {
    const linking = new LinkingState(
      bridge({
        startLink: async () => ({ ok: true, value: WAITING }),
        acceptLink: async () => ({ ok: true, value: { username: 'alice', accountId: '0'.repeat(32), deviceId: 2, relayUrl: 'http://127.0.0.1:1', primaryDevice: false } }),
      }),
    );
    linking.onStatus({ ...WAITING, phase: 'connecting' });
    expect(linking.status).toBeNull();
    await linking.start('http://127.0.0.1:1');
    expect(linking.status?.phase).toBe('waiting');
    linking.onStatus({ ...WAITING, phase: 'failed', error: { code: 'LINK_WRONG_CODE', message: 'x' } });
    expect(linking.error).toMatch(/The code did not match/);
    linking.onStatus({ ...WAITING, phase: 'awaiting-confirmation', safetyNumber: ['12345'] });
    expect(await linking.accept("Alice's laptop")).toBe(true);
    expect(linking.status).toBeNull();
  });

  it('"Link a new device" shows the engine error in words, and a later success replaces it', async () => {
    const results: ApiResult<OwnDeviceView>[] = [
      { ok: false, error: { code: 'TOO_MANY_DEVICES', message: 'x' } },
      { ok: true, value: DEVICE },
    ];
    const linking = new LinkingState(
      bridge({
        linkDevice: async () => results.shift()!,
        listDevices: async () => ({ ok: true, value: [DEVICE] }),
        accountSafetyNumber: async () => ({ ok: true, value: { safetyNumber: ['12345'] } }),
      }),
    );
    expect(await linking.linkDevice({ code: '123456-1234-5678' })).toBe(false);
    expect(linking.linkError).toMatch(/already has 6 devices/);
    expect(linking.linked).toBeNull();
    expect(await linking.linkDevice({ offerText: 'parley-link:AAAA' })).toBe(true);
    expect(linking.linkError).toBeNull();
    expect(linking.linked).toEqual(DEVICE);
    expect(linking.devices).toEqual([DEVICE]);
  });

  it('a six-device failure offers the list; rename and remove replace the list, or word the failure and keep it', async () => {
    const PRIMARY: OwnDeviceView = { deviceId: 1, name: null, addedAt: 1, lastActiveAt: null, thisDevice: true, primary: true };
    const removals: ApiResult<OwnDeviceView[]>[] = [
      { ok: false, error: { code: 'CANNOT_REMOVE_THIS_DEVICE', message: 'x' } },
      { ok: true, value: [PRIMARY] },
    ];
    const linking = new LinkingState(
      bridge({
        linkDevice: async () => ({ ok: false, error: { code: 'TOO_MANY_DEVICES', message: 'x' } }),
        listDevices: async () => ({ ok: true, value: [PRIMARY, DEVICE] }),
        accountSafetyNumber: async () => ({ ok: true, value: { safetyNumber: ['12345'] } }),
        renameDevice: async () => ({ ok: false, error: { code: 'INVALID_DEVICE_NAME', message: 'x' } }),
        removeDevice: async () => removals.shift()!,
      }),
    );
    await linking.loadDevices();
    expect(await linking.linkDevice({ code: '123456-1234-5678' })).toBe(false);
    expect(linking.tooManyDevices).toBe(true);

    expect(await linking.renameDevice(2, '<b>x</b>')).toBe(false);
    expect(linking.manageError).toMatch(/device name/);
    expect(linking.devices).toEqual([PRIMARY, DEVICE]);

    expect(await linking.removeDevice(1)).toBe(false);
    expect(linking.manageError).toMatch(/cannot remove itself/);
    expect(await linking.removeDevice(2)).toBe(true);
    expect(linking.manageError).toBeNull();
    expect(linking.devices).toEqual([PRIMARY]);
    expect(linking.tooManyDevices).toBe(false);
  });
});

/**
 * The relay address a host suggests to onboarding ($PARLEY_RELAY_URL) follows the engine's rule
 * (issue 10 item 12): https, or plain http only on 127.0.0.1 or [::1]; anything else is not
 * suggested.
 */
import { describe, expect, it } from 'vitest';
import { relayUrlFromEnv, RELAY_URL_ENV } from './engine-host.js';

describe('relayUrlFromEnv', () => {
  it.each([
    ['https://relay.example/', 'https://relay.example'],
    ['http://127.0.0.1:4000', 'http://127.0.0.1:4000'],
    ['http://[::1]:4000/', 'http://[::1]:4000'],
    ['http://localhost:4000', null],
    ['http://relay.example', null],
    ['https://user:pw@relay.example', null],
    ['not a url', null],
    ['', null],
  ])('%s → %s', (value, expected) => {
    expect(relayUrlFromEnv({ [RELAY_URL_ENV]: value })).toBe(expected);
  });
});

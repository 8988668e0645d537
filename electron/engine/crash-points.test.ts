/**
 * Crash points fire only when an entry point arms them from the environment it trusts (the engine
 * CLI, the hosts — whose packaged Electron build drops PARLEY_TEST_CRASH_AT): the module itself
 * never reads process.env, so importing the engine into a packaged app arms nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('crash points', () => {
  it('are not armed by PARLEY_TEST_CRASH_AT alone; armCrashPoints arms and disarms them', async () => {
    vi.stubEnv('PARLEY_TEST_CRASH_AT', 'after-outbox-commit');
    vi.resetModules();
    const points = await import('./crash-points.js');
    expect(points.armedCrashPoint()).toBeNull();
    points.crashPoint('after-outbox-commit'); // unarmed: returns (armed, it would kill this process)
    points.armCrashPoints('mid-batch:3');
    expect(points.armedCrashPoint()).toBe('mid-batch');
    points.armCrashPoints(undefined);
    expect(points.armedCrashPoint()).toBeNull();
  });
});

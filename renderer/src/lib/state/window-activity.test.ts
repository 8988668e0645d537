import { describe, expect, it } from 'vitest';
import { WindowActivity } from './window-activity.svelte.js';

describe('WindowActivity', () => {
  it('is active only while the window is focused and visible, and reports each change', () => {
    let focused = true;
    let visibility: DocumentVisibilityState = 'visible';
    const winTarget = new EventTarget();
    const docTarget = new EventTarget();
    const source = {
      addEventListener: winTarget.addEventListener.bind(winTarget),
      document: {
        hasFocus: () => focused,
        get visibilityState() {
          return visibility;
        },
        addEventListener: docTarget.addEventListener.bind(docTarget),
      },
    } as unknown as ConstructorParameters<typeof WindowActivity>[0];
    const activity = new WindowActivity(source);
    const changes: boolean[] = [];
    activity.onChange((active) => changes.push(active));
    expect(activity.active).toBe(true);
    focused = false;
    winTarget.dispatchEvent(new Event('blur'));
    expect(activity.active).toBe(false);
    focused = true;
    winTarget.dispatchEvent(new Event('focus'));
    visibility = 'hidden';
    docTarget.dispatchEvent(new Event('visibilitychange'));
    expect(activity.active).toBe(false);
    visibility = 'visible';
    docTarget.dispatchEvent(new Event('visibilitychange'));
    expect(changes).toEqual([false, true, false, true]);
  });
});

/**
 * Debian's Chromium and the switches every e2e browser starts with (never `npx playwright install`:
 * nothing can be downloaded here). Shared by playwright.config.ts and specs that launch a browser of
 * their own (e.g. with host-resolver rules).
 */
export const CHROMIUM_EXECUTABLE = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

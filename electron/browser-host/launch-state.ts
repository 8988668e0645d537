/**
 * What the browser host keeps in the profile directory (docs/adr/0020-browser-host-launch.md):
 *  - the **launch page** `browser-launch.html`, mode 0600 in the profile's 0700 directory: the one
 *    place the launch's access key is written. The host opens this file in the browser (its path is
 *    all that goes on the opener's command line, which every local user can read), and the page
 *    moves the browser on to `http://127.0.0.1:PORT/#k=KEY`, whose fragment the renderer takes and
 *    removes. Opening the file again opens Parley again; it is removed when the host stops and
 *    replaced, never rewritten in place, at the next launch.
 *  - the **remembered port** `browser-host.json`, so that the address stays the same from launch to
 *    launch while the port is free.
 * Does not own the key (server.ts makes one per launch) or the profile layout (engine/profile.ts).
 */
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const LAUNCH_FILE = 'browser-launch.html';
export const PORT_FILE = 'browser-host.json';

/** The launch page's path in a profile directory. */
export function launchFilePath(profileDir: string): string {
  return path.join(profileDir, LAUNCH_FILE);
}

/** `file:///…/browser-launch.html`: what the host hands to the OS opener (no secret in it). */
export function launchFileUrl(profileDir: string): string {
  return pathToFileURL(launchFilePath(profileDir)).href;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: a redirect that leaves no history entry of its own, and a link if scripts are off. */
export function launchPage(url: string): string {
  const attr = escapeHtml(url);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">',
    '<title>Opening Parley…</title>',
    `<script>location.replace(${JSON.stringify(url).replace(/</g, '\\u003c')});</script>`,
    `<noscript><meta http-equiv="refresh" content="0;url=${attr}"></noscript>`,
    '</head><body>',
    `<p><a href="${attr}" rel="noreferrer">Open Parley</a></p>`,
    '<p>This page holds the access key of this launch of Parley. Do not share it.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

/**
 * Writes the launch page for `url` (which holds the key) readable by the owner only: any earlier
 * file (or a link planted in its place) is removed first, and the new one is created exclusively,
 * so the key never lands in a file someone else could have opened or redirected.
 */
export async function writeLaunchFile(profileDir: string, url: string): Promise<string> {
  await mkdir(profileDir, { recursive: true, mode: 0o700 });
  const file = launchFilePath(profileDir);
  await rm(file, { force: true });
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    await handle.chmod(0o600); // whatever the umask
    await handle.writeFile(launchPage(url), 'utf8');
  } finally {
    await handle.close();
  }
  return file;
}

/** Removes the launch page (the host is stopping: its key is dead anyway). */
export async function removeLaunchFile(profileDir: string): Promise<void> {
  await rm(launchFilePath(profileDir), { force: true });
}

/** The port this profile's host used last, or null (none yet, or an unreadable file). */
export async function rememberedPort(profileDir: string): Promise<number | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(profileDir, PORT_FILE), 'utf8')) as { port?: unknown };
    const port = parsed.port;
    return typeof port === 'number' && Number.isInteger(port) && port >= 1024 && port <= 65535 ? port : null;
  } catch {
    return null;
  }
}

/** Remembers the port of this launch for the next one. */
export async function rememberPort(profileDir: string, port: number): Promise<void> {
  await mkdir(profileDir, { recursive: true, mode: 0o700 });
  const file = path.join(profileDir, PORT_FILE);
  await writeFile(file, `${JSON.stringify({ port })}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

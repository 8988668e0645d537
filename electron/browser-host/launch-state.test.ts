/**
 * The browser host's files in the profile directory, on the real file system: the launch page is
 * the owner's alone whatever was there before, and the remembered port survives only as a port.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAUNCH_FILE, launchFileUrl, launchPage, PORT_FILE, rememberedPort, rememberPort, removeLaunchFile, writeLaunchFile } from './launch-state.js';

const URL_WITH_KEY = `http://127.0.0.1:41234/?relay=http%3A%2F%2F127.0.0.1%3A9#k=${'A'.repeat(43)}`;
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function profileDir(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'parley-launch-'));
  temps.push(root);
  return path.join(root, 'profiles', 'p');
}

describe('the launch page', () => {
  it('is created for the owner only (0600 in a 0700 directory) and leads to the address with the key', async () => {
    const dir = profileDir();
    const file = await writeLaunchFile(dir, URL_WITH_KEY);
    expect(file).toBe(path.join(dir, LAUNCH_FILE));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(`location.replace(${JSON.stringify(URL_WITH_KEY)})`);
    expect(html).toContain(`<a href="${URL_WITH_KEY.replace(/&/g, '&#38;')}"`);
    expect(launchFileUrl(dir)).toBe(`file://${file}`);
    expect(launchFileUrl(dir)).not.toContain('#');
  });

  it('replaces an earlier page that others could read, instead of writing into it', async () => {
    const dir = profileDir();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, LAUNCH_FILE);
    writeFileSync(file, 'old key');
    chmodSync(file, 0o644);
    await writeLaunchFile(dir, URL_WITH_KEY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(URL_WITH_KEY);
  });

  it('does not follow a link planted where the page goes: the key never reaches its target', async () => {
    const dir = profileDir();
    mkdirSync(dir, { recursive: true });
    const elsewhere = path.join(path.dirname(path.dirname(dir)), 'world-readable.html');
    writeFileSync(elsewhere, '');
    chmodSync(elsewhere, 0o644);
    symlinkSync(elsewhere, path.join(dir, LAUNCH_FILE));
    await writeLaunchFile(dir, URL_WITH_KEY);
    expect(readFileSync(elsewhere, 'utf8')).toBe('');
    expect(lstatSync(path.join(dir, LAUNCH_FILE)).isSymbolicLink()).toBe(false);
    expect(statSync(path.join(dir, LAUNCH_FILE)).mode & 0o777).toBe(0o600);
  });

  it('keeps an address that would close the script or the attribute inside them', () => {
    const html = launchPage('http://127.0.0.1:1/#k=x</script><script>alert(1)</script>"><img src=x>');
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).not.toContain('"><img');
  });

  it('is gone once the host stops', async () => {
    const dir = profileDir();
    await writeLaunchFile(dir, URL_WITH_KEY);
    await removeLaunchFile(dir);
    expect(existsSync(path.join(dir, LAUNCH_FILE))).toBe(false);
    await removeLaunchFile(dir); // nothing there: no error
  });
});

describe('the remembered port', () => {
  it('is none before a first launch, then the port of the last launch', async () => {
    const dir = profileDir();
    expect(await rememberedPort(dir)).toBeNull();
    await rememberPort(dir, 41234);
    expect(await rememberedPort(dir)).toBe(41234);
    expect(statSync(path.join(dir, PORT_FILE)).mode & 0o777).toBe(0o600);
    await rememberPort(dir, 41235);
    expect(await rememberedPort(dir)).toBe(41235);
  });

  it.each(['not json', '{}', '{"port":"8080"}', '{"port":80}', '{"port":70000}', '{"port":1234.5}'])('is none for a file holding %s', async (text) => {
    const dir = profileDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, PORT_FILE), text);
    expect(await rememberedPort(dir)).toBeNull();
  });
});

/**
 * Hostile file names (file-names.ts): whatever a peer names a file, the name shown and saved under
 * has no path, no hidden-file dot, no control or bidi characters, no reserved Windows name and at
 * most 255 UTF-8 bytes with its extension; sanitising is idempotent. Executables and scripts are
 * flagged by name or by sniffed type; the type comes from the bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isRisky, MAX_FILE_NAME_BYTES, sanitizeFileName, sniffMediaType } from './file-names.js';

const dir = mkdtempSync(path.join(tmpdir(), 'parley-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sanitizeFileName', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\Windows\\System32\\evil.dll', 'evil.dll'],
    ['..', 'file'],
    ['.bashrc', 'bashrc'],
    ['', 'file'],
    ['report\u202Efdp.exe', 'reportfdp.exe'],
    ['a\u0000b\u0007c\u001b[31m.txt', 'abc[31m.txt'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['com1.jpg', '_com1.jpg'],
    ['what?<is>|this*.txt', 'what__is__this_.txt'],
    ['trailing dots... ', 'trailing dots'],
    ['e\u0301t\u00e9.txt', '\u00e9t\u00e9.txt'],
    ['zero\u200bwidth\ufeff.txt', 'zerowidth.txt'],
  ])('%j → %j', (raw, safe) => {
    expect(sanitizeFileName(raw)).toBe(safe);
  });

  it('a 1,000-character name is cut to 255 UTF-8 bytes at a character boundary, keeping its extension', () => {
    const name = sanitizeFileName(`${'ü'.repeat(1000)}.pdf`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(name.endsWith('.pdf')).toBe(true);
    expect(name.startsWith('üüü')).toBe(true);
    expect(name).not.toContain('\ufffd');
  });

  it('property: any string gives a safe name, and sanitising it again changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (raw) => {
        const safe = sanitizeFileName(raw);
        expect(safe.length).toBeGreaterThan(0);
        expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
        // eslint-disable-next-line no-control-regex -- control characters must be gone
        expect(safe).not.toMatch(/[/\\<>:"|?*\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u);
        expect(safe.startsWith('.')).toBe(false);
        expect(safe).not.toMatch(/^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i);
        expect(sanitizeFileName(safe)).toBe(safe);
      }),
      { numRuns: 500 },
    );
  });
});

describe('types and risk', () => {
  it('the type is sniffed from the bytes, whatever the name says', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4ed0000000049454e44ae426082', 'hex');
    writeFileSync(path.join(dir, 'holiday.pdf'), png);
    expect(await sniffMediaType(path.join(dir, 'holiday.pdf'))).toBe('image/png');
    writeFileSync(path.join(dir, 'photo.jpg'), Buffer.from('MZ\x90\x00 this is not a photo'));
    const exe = await sniffMediaType(path.join(dir, 'photo.jpg'));
    expect(exe).toBe('application/x-msdownload');
    expect(isRisky('photo.jpg', exe)).toBe(true);
    writeFileSync(path.join(dir, 'empty'), Buffer.alloc(0));
    expect(await sniffMediaType(path.join(dir, 'empty'))).toBe('application/octet-stream');
  });

  it('executables and scripts are risky by extension or by sniffed type; documents are not', () => {
    for (const name of ['setup.exe', 'run.sh', 'x.PS1', 'evil.desktop', 'page.html', 'a.jar', 'Script.command']) expect(isRisky(name, 'application/octet-stream'), name).toBe(true);
    expect(isRisky('photo.jpg', 'application/x-msdownload')).toBe(true);
    expect(isRisky('photo.jpg', 'application/x-elf')).toBe(true);
    for (const name of ['report.pdf', 'photo.jpg', 'data.bin', 'notes.txt', 'archive.zip']) expect(isRisky(name, 'application/pdf'), name).toBe(false);
  });
});

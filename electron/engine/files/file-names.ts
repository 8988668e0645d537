/**
 * File names and types from peers are hostile until proven otherwise (issue 13): this module owns
 * turning any name into one that is safe to show and to save under — no path separators or `..`,
 * no control or bidi-override characters (U+202E makes "gpj.exe" look like "exe.jpg"), no reserved
 * Windows names, at most 255 UTF-8 bytes with the extension kept — and sniffing the type from the
 * bytes (`file-type`), never from the peer's claim. Executables and scripts are flagged `risky`: the
 * UI asks before opening one, and nothing is ever opened automatically.
 */
import { fileTypeFromFile } from 'file-type';

/** The longest name, in UTF-8 bytes (common file systems' limit). */
export const MAX_FILE_NAME_BYTES = 255;
const FALLBACK_NAME = 'file';

/** C0/C1 controls, DEL, bidi embeddings/overrides/isolates and marks, zero-width characters, BOM, line/paragraph separators. */
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;
/** Characters Windows refuses in names (and the separators of every platform). */
const FORBIDDEN = /[<>:"/\\|?*]/g;
/** CON, PRN, AUX, NUL, COM1-9, LPT1-9 (and the superscript digits Windows also reserves), with any extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Cuts `s` to at most `bytes` UTF-8 bytes at a code point boundary. */
function cutUtf8(s: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = utf8Length(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/**
 * A name safe to display and to save under, from anything a peer (or a drag-and-drop) names a file.
 * Deterministic; idempotent (sanitising a sanitised name changes nothing).
 */
export function sanitizeFileName(raw: string): string {
  let name = raw.normalize('NFC');
  // The last component of any path, whichever separator it used.
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = name.replace(INVISIBLE, '').replace(FORBIDDEN, '_');
  // Leading dots (hidden files, `..`) and trailing dots or spaces (Windows drops them silently).
  name = name.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '').replace(/\s+/gu, ' ');
  if (RESERVED.test(name)) name = `_${name}`;
  if (utf8Length(name) > MAX_FILE_NAME_BYTES) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    name = cutUtf8(name.slice(0, name.length - ext.length), MAX_FILE_NAME_BYTES - utf8Length(ext)).replace(/[.\s]+$/u, '') + ext;
  }
  return name === '' || name === '_' ? FALLBACK_NAME : name;
}

/** Extensions that run code when opened (Windows, macOS, Linux, scripts). */
const RISKY_EXTENSIONS = new Set([
  'exe', 'com', 'bat', 'cmd', 'scr', 'pif', 'msi', 'msp', 'msc', 'cpl', 'dll', 'sys', 'lnk', 'url', 'reg', 'hta', 'ps1', 'psm1',
  'vbs', 'vbe', 'js', 'jse', 'mjs', 'cjs', 'wsf', 'wsh', 'jar', 'sh', 'bash', 'zsh', 'csh', 'ksh', 'command', 'tool', 'app',
  'pkg', 'dmg', 'deb', 'rpm', 'appimage', 'run', 'desktop', 'py', 'pyw', 'pl', 'rb', 'php', 'applescript', 'scpt',
  'workflow', 'action', 'xpi', 'crx', 'apk', 'iso', 'img', 'svg', 'html', 'htm', 'xhtml', 'shtml', 'mht', 'mhtml', 'chm',
]);

/** Media types of executables and scripts as file-type reports them. */
const RISKY_TYPES = new Set([
  'application/x-msdownload', 'application/x-ms-installer', 'application/x-elf', 'application/x-executable', 'application/x-mach-binary',
  'application/vnd.microsoft.portable-executable', 'application/x-sharedlib', 'application/java-archive', 'application/x-apple-diskimage',
  'application/vnd.debian.binary-package', 'application/x-rpm', 'application/vnd.android.package-archive', 'application/x-shockwave-flash',
  'application/x-xpinstall', 'application/x-google-chrome-extension', 'image/svg+xml', 'text/html',
]);

/** An executable, a script or an active document, by its name or its sniffed type. */
export function isRisky(fileName: string, mediaType: string): boolean {
  const dot = fileName.lastIndexOf('.');
  const ext = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  return RISKY_EXTENSIONS.has(ext) || RISKY_TYPES.has(mediaType);
}

/** The media type sniffed from the file's first bytes ('application/octet-stream' when unknown). */
export async function sniffMediaType(path: string): Promise<string> {
  try {
    return (await fileTypeFromFile(path))?.mime ?? 'application/octet-stream';
  } catch {
    return 'application/octet-stream';
  }
}

/** Images the separate image process re-encodes (stripping metadata) and thumbnails. */
export const STRIPPABLE_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/heic', 'image/avif']);

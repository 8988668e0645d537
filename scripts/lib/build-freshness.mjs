// Whether `npm run build` has to run again (issue 12: `npm run start:browser` rebuilt everything on
// every launch, 8-11 s to a usable screen against 2 s without). The build's inputs are the source
// trees it compiles and the files that configure it; their fingerprint — every file's path, size and
// modification time, hashed — is recorded after a successful build, and the next launch builds only
// when the fingerprint differs or an output is missing. Editing, adding, removing or checking out a
// file changes it; reading does not.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What `npm run build` reads: tsconfig.build.json's trees, the renderer, the build scripts and configuration. */
export const BUILD_INPUT_DIRS = ['shared', 'server', 'electron', 'bench', 'renderer', 'scripts'];
export const BUILD_INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
/** What the build writes and start:browser runs; a missing one forces a build. */
export const BUILD_OUTPUTS = ['dist/electron/browser-host/main.js', 'dist/server/main.js', 'dist/preload/preload.cjs', 'renderer/dist/index.html'];
/** Directories inside the inputs that are outputs, caches or tests, not inputs. */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test-results', 'coverage']);
const isTest = (name) => /\.(test|e2e)\.[cm]?[jt]s$/.test(name);

export const STAMP_FILE = path.join('.cache', 'build-fingerprint.json');

/** Hash of the build's inputs under `root` (path, size and mtime of each file, in a fixed order). */
export function buildFingerprint(root, dirs = BUILD_INPUT_DIRS, files = BUILD_INPUT_FILES) {
  const entries = [];
  const visit = (rel) => {
    let dirents;
    try {
      dirents = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of dirents) {
      if (d.name.startsWith('.') || SKIP_DIRS.has(d.name)) continue;
      const child = path.join(rel, d.name);
      if (d.isDirectory()) visit(child);
      else if (d.isFile() && !isTest(d.name)) entries.push(child);
    }
  };
  for (const dir of dirs) visit(dir);
  for (const file of files) if (existsSync(path.join(root, file))) entries.push(file);
  entries.sort();
  const hash = createHash('sha256');
  for (const rel of entries) {
    const st = statSync(path.join(root, rel));
    hash.update(`${rel.split(path.sep).join('/')}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/** The fingerprint recorded by the last successful build, or null. */
export function recordedFingerprint(root) {
  try {
    const parsed = JSON.parse(readFileSync(path.join(root, STAMP_FILE), 'utf8'));
    return typeof parsed.fingerprint === 'string' ? parsed.fingerprint : null;
  } catch {
    return null;
  }
}

export function recordFingerprint(root, fingerprint) {
  mkdirSync(path.join(root, path.dirname(STAMP_FILE)), { recursive: true });
  writeFileSync(path.join(root, STAMP_FILE), `${JSON.stringify({ fingerprint })}\n`);
}

/** Why a build is needed ('never built here', 'an output is missing', 'sources changed'), or null. */
export function buildNeeded(root, fingerprint = buildFingerprint(root), outputs = BUILD_OUTPUTS) {
  const recorded = recordedFingerprint(root);
  if (recorded === null) return 'no build recorded';
  if (outputs.some((out) => !existsSync(path.join(root, out)))) return 'an output is missing';
  if (recorded !== fingerprint) return 'sources changed';
  return null;
}

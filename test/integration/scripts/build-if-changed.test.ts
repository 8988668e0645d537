/**
 * `npm run start:browser` builds only when the build's inputs changed (issue 12). The real
 * scripts/build-if-changed.mjs runs as a child process in a stand-in project whose `npm run build`
 * counts its runs and writes the outputs start:browser needs; the script finds the project from its
 * own location, as in the repository.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILD_OUTPUTS } from '../../../scripts/lib/build-freshness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function standInProject() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-build-'));
  temps.push(dir);
  mkdirSync(path.join(dir, 'scripts', 'lib'), { recursive: true });
  copyFileSync(path.join(root, 'scripts', 'build-if-changed.mjs'), path.join(dir, 'scripts', 'build-if-changed.mjs'));
  copyFileSync(path.join(root, 'scripts', 'lib', 'build-freshness.mjs'), path.join(dir, 'scripts', 'lib', 'build-freshness.mjs'));
  const build = `
    const fs = require('fs'), path = require('path');
    fs.appendFileSync('builds', 'x');
    if (fs.existsSync('fail-build')) process.exit(1);
    for (const out of ${JSON.stringify(BUILD_OUTPUTS)}) { fs.mkdirSync(path.dirname(out), { recursive: true }); fs.writeFileSync(out, ''); }
  `;
  writeFileSync(path.join(dir, 'build.cjs'), build);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'stand-in', private: true, scripts: { build: 'node build.cjs' } }));
  for (const file of ['shared/a.ts', 'electron/host/b.ts', 'renderer/src/App.svelte', 'shared/a.test.ts']) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), `// ${file}\n`);
  }
  const run = () => spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-if-changed.mjs')], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  const builds = () => (existsSync(path.join(dir, 'builds')) ? readFileSync(path.join(dir, 'builds'), 'utf8').length : 0);
  /** Rewrites a file with new content and a later modification time, as an editor would. */
  const edit = (file: string, content = `// edited ${file}\n`) => {
    writeFileSync(path.join(dir, file), content);
    const later = new Date(Date.now() + 5_000);
    utimesSync(path.join(dir, file), later, later);
  };
  return { dir, run, builds, edit };
}

describe('build-if-changed', () => {
  it('builds the first time, then not again until a source changes', () => {
    const project = standInProject();
    expect(project.run().status).toBe(0);
    expect(project.builds()).toBe(1);
    expect(project.run().status).toBe(0);
    expect(project.builds()).toBe(1);
    project.edit('electron/host/b.ts');
    expect(project.run().stdout).toContain('sources changed');
    expect(project.builds()).toBe(2);
    expect(project.run().status).toBe(0);
    expect(project.builds()).toBe(2);
  });

  it('builds after a file is added or removed, or an output went missing, but not for a test file or an output', () => {
    const project = standInProject();
    project.run();
    project.edit('shared/a.test.ts');
    project.edit(BUILD_OUTPUTS[0]!);
    project.run();
    expect(project.builds()).toBe(1);
    project.edit('renderer/src/New.svelte');
    project.run();
    expect(project.builds()).toBe(2);
    rmSync(path.join(project.dir, 'renderer/src/New.svelte'));
    project.run();
    expect(project.builds()).toBe(3);
    rmSync(path.join(project.dir, BUILD_OUTPUTS[1]!));
    expect(project.run().stdout).toContain('an output is missing');
    expect(project.builds()).toBe(4);
  });

  it('after a failed build, fails and builds again on the next launch', () => {
    const project = standInProject();
    writeFileSync(path.join(project.dir, 'fail-build'), '');
    const failed = project.run();
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('The build failed');
    rmSync(path.join(project.dir, 'fail-build'));
    expect(project.run().status).toBe(0);
    expect(project.builds()).toBe(2);
    project.run();
    expect(project.builds()).toBe(2);
  });
});

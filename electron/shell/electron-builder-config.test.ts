/**
 * electron-builder.yml is loaded the way electron-builder loads it and validated by electron-builder's
 * own validator against its JSON schema (node_modules/app-builder-lib/scheme.json); the settings the
 * security model depends on (fuses, asar, targets, output folder) are pinned. A broken config is
 * shown to fail, so the validation is not vacuous. Packaging itself cannot run here.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type BuilderConfig = Record<string, unknown> & {
  electronFuses?: Record<string, boolean>;
  directories?: { output?: string; buildResources?: string };
  linux?: { target?: string[] };
  mac?: { target?: string[]; entitlements?: string };
  win?: { target?: string[] };
  /** getConfig normalises the list into file sets. */
  files?: { filter: string[] }[];
  asar?: boolean;
  asarUnpack?: string[];
};

const configModule = require('app-builder-lib/out/util/config/config.js') as {
  getConfig(projectDir: string, configPath: string | null): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, debugLogger: { isEnabled: boolean; add(key: string, value: unknown): void }): Promise<void>;
};
const debugLogger = { isEnabled: false, add: () => undefined };
const load = () => configModule.getConfig(root, path.join(root, 'electron-builder.yml'));

describe('electron-builder.yml', () => {
  it("passes electron-builder's schema validation", async () => {
    await expect(configModule.validateConfiguration(await load(), debugLogger)).resolves.toBeUndefined();
  });

  it('the validator rejects a config that breaks the schema (the check is not vacuous)', async () => {
    const config = await load();
    await expect(configModule.validateConfiguration({ ...config, notAnOption: true }, debugLogger)).rejects.toThrow(/notAnOption/);
    await expect(
      configModule.validateConfiguration({ ...config, electronFuses: { ...config.electronFuses, runAsNod: false } }, debugLogger),
    ).rejects.toThrow(/configuration\.electronFuses/);
  });

  it('sets the fuses: RunAsNode off, asar integrity and only-load-from-asar on', async () => {
    const { electronFuses, asar } = await load();
    expect(electronFuses).toMatchObject({
      runAsNode: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      grantFileProtocolExtraPrivileges: false,
    });
    expect(asar).toBe(true);
  });

  it('builds AppImage and deb, dmg, nsis into release/ from resources in build/', async () => {
    const config = await load();
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.mac?.target).toEqual(['dmg']);
    expect(config.win?.target).toEqual(['nsis']);
    expect(config.directories).toEqual({ output: 'release', buildResources: 'build' });
  });

  it("unpacks every native file the image process loads: sharp's .node and the libvips it links (issue 13)", async () => {
    const { asarUnpack = [] } = await load();
    const minimatch = require('minimatch') as (path: string, pattern: string, options?: { dot?: boolean }) => boolean;
    const natives: string[] = [];
    const walk = (rel: string): void => {
      for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const child = `${rel}/${entry.name}`;
        if (entry.isDirectory()) walk(child);
        else if (/\.node$|\.so(\.\d+)*$|\.dylib$|\.dll$/.test(entry.name)) natives.push(child);
      }
    };
    walk('node_modules/@img');
    expect(natives.some((f) => f.endsWith('.node'))).toBe(true);
    expect(natives.some((f) => /libvips.*\.so/.test(f))).toBe(true);
    for (const file of natives) expect(asarUnpack.some((pattern) => minimatch(file, pattern, { dot: true })), file).toBe(true);
    // Not vacuous: the old list left libvips inside the archive.
    expect(natives.every((file) => minimatch(file, '**/*.node', { dot: true }))).toBe(false);
  });

  it('packages the app, not the relay or the sources', async () => {
    const files = ((await load()).files ?? []).flatMap((set) => set.filter);
    expect(files).toContain('dist/electron/**');
    expect(files).toContain('dist/preload/**');
    expect(files).toContain('renderer/dist/**');
    expect(files.some((f) => f.startsWith('dist/server'))).toBe(false);
    expect(files.some((f) => /^(electron|shared|renderer\/src)\//.test(f))).toBe(false);
  });
});

/**
 * Proves that `parley/boundaries` (scripts/eslint/boundaries.js) enforces DESIGN.md §2's dependency
 * direction: each forbidden edge, kept as a fixture in test/fixtures/lint/, is reported when linted
 * under a virtual path inside the repo, and each allowed edge is not. Fixtures are read from disk
 * and passed to ESLint's `lintText`, so they never exist at the paths they pretend to have; eslint
 * and tsconfig both ignore test/fixtures. Svelte components are linted too (eslint-plugin-svelte's
 * parser, TypeScript inside <script lang="ts">): the *.svelte fixtures run as a component path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

type Case = { readonly boundary: string; readonly fixture: string; readonly filePath: string };

const RENDERER_STATE = 'renderer/src/lib/state/fixture.svelte.ts';
const RENDERER_COMPONENT = 'renderer/src/lib/components/Fixture.svelte';

const FORBIDDEN: readonly Case[] = [
  { boundary: 'shared/ importing server/', fixture: 'shared-imports-server.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/ re-exporting server/', fixture: 'shared-reexports-server.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/ importing electron/', fixture: 'shared-imports-electron-dir.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/ importing the electron module (even import type)', fixture: 'shared-imports-electron-module.ts', filePath: 'shared/crypto/fixture.ts' },
  { boundary: 'the renderer importing electron/engine', fixture: 'renderer-imports-engine.ts', filePath: RENDERER_STATE },
  { boundary: 'a renderer value import of shared/crypto', fixture: 'renderer-value-imports-shared-crypto.ts', filePath: RENDERER_STATE },
  { boundary: 'a renderer type import of shared/crypto', fixture: 'renderer-type-imports-shared-crypto.ts', filePath: RENDERER_STATE },
  { boundary: 'a renderer value import of shared/api', fixture: 'renderer-value-imports-shared-api.ts', filePath: RENDERER_STATE },
  { boundary: 'a renderer import of shared/wire mixing a value into type specifiers', fixture: 'renderer-mixed-imports-shared-wire.ts', filePath: RENDERER_STATE },
  { boundary: 'electron/engine importing the electron module (even import type)', fixture: 'engine-type-imports-electron.ts', filePath: 'electron/engine/fixture.ts' },
  { boundary: 'electron/engine importing the electron module dynamically', fixture: 'engine-dynamic-imports-electron.ts', filePath: 'electron/engine/fixture.ts' },
  { boundary: 'electron/browser-host importing the electron module', fixture: 'browser-host-imports-electron.ts', filePath: 'electron/browser-host/fixture.ts' },
  { boundary: 'server/ importing the electron module (even import type)', fixture: 'server-imports-electron-module.ts', filePath: 'server/fixture.ts' },
  { boundary: 'server/ importing electron/', fixture: 'server-imports-electron-dir.ts', filePath: 'server/fixture.ts' },
  { boundary: 'product code (server/) importing shared/testing', fixture: 'product-imports-shared-testing.ts', filePath: 'server/fixture.ts' },
  { boundary: 'a value import of electron from electron/shell/ipc-main.ts', fixture: 'ipc-value-imports-electron.ts', filePath: 'electron/shell/ipc-main.ts' },
  { boundary: 'electron/browser-host importing electron/shell', fixture: 'browser-host-imports-shell.ts', filePath: 'electron/browser-host/fixture.ts' },
  { boundary: 'electron/host importing electron/shell', fixture: 'host-imports-shell.ts', filePath: 'electron/host/fixture.ts' },
  { boundary: 'electron/engine importing electron/host', fixture: 'engine-imports-host.ts', filePath: 'electron/engine/fixture.ts' },
  { boundary: 'a Svelte component importing electron/engine', fixture: 'renderer-component-imports-engine.svelte', filePath: RENDERER_COMPONENT },
  { boundary: 'a Svelte component value import of shared/api', fixture: 'renderer-component-value-imports-shared-api.svelte', filePath: RENDERER_COMPONENT },
];

const ALLOWED: readonly Case[] = [
  { boundary: 'a renderer `import type` from shared/api', fixture: 'renderer-type-imports-shared-api.ts', filePath: RENDERER_STATE },
  { boundary: 'a renderer import of shared/wire whose specifiers are all inline types', fixture: 'renderer-inline-type-imports-shared-wire.ts', filePath: RENDERER_STATE },
  { boundary: 'a value import of electron from electron/shell/main.ts', fixture: 'main-value-imports-electron.ts', filePath: 'electron/shell/main.ts' },
  { boundary: 'a value import of electron from electron/shell/preload.ts', fixture: 'preload-value-imports-electron.ts', filePath: 'electron/shell/preload.ts' },
  { boundary: 'an `import type` of electron from electron/host/security.ts', fixture: 'security-type-imports-electron.ts', filePath: 'electron/host/security.ts' },
  { boundary: 'electron/browser-host importing electron/host', fixture: 'browser-host-imports-host.ts', filePath: 'electron/browser-host/fixture.ts' },
  { boundary: 'a unit test beside product code importing shared/testing', fixture: 'unit-test-imports-shared-testing.ts', filePath: 'server/fixture.test.ts' },
  { boundary: 'an integration test importing shared/testing', fixture: 'integration-test-imports-shared-testing.ts', filePath: 'test/integration/fixture.test.ts' },
  { boundary: 'server/ importing shared/crypto', fixture: 'server-imports-shared-crypto.ts', filePath: 'server/fixture.ts' },
  { boundary: 'a Svelte component `import type` from shared/api', fixture: 'renderer-component-type-imports-shared-api.svelte', filePath: RENDERER_COMPONENT },
];

/** Lints a fixture as if it lived at `filePath` and returns every message ESLint produced. */
async function lintFixture({ fixture, filePath }: Case): Promise<Linter.LintMessage[]> {
  const absolute = path.join(root, filePath);
  // Guard against a vacuous pass: the virtual path must be linted, and with the boundaries rule on.
  expect(await eslint.isPathIgnored(absolute)).toBe(false);
  const config = (await eslint.calculateConfigForFile(absolute)) as { rules?: Record<string, unknown> };
  expect(config.rules?.['parley/boundaries']).toBeDefined();

  const code = readFileSync(path.join(root, 'test/fixtures/lint', fixture), 'utf8');
  const results = await eslint.lintText(code, { filePath: absolute, warnIgnored: true });
  expect(results).toHaveLength(1);
  const messages = results[0]!.messages;
  expect(messages.filter((m) => m.fatal === true)).toEqual([]);
  return messages;
}

describe('parley/boundaries (DESIGN.md §2)', () => {
  it.each(FORBIDDEN)('reports $boundary', async (c) => {
    const messages = await lintFixture(c);
    // Each fixture holds exactly one forbidden import and is otherwise clean under every rule.
    expect(messages.map((m) => m.ruleId)).toEqual(['parley/boundaries']);
    expect(messages[0]!.severity).toBe(2);
  });

  it.each(ALLOWED)('allows $boundary', async (c) => {
    // Nothing at all is reported: no boundary message and no other rule fires on the fixture.
    expect(await lintFixture(c)).toEqual([]);
  });

  it('every fixture in test/fixtures/lint is used by exactly one case', () => {
    const onDisk = readdirSync(path.join(root, 'test/fixtures/lint')).sort();
    const used = [...FORBIDDEN, ...ALLOWED].map((c) => c.fixture).sort();
    expect(used).toEqual(onDisk);
  });
});

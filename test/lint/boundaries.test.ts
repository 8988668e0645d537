/**
 * Proves that `parley/boundaries` (scripts/eslint/boundaries.js) enforces DESIGN.md §2's dependency
 * direction: each forbidden edge, kept as a fixture in test/fixtures/lint/, is reported when linted
 * under a virtual path inside the repo, and each allowed edge is not. Fixtures are read from disk
 * and passed to ESLint's `lintText`, so they never exist at the paths they pretend to have; eslint
 * and tsconfig both ignore test/fixtures. Svelte components are linted too (eslint-plugin-svelte's
 * parser, TypeScript inside <script lang="ts">): the *.svelte fixtures run as a component path.
 * Virtual paths belong to no TypeScript program, so those cases lint without type information.
 *
 * Two more rules: `parley/no-cycle` (scripts/eslint/no-cycle.js) reports a loop of two fixture files
 * linted where they lie, type-only imports included; type-aware `no-floating-promises` reports an
 * unawaited promise in a fixture linted in place of a real file of the Node program.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The repository's config without type information (fixtures are in no TypeScript program). */
const untyped = {
  languageOptions: { parserOptions: { project: null, projectService: false } },
  rules: { '@typescript-eslint/no-floating-promises': 'off' },
} as const;
const eslint = new ESLint({ cwd: root, overrideConfig: untyped });
/** The same, for fixtures linted where they lie (eslint.config.js ignores test/fixtures). */
const inPlace = new ESLint({ cwd: root, overrideConfig: untyped, ignore: false });
/**
 * The repository's config as `npm run lint` runs it — except that typescript-eslint must not infer a
 * single run (it does when CI=true): then it builds each program once and keeps the first text it saw
 * for a file, and the second fixture linted in place of PROGRAM_FILE would be checked against the first.
 */
const typed = new ESLint({
  cwd: root,
  overrideConfig: { languageOptions: { parserOptions: { disallowAutomaticSingleRunInference: true } } },
});

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
  { boundary: 'shared/crypto importing shared/protocol', fixture: 'crypto-imports-protocol.ts', filePath: 'shared/crypto/fixture.ts' },
  { boundary: 'shared/crypto importing shared/api (even import type)', fixture: 'crypto-imports-api.ts', filePath: 'shared/crypto/fixture.ts' },
  { boundary: 'shared/protocol importing shared/wire', fixture: 'protocol-imports-wire.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/protocol importing shared/api', fixture: 'protocol-imports-api.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/wire importing a protocol state machine', fixture: 'wire-imports-protocol-session.ts', filePath: 'shared/wire/fixture.ts' },
  { boundary: 'shared/wire importing shared/api', fixture: 'wire-imports-api.ts', filePath: 'shared/wire/fixture.ts' },
  { boundary: 'shared/api importing shared/crypto', fixture: 'api-imports-crypto.ts', filePath: 'shared/api/fixture.ts' },
  { boundary: 'shared/api importing shared/wire', fixture: 'api-imports-wire.ts', filePath: 'shared/api/fixture.ts' },
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
  { boundary: 'shared/protocol importing shared/crypto', fixture: 'protocol-imports-crypto.ts', filePath: 'shared/protocol/fixture.ts' },
  { boundary: 'shared/wire importing shared/crypto', fixture: 'wire-imports-crypto.ts', filePath: 'shared/wire/fixture.ts' },
  { boundary: 'shared/wire importing shared/protocol/constants.ts', fixture: 'wire-imports-protocol-constants.ts', filePath: 'shared/wire/fixture.ts' },
];

/** Fixtures of the other rules, linted by their own cases below. */
const OTHER_FIXTURES = ['cycle-a.ts', 'cycle-b.ts', 'floating-promise.ts', 'voided-promise.ts'];
/** A file of the Node program (tsconfig.json) whose text the type-aware cases replace. */
const PROGRAM_FILE = 'electron/engine/views.ts';

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
    const used = [...FORBIDDEN, ...ALLOWED].map((c) => c.fixture).concat(OTHER_FIXTURES).sort();
    expect(used).toEqual(onDisk);
  });
});

describe('parley/no-cycle', () => {
  it('reports both imports of a loop, type-only imports included, with the loop they close', async () => {
    const results = await inPlace.lintFiles(['test/fixtures/lint/cycle-a.ts', 'test/fixtures/lint/cycle-b.ts']);
    expect(results.map((r) => r.messages.map((m) => [m.ruleId, m.message]))).toEqual([
      [['parley/no-cycle', 'import cycle: test/fixtures/lint/cycle-a.ts → test/fixtures/lint/cycle-b.ts → test/fixtures/lint/cycle-a.ts']],
      [['parley/no-cycle', 'import cycle: test/fixtures/lint/cycle-b.ts → test/fixtures/lint/cycle-a.ts → test/fixtures/lint/cycle-b.ts']],
    ]);
  });
});

describe('@typescript-eslint/no-floating-promises (type-aware)', () => {
  async function lintInProgram(fixture: string): Promise<Linter.LintMessage[]> {
    const code = readFileSync(path.join(root, 'test/fixtures/lint', fixture), 'utf8');
    const [result] = await typed.lintText(code, { filePath: path.join(root, PROGRAM_FILE) });
    expect(result!.messages.filter((m) => m.fatal === true)).toEqual([]);
    return result!.messages;
  }

  it('reports a promise nobody awaits', async () => {
    expect((await lintInProgram('floating-promise.ts')).map((m) => m.ruleId)).toEqual(['@typescript-eslint/no-floating-promises']);
  });

  it('allows a promise marked `void`', async () => {
    expect(await lintInProgram('voided-promise.ts')).toEqual([]);
  });
});

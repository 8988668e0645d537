/**
 * ESLint rule `parley/boundaries`: the dependency direction of DESIGN.md §2.
 *   shared/    imports none of server/, electron/, renderer/ (and product code never imports shared/testing);
 *              inside it, layers: crypto/ imports nothing of shared/, protocol/ only crypto/, wire/ only
 *              crypto/ and protocol/constants.ts, api/ nothing of shared/ (tests beside the code may
 *              use shared/testing, which may use every layer)
 *   server/    imports shared/ only (not electron/, renderer/)
 *   electron/  imports shared/ only (not server/, renderer/); engine/ and browser-host/ never import `electron`
 *     engine/        is hosted: imports none of host/, shell/, browser-host/
 *     host/          the kit both hosts stand on: imports engine/, never shell/ or browser-host/
 *     browser-host/  imports host/ and engine/, never shell/
 *     shell/         the Electron side: may import host/ and engine/
 *   renderer/  imports only types, and only from shared/api and shared/wire
 *   `electron` values are imported only by electron/shell/main.ts and electron/shell/preload.ts (loading
 *   the module outside Electron starts a binary download).
 * Zones are decided from the resolved path of relative imports, so `../../server/x.js` is caught.
 */
import path from 'node:path';

const ELECTRON_VALUE_ALLOWED = new Set(['electron/shell/main.ts', 'electron/shell/preload.ts']);

/** Inside shared/: what each layer's product code may import of the other layers (zones or files). */
const SHARED_ALLOWED = {
  'shared/crypto': [],
  'shared/protocol': ['shared/crypto'],
  'shared/wire': ['shared/crypto', 'shared/protocol/constants.ts'],
  'shared/api': [],
};
const SHARED_WHY = {
  'shared/crypto': 'shared/crypto imports nothing of shared/',
  'shared/protocol': 'shared/protocol imports only shared/crypto',
  'shared/wire': 'shared/wire imports only shared/crypto and shared/protocol/constants.ts',
  'shared/api': 'shared/api imports nothing of shared/',
};

/** Inside electron/: the folders each folder must not import. */
const ELECTRON_FORBIDDEN = {
  'electron/engine': ['electron/host', 'electron/shell', 'electron/browser-host'],
  'electron/host': ['electron/shell', 'electron/browser-host'],
  'electron/browser-host': ['electron/shell'],
};
const ELECTRON_WHY = {
  'electron/engine': 'the engine is hosted: it imports none of host/, shell/, browser-host/',
  'electron/host': 'host/ is what both hosts stand on: it never imports shell/ or browser-host/',
  'electron/browser-host': 'the browser host stands on host/, never on the Electron shell',
};

function zoneOf(rel) {
  const parts = rel.split('/');
  const [top, sub] = parts;
  if (top === 'shared') return sub === 'testing' ? 'shared/testing' : `shared/${sub ?? ''}`;
  if (top === 'electron') {
    if (sub === 'engine' || sub === 'browser-host' || sub === 'host' || sub === 'shell') return `electron/${sub}`;
    return 'electron';
  }
  if (top === 'server' || top === 'renderer') return top;
  return 'other';
}

function isTestFile(rel) {
  return /\.(test|e2e)\.ts$/.test(rel) || rel.startsWith('test/');
}

export const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the dependency direction of DESIGN.md §2' },
    schema: [],
    messages: {
      forbidden: '{{from}} must not import {{to}} ({{why}})',
    },
  },
  create(context) {
    const root = context.cwd;
    const file = path.relative(root, context.filename).split(path.sep).join('/');
    if (file.startsWith('..')) return {};
    const fromZone = zoneOf(file);
    const fromTop = fromZone.split('/')[0];

    function check(node, source, typeOnly) {
      if (typeof source !== 'string') return;
      const report = (to, why) =>
        context.report({ node, messageId: 'forbidden', data: { from: file, to: source, why } });

      if (source === 'electron' || source.startsWith('electron/')) {
        if (fromZone === 'electron/engine' || fromZone === 'electron/browser-host') {
          return report(source, 'the engine and browser host run in plain Node and never import electron');
        }
        if (fromTop === 'renderer' || fromTop === 'shared' || fromTop === 'server') {
          return report(source, 'only the Electron main process and preload may use electron');
        }
        if (!typeOnly && !ELECTRON_VALUE_ALLOWED.has(file)) {
          return report(source, 'loading electron outside the Electron process downloads a binary; use `import type` and inject the objects');
        }
        return;
      }
      if (!source.startsWith('.')) return;
      const target = path
        .relative(root, path.resolve(path.dirname(context.filename), source))
        .split(path.sep)
        .join('/');
      const toZone = zoneOf(target);
      const toTop = toZone.split('/')[0];

      if (fromTop === 'renderer') {
        if (toTop === 'renderer' || toTop === 'other') return;
        if ((toZone === 'shared/api' || toZone === 'shared/wire') && typeOnly) return;
        if (toZone === 'shared/api' || toZone === 'shared/wire') {
          return report(target, 'the renderer may import only types from shared/api and shared/wire');
        }
        return report(target, 'the renderer reaches the engine only through the bridge');
      }
      if (toZone === 'shared/testing' && fromZone !== 'shared/testing' && fromZone !== 'other' && !isTestFile(file)) {
        return report(target, 'shared/testing is for tests only');
      }
      if (fromTop === 'shared' && (toTop === 'server' || toTop === 'electron' || toTop === 'renderer')) {
        return report(target, 'shared/ imports none of server/, electron/, renderer/');
      }
      const sharedAllowed = SHARED_ALLOWED[fromZone];
      if (sharedAllowed && toTop === 'shared' && toZone !== fromZone && toZone !== 'shared/testing' && !isTestFile(file)) {
        if (!sharedAllowed.includes(toZone) && !sharedAllowed.includes(target.replace(/\.js$/, '.ts'))) return report(target, SHARED_WHY[fromZone]);
      }
      if (fromTop === 'server' && (toTop === 'electron' || toTop === 'renderer')) {
        return report(target, 'server/ imports only shared/');
      }
      if (fromTop === 'electron' && (toTop === 'server' || toTop === 'renderer')) {
        return report(target, 'electron/ imports only shared/');
      }
      if (ELECTRON_FORBIDDEN[fromZone]?.includes(toZone)) {
        return report(target, ELECTRON_WHY[fromZone]);
      }
    }

    const allTypeSpecifiers = (node) =>
      node.specifiers.length > 0 && node.specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');

    return {
      ImportDeclaration(node) {
        check(node, node.source.value, node.importKind === 'type' || allTypeSpecifiers(node));
      },
      ExportNamedDeclaration(node) {
        if (node.source) check(node, node.source.value, node.exportKind === 'type' || allTypeSpecifiers(node));
      },
      ExportAllDeclaration(node) {
        check(node, node.source.value, node.exportKind === 'type');
      },
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node, node.source.value, false);
      },
      TSImportType(node) {
        const arg = node.argument;
        const lit = arg?.type === 'TSLiteralType' ? arg.literal : arg;
        if (lit?.type === 'Literal') check(node, lit.value, true);
      },
      CallExpression(node) {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
          check(node, node.arguments[0].value, false);
        }
      },
    };
  },
};


/**
 * ESLint rule `parley/no-cycle`: no module may reach itself through its imports (DESIGN §2: the
 * import graph runs one way, every module stands on the ones below it). Unlike import-x/no-cycle,
 * type-only imports count: a loop of `import type` is still two modules that cannot be read, moved or
 * split apart (issue 11 closed one such loop in server/store/migrations).
 *
 * The graph is read from disk once per lint run: each source file's module specifiers come from
 * TypeScript's import scanner (`ts.preProcessFile`: imports, re-exports, `import()`, `require`,
 * `import type`), and only relative specifiers inside the repository are followed (`.js` resolves to
 * the `.ts` beside it). The linted file's own edges come from its AST, so an unsaved edit counts.
 * Each import that leads back is reported with the loop it closes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SOURCE = /\.(ts|mts|js|mjs|svelte)$/;

/** file → { mtimeMs, targets } ; reset when a file changes on disk. */
const edgesCache = new Map();

function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const base = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [];
  if (/\.js$/.test(base)) candidates.push(base.replace(/\.js$/, '.ts'), base);
  else if (/\.mjs$/.test(base)) candidates.push(base.replace(/\.mjs$/, '.mts'), base);
  else if (SOURCE.test(base)) candidates.push(base);
  else candidates.push(`${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js'));
  for (const candidate of candidates) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The relative specifiers of a file's text (for .svelte, of its script blocks). */
function specifiersOf(file, text) {
  const code = file.endsWith('.svelte') ? [...text.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n') : text;
  return ts.preProcessFile(code, true, true).importedFiles.map((f) => f.fileName);
}

function edgesFromDisk(file) {
  let mtimeMs;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return [];
  }
  const cached = edgesCache.get(file);
  if (cached && cached.mtimeMs === mtimeMs) return cached.targets;
  const targets = [];
  for (const specifier of specifiersOf(file, readFileSync(file, 'utf8'))) {
    const target = resolveSpecifier(file, specifier);
    if (target && !target.includes(`${path.sep}node_modules${path.sep}`)) targets.push(target);
  }
  edgesCache.set(file, { mtimeMs, targets });
  return targets;
}

/** A path of files from `start` back to `goal` (inclusive), or null. */
function pathBack(start, goal) {
  if (start === goal) return [start];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const next of edgesFromDisk(file)) {
      if (previous.has(next)) continue;
      previous.set(next, file);
      if (next === goal) {
        const route = [];
        for (let at = next; at !== null; at = previous.get(at)) route.unshift(at);
        return route;
      }
      queue.push(next);
    }
  }
  return null;
}

export const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles, type-only imports included' },
    schema: [],
    messages: { cycle: 'import cycle: {{route}}' },
  },
  create(context) {
    const file = context.filename;
    if (!SOURCE.test(file) || !existsSync(path.dirname(file))) return {};
    const root = context.cwd;
    const rel = (f) => path.relative(root, f).split(path.sep).join('/');
    function check(node, source) {
      if (typeof source !== 'string') return;
      const target = resolveSpecifier(file, source);
      if (target === null) return;
      const route = pathBack(target, file);
      if (route === null) return;
      context.report({ node, messageId: 'cycle', data: { route: [file, ...route].map(rel).join(' → ') } });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

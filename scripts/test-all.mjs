#!/usr/bin/env node
// `npm test`: build, typecheck, lint and every test suite, each stage run even if an earlier one
// failed. Prints the skipped tests, then the total `N passed, N failed` as the last line (also
// written to test-results/total.txt for .ci/run). Typecheck and lint count as one test each; the
// build counts as one test too (nothing else can pass without it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const results = path.join(root, 'test-results');
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

let passed = 0;
let failed = 0;
const skipped = [];
const failures = [];

function run(label, cmd, args, env = {}) {
  console.log(`\n=== ${label}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function stage(label, cmd, args) {
  const ok = run(label, cmd, args);
  if (ok) passed++;
  else {
    failed++;
    failures.push(label);
  }
  return ok;
}

/** Counts a vitest JSON report; a suite that produced no report counts as one failure. */
function countVitest(label, file, ok) {
  if (!existsSync(file)) {
    failed++;
    failures.push(`${label} (no report)`);
    return;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  let suiteFailures = 0;
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
      // a file that failed to load has no test results
      failed++;
      suiteFailures++;
      failures.push(`${label}: ${path.relative(root, suite.name)} (failed to load)`);
    }
    for (const t of suite.assertionResults ?? []) {
      const name = `${path.relative(root, suite.name)} > ${t.fullName ?? t.title}`;
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') {
        failed++;
        suiteFailures++;
        failures.push(name);
      } else skipped.push(`${name} (${t.status})`);
    }
  }
  if (!ok && suiteFailures === 0) {
    failed++;
    failures.push(`${label} (exited non-zero)`);
  }
}

// Every suite runs in a random order (files and the tests inside them), so a test that leans on
// another's leftovers fails; the seed is printed, and PARLEY_TEST_SEED=N replays an order.
const seed = Number(process.env.PARLEY_TEST_SEED) || Math.floor(Math.random() * 2 ** 31);
console.log(`vitest order: --sequence.shuffle --sequence.seed=${seed} (replay: PARLEY_TEST_SEED=${seed} npm test)`);

function vitest(label, project, wrapper) {
  const out = path.join(results, `vitest-${project}.json`);
  const args = ['vitest', 'run', '--project', project, '--sequence.shuffle', `--sequence.seed=${seed}`, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, '--passWithNoTests'];
  const ok = wrapper ? run(label, 'bash', [wrapper, 'npx', ...args]) : run(label, 'npx', args);
  countVitest(label, out, ok);
}

/** Counts a Playwright JSON report. */
function countPlaywright(file, ok) {
  if (!existsSync(file)) {
    failed++;
    failures.push('playwright (no report)');
    return;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  let any = 0;
  const walk = (suite, prefix) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        const name = `${prefix}${spec.title} [${t.projectName}]`;
        const status = t.status; // expected | unexpected | flaky | skipped
        if (status === 'skipped') {
          const reason = (t.annotations ?? []).map((a) => a.description).filter(Boolean).join('; ');
          skipped.push(`${name}${reason ? ` — ${reason}` : ''}`);
        } else if (status === 'expected') passed++;
        else {
          failed++;
          any++;
          failures.push(name);
        }
      }
    }
    for (const s of suite.suites ?? []) walk(s, `${prefix}${s.title} > `);
  };
  for (const s of report.suites ?? []) walk(s, '');
  if (!ok && any === 0) {
    failed++;
    failures.push('playwright (exited non-zero)');
  }
}

const built = stage('build', 'npm', ['run', '--silent', 'build']);
stage('typecheck', 'npm', ['run', '--silent', 'typecheck']);
stage('lint', 'npm', ['run', '--silent', 'lint']);
if (built) {
  vitest('vitest main', 'main');
  vitest('vitest renderer', 'renderer');
  vitest('vitest keychain', 'keychain', 'scripts/with-keyring.sh');
  vitest('vitest services', 'services', 'scripts/with-services.sh');
  vitest('vitest formal', 'formal');
  if (existsSync(path.join(root, 'playwright.config.ts'))) {
    const out = path.join(results, 'playwright.json');
    // Under a private Secret Service: browser hosts keep their database keys in the OS keychain (one
    // spec removes the bus to take the passphrase path).
    const ok = run('playwright', 'bash', ['scripts/with-keyring.sh', 'npx', 'playwright', 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: out });
    countPlaywright(out, ok);
  }
}

console.log('');
if (failures.length) {
  console.log(`failed (${failures.length}):`);
  for (const f of failures) console.log(`  ✗ ${f}`);
}
const total = `${passed} passed, ${failed} failed`;
writeFileSync(path.join(results, 'total.txt'), `${total}\n`);
console.log(`skipped (${skipped.length}): ${skipped.length ? '\n  ' + skipped.join('\n  ') : 'none'}`);
console.log(total);
process.exit(failed === 0 ? 0 : 1);

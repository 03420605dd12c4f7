#!/usr/bin/env node
// Runs the compiled tests of every package with node's test runner, in one run so one summary closes it.
//   node scripts/test.mjs [fast|slow|all] [FILTER]
// Slow tests (Chromium, SIGKILL, full-data, fresh installs from tarballs) are named *.slow.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const [which = 'all', filter = ''] = process.argv.slice(2);
if (!['fast', 'slow', 'all'].includes(which)) {
  console.error('usage: node scripts/test.mjs [fast|slow|all] [FILTER]');
  process.exit(2);
}
const testDirs = readdirSync('packages').map((p) => join('packages', p, 'dist', 'test'));
const files = testDirs
  .flatMap((dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f))))
  .filter((f) => f.endsWith('.test.js') && f.includes(filter))
  // only tests whose source still exists: tsc leaves the output of a renamed or deleted test behind
  .filter((f) => existsSync(f.replace(`${join('dist', 'test')}`, 'test').replace(/\.js$/, '.ts')))
  .filter((f) => which === 'all' || f.endsWith('.slow.test.js') === (which === 'slow'))
  .sort();
if (files.length === 0) {
  console.error(`no ${which} tests match "${filter}"; run npm run build first`);
  process.exit(1);
}
// The fast set runs two files at a time even on 2 cores (node's default is cores − 1): many of its tests wait
// on child processes (the CLI, onnxruntime sessions); measured 6.5 → 4.6 min on an idle 2-core machine.
// `all` and `slow` keep node's default (one file at a time here): their SIGKILL, Chromium and training tests
// have not been checked two at a time.
const concurrency = which === 'fast' ? [`--test-concurrency=${Math.max(2, availableParallelism() - 1)}`] : [];
const result = spawnSync(process.execPath, ['--test', ...concurrency, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);

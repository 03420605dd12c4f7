/** The package as published: entry points per environment, and what its builds may import. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE } from './helpers.js';

test('package.json exports pick the node adapter in Node and the web adapter for browsers', () => {
  const resolve = (conditions: string[]) =>
    execFileSync(
      process.execPath,
      [...conditions, '--input-type=module', '-e', "console.log(import.meta.resolve('@ganport/runtime'))"],
      {
        cwd: PACKAGE,
        encoding: 'utf8',
      },
    ).trim();
  assert.match(resolve([]), /\/dist\/src\/node\.js$/);
  assert.match(resolve(['--conditions=browser']), /\/dist\/src\/web\.js$/);
});

test('the runtime never imports tfjs, and the web build imports no Node built-ins', () => {
  const dir = join(PACKAGE, 'dist', 'src');
  const imports = (file: string) =>
    [
      ...readFileSync(join(dir, file), 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*from\s*['"]([^'"]+)['"]/g),
    ].map((m) => m[1]);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    assert.ok(!imports(file).some((s) => s.startsWith('@tensorflow')), `${file} imports tfjs`);
  }
  // everything web.js reaches, transitively
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of imports(file)) {
      assert.ok(!spec.startsWith('node:'), `${file} (reached from web.js) imports ${spec}`);
      if (spec.startsWith('./')) visit(spec.slice(2));
    }
  };
  visit('web.js');
  assert.ok(seen.has('core.js') && seen.has('sampler.js'));
});

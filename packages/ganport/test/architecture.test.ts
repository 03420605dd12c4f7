/**
 * The folder map stays a one-way street: no import cycle between src/ folders, no command importing another;
 * and what ships (src/) imports only the packages an installed ganport has.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');

/** Every .ts file under src/ and the src/-relative files it imports. */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.startsWith(join('demo', 'site')));
  return new Map(
    files.map((file) => {
      const source = readFileSync(join(SRC, file), 'utf8');
      const specs = [...source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
      return [file, specs.map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'))];
    }),
  );
}

/** src/train/step.ts → 'train'; files directly in src/ are their own unit. */
const folderOf = (file: string) => (file.includes('/') ? file.split('/')[0] : file);

function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

test('no import cycle between the folders of src/', () => {
  const edges = new Map<string, Set<string>>();
  for (const [file, imports] of importGraph()) {
    for (const target of imports) {
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  assert.ok(edges.size > 5, 'the graph was read');
  assert.equal(findCycle(edges)?.join(' → '), undefined);
});

test('the cycle finder finds a cycle', () => {
  const edges = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a'])],
  ]);
  assert.deepEqual(findCycle(edges), ['a', 'b', 'c', 'a']);
});

test('CLI commands import no sibling command', () => {
  for (const [file, imports] of importGraph()) {
    if (!file.startsWith(join('cli', 'commands'))) continue;
    const siblings = imports.filter((target) => dirname(target) === dirname(file));
    assert.deepEqual(siblings, [], `${relative(SRC, join(SRC, file))} imports ${siblings.join(', ')}`);
  }
});

/** The npm packages a source file imports (bare specifiers, reduced to the package name; node: built-ins left out). */
function packagesImported(source: string): string[] {
  const specs = [...source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'([^.'/\n][^'\n]*)'/gm)].map((m) => m[1]);
  return specs
    .filter((s) => !s.startsWith('node:') && !s.startsWith('/'))
    .map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

test('src/ imports only dependencies an installed ganport has (build tools such as vite stay in scripts/)', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const installed = new Set([
    'ganport', // its own exports
    ...Object.keys(manifest.dependencies),
    ...Object.keys(manifest.optionalDependencies),
    ...Object.keys(manifest.peerDependencies), // the user's to install: tfjs-node(-gpu)
  ]);
  const foreign: string[] = [];
  for (const file of importGraph().keys()) {
    for (const pkg of packagesImported(readFileSync(join(SRC, file), 'utf8'))) {
      if (!installed.has(pkg)) foreign.push(`${file} imports ${pkg}`);
    }
  }
  assert.deepEqual(foreign, []);
  // their installs download libtensorflow from outside npm: optional peers, never installed by default
  for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    assert.equal(manifest.peerDependenciesMeta[name]?.optional, true, name);
    assert.ok(!(name in manifest.dependencies) && !(name in manifest.optionalDependencies), name);
  }
  assert.deepEqual(packagesImported("import { build } from 'vite';\nimport x from '@a/b/c';"), ['vite', '@a/b']);
});

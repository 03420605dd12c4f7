/**
 * The packages as users install them: `npm pack` tarballs of @ganport/runtime and ganport installed
 * into fresh copies of the example apps (examples/), then built and run there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as node from '@ganport/runtime';
import { PNG } from 'pngjs';
import { installExample, type PackedPackage, packWorkspace } from '../bench/fresh-app.js';
import { runtimeBundleSize } from '../bench/package-size.js';
import { openBrowserSession } from '../src/parity/browser.js';
import { SHIPPED_MODEL_DIR, tempDir } from './helpers.js';

const SHIPPED_GENERATOR = join(SHIPPED_MODEL_DIR, 'generator.onnx');
let packs: Map<string, PackedPackage>;

before(() => {
  packs = packWorkspace();
});

test('@ganport/runtime packs small: compiled src only, ≤ 50 kB unpacked, onnxruntime as optional peers', () => {
  const runtime = packs.get('@ganport/runtime')!;
  assert.ok(runtime.unpackedBytes <= 50_000, `${runtime.unpackedBytes} bytes unpacked`);
  const files = execFileSync('tar', ['tzf', runtime.tarball], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(
    files.every((f) => f === 'package/package.json' || /^package\/dist\/src\/[a-z-]+\.(js|d\.ts)$/.test(f)),
    files.join(' '),
  );
  const manifest = JSON.parse(
    execFileSync('tar', ['xzOf', runtime.tarball, 'package/package.json'], { encoding: 'utf8' }),
  );
  assert.equal(manifest.dependencies, undefined, 'no dependencies of its own');
  assert.deepEqual(manifest.peerDependenciesMeta, {
    'onnxruntime-node': { optional: true },
    'onnxruntime-web': { optional: true },
  });
});

test('a Node script with @ganport/runtime + onnxruntime-node writes a grid of latent interpolations', () => {
  const app = installExample('node', packs);
  assert.ok(!existsSync(join(app, 'node_modules', '@tensorflow')), 'no tfjs installed');
  assert.ok(!existsSync(join(app, 'node_modules', 'onnxruntime-web')), 'no onnxruntime-web installed');
  const out = join(app, 'grid.png');
  const stdout = execFileSync(process.execPath, ['generate.mjs', SHIPPED_GENERATOR, out], {
    cwd: app,
    encoding: 'utf8',
  });
  assert.match(stdout, /provider cpu/);
  const png = PNG.sync.read(readFileSync(out));
  assert.equal(png.width, 8 * 56 + 9 * 2);
});

test('a web app with @ganport/runtime + onnxruntime-web, bundled by vite, draws in Chromium what the Node runtime draws', async () => {
  const app = installExample('web', packs);
  assert.ok(!existsSync(join(app, 'node_modules', '@tensorflow')), 'no tfjs installed');
  assert.ok(!existsSync(join(app, 'node_modules', 'onnxruntime-node')), 'no onnxruntime-node installed');
  mkdirSync(join(app, 'public'));
  copyFileSync(SHIPPED_GENERATOR, join(app, 'public', 'generator.onnx'));
  execFileSync(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], {
    cwd: app,
    encoding: 'utf8',
  });

  const session = await openBrowserSession({ site: { dir: join(app, 'dist'), page: 'index.html' } });
  try {
    const rendered = () => /^seed 1 · /.test(document.querySelector('#status')?.textContent ?? '');
    await session.page.waitForFunction(rendered, null, { timeout: 60_000 }).catch(() => {
      throw new Error(`the example page did not render: ${session.pageErrors.join('; ')}`);
    });
    const canvas = await session.page.evaluate(() => {
      const c = document.querySelector('canvas')!;
      const pixels = Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
      return { width: c.width, height: c.height, pixels };
    });
    const generator = await node.loadGenerator(SHIPPED_GENERATOR);
    const expected = await generator.generateGrid({ seed: 1, count: 64, scale: 2 });
    await generator.dispose();
    assert.deepEqual([canvas.width, canvas.height], [expected.width, expected.height]);
    assert.ok(new Set(canvas.pixels).size > 50, 'the canvas is not blank');
    const differing = canvas.pixels.filter((p, i) => Math.abs(p - expected.pixels[i]) > 1).length;
    assert.equal(differing, 0, 'pixels equal the Node runtime’s, within one level of rounding');
  } finally {
    await session.close();
  }
});

test('a TypeScript app imports ganport’s library API typed, trains, exports, evaluates and runs a generator', () => {
  const app = installExample('library', packs);
  execFileSync(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app, encoding: 'utf8' });
  const work = tempDir();
  const stdout = execFileSync(process.execPath, ['dist/train-export-run.js', work], { cwd: app, encoding: 'utf8' });
  assert.match(stdout, /^trained 16 steps on (wasm|ort|cpu)/m);
  assert.match(stdout, /^exported .*generator\.onnx, .*discriminator\.onnx$/m);
  assert.match(stdout, /^modes captured: [\d.]+ of 25$/m);
  assert.match(stdout, /^converted one tfjs model: \d+ bytes$/m);
  assert.match(stdout, /^generated 4 points with cpu: /m);
});

test('the runtime’s own browser bundle (ONNX Runtime excluded) stays small', async () => {
  const { gzipped } = await runtimeBundleSize();
  assert.ok(gzipped > 1000 && gzipped < 15 * 1024, `${gzipped} bytes gzipped`);
});

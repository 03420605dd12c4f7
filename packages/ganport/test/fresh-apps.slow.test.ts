/** The example apps, built and run the way a user would: through the package's published entry points. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { PNG } from 'pngjs';
import { runtimeBundleSize } from '../bench/bundle-size.js';
import { openBrowserSession } from '../src/parity/browser.js';
import * as node from '@ganport/runtime';
import { ROOT, SHIPPED_MODEL_DIR, tempDir } from './helpers.js';

test('the Node example writes a grid of latent interpolations', () => {
  const out = join(tempDir(), 'grid.png');
  const stdout = execFileSync(process.execPath, [join(ROOT, 'examples', 'node', 'generate.mjs'), join(SHIPPED_MODEL_DIR, 'generator.onnx'), out], { encoding: 'utf8' });
  assert.match(stdout, /provider cpu/);
  const png = PNG.sync.read(readFileSync(out));
  assert.equal(png.width, 8 * 56 + 9 * 2);
});

test('the web example, bundled by esbuild from ganport/runtime, draws in Chromium exactly what the Node runtime draws', async () => {
  const site = tempDir();
  await build({ entryPoints: [join(ROOT, 'examples', 'web', 'main.js')], bundle: true, format: 'esm', platform: 'browser', outfile: join(site, 'bundle.js'), logLevel: 'silent' });
  copyFileSync(join(ROOT, 'examples', 'web', 'index.html'), join(site, 'index.html'));
  copyFileSync(join(SHIPPED_MODEL_DIR, 'generator.onnx'), join(site, 'generator.onnx'));
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  for (const f of readdirSync(ortDist).filter((f) => /^ort-wasm.*\.(wasm|mjs)$/.test(f))) copyFileSync(join(ortDist, f), join(site, f));

  const session = await openBrowserSession({ site: { dir: site, page: 'index.html' } });
  try {
    await session.page.waitForFunction(() => /^seed 1 · /.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: 60_000 }).catch(() => {
      throw new Error(`the example page did not render: ${session.pageErrors.join('; ')}`);
    });
    const canvas = await session.page.evaluate(() => {
      const c = document.querySelector('canvas')!;
      return { width: c.width, height: c.height, pixels: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
    });
    const generator = await node.loadGenerator(join(SHIPPED_MODEL_DIR, 'generator.onnx'));
    const expected = await generator.generateGrid({ seed: 1, count: 64, scale: 2 });
    await generator.dispose();
    assert.equal(canvas.width, expected.width);
    assert.equal(canvas.height, expected.height);
    assert.ok(new Set(canvas.pixels).size > 50, 'the canvas is not blank');
    let differing = 0;
    for (let i = 0; i < canvas.pixels.length; i++) if (Math.abs(canvas.pixels[i] - expected.pixels[i]) > 1) differing++;
    assert.equal(differing, 0, 'pixels equal the Node runtime’s, within one level of rounding');
  } finally {
    await session.close();
  }
});

test('the runtime’s own browser bundle (ONNX Runtime excluded) stays small', async () => {
  const { gzipped } = await runtimeBundleSize();
  assert.ok(gzipped > 1000 && gzipped < 15 * 1024, `${gzipped} bytes gzipped`);
});

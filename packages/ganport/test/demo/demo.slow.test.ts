/** `ganport demo` in Chromium: the page loads the shipped models, generates, and draws what the Node runtime draws. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as node from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { Page } from 'playwright-core';
import { modelToBytes } from '../../src/export/index.js';
import { openBrowserSession } from '../../src/parity/browser.js';
import { ROOT, runCli, SHIPPED_MODEL_DIR, tempDir } from '../helpers.js';

type DemoWindow = { demoState: { animation?: number; generator?: node.Generator } };

/** `ganport demo --port 0 ...args` in a child process, and its page's URL. */
async function startDemo(...args: string[]): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const server = spawn(process.execPath, [join(ROOT, 'bin', 'ganport.js'), 'demo', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /ganport demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`ganport demo exited with ${code}`)));
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const stop = () => {
    server.kill('SIGTERM');
    return exited;
  };
  return { url, stop };
}

test('the demo page generates in Chromium and matches the Node runtime pixel for pixel', async () => {
  const demo = await startDemo();
  try {
    const session = await openBrowserSession({ url: demo.url });
    try {
      const { page } = session;
      const rendered = () =>
        page.waitForFunction(() => /^seed \d+ · /.test(document.querySelector('#status')?.textContent ?? ''), null, {
          timeout: 60_000,
        });
      await rendered();
      assert.ok((await page.locator('#model option').allTextContents()).includes('seed-mlp'));
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.selectOption('#model', { label: 'seed-mlp' });
      await rendered();
      await page.fill('#seed', '7');
      await page.fill('#count', '16');
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.click('#generate');
      await rendered();
      assert.match((await page.textContent('#status'))!, /^seed 7 · 16 images · (wasm|webgpu).* ms per batch$/);
      const canvas = await page.evaluate(() => {
        const c = document.querySelector('canvas')!;
        return {
          width: c.width,
          height: c.height,
          pixels: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
        };
      });
      const generator = await node.loadGenerator(join(SHIPPED_MODEL_DIR, 'generator.onnx'));
      const expected = await generator.generateGrid({ seed: 7, count: 16, scale: 2 });
      await generator.dispose();
      assert.deepEqual([canvas.width, canvas.height], [expected.width, expected.height]);
      assert.ok(new Set(canvas.pixels).size > 50, 'the canvas is not blank');
      const differing = canvas.pixels.filter((v, i) => Math.abs(v - expected.pixels[i]) > 1).length;
      assert.equal(differing, 0);

      // a conditional model shows the class picker, and with all classes one row per class: the 16
      // asked for become 2 of each of the 10 classes, 2 columns by 10 rows, each row its class
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.selectOption('#model', { label: 'cdcgan' });
      await rendered();
      assert.match((await page.textContent('#status'))!, /^seed 7 · 20 images · /);
      const byClass = await page.evaluate(() => {
        const c = document.querySelector('canvas')!;
        return { width: c.width, height: c.height };
      });
      const [tile, pad] = [28 * 2, 2];
      assert.deepEqual(byClass, { width: 2 * tile + 3 * pad, height: 10 * tile + 11 * pad });
      assert.equal(await page.isVisible('#class'), true);
      assert.equal(await page.locator('#class option').count(), 11);
      await page.selectOption('#class', '3');
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.click('#generate');
      await rendered();
      const conditional = await page.evaluate(() => {
        const c = document.querySelector('canvas')!;
        return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
      });
      const cdcgan = await node.loadGenerator(join(SHIPPED_MODEL_DIR, '..', 'cdcgan', 'generator.onnx'));
      const expectedClass = await cdcgan.generateGrid({ seed: 7, count: 16, labels: [3], scale: 2 });
      await cdcgan.dispose();
      assert.equal(conditional.length, expectedClass.pixels.length);
      assert.equal(conditional.filter((v, i) => Math.abs(v - expectedClass.pixels[i]) > 1).length, 0);
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.selectOption('#model', { label: 'seed-mlp' });
      await rendered();

      const download = page.waitForEvent('download');
      await page.click('#download');
      assert.match((await download).suggestedFilename(), /^ganport-seed-mlp-seed7\.png$/);
      await page.click('#animate');
      await page.waitForFunction(
        () => /^interpolating seed 7 → 8 · frame [1-9]/.test(document.querySelector('#status')?.textContent ?? ''),
        null,
        { timeout: 30_000 },
      );
      // a download in an animation names the frame it holds
      const frame = page.waitForEvent('download');
      await page.click('#download');
      assert.match((await frame).suggestedFilename(), /^ganport-seed-mlp-seed7-to-8-frame\d+\.png$/);
      await page.click('#animate'); // stops it

      // a truncation the runtime takes is one the form takes; bad input is shown, not thrown
      await page.fill('#truncation', '0.25');
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.click('#generate');
      await rendered();
      // the form's own checks hold for Animate too: nothing starts, the field says why
      await page.fill('#count', '0');
      await page.click('#animate');
      assert.equal(await page.evaluate(() => (window as unknown as DemoWindow).demoState.animation), undefined);
      assert.equal(await page.locator('#count:invalid').count(), 1);
      await page.fill('#count', '16');

      // picked one after the other, the second model is the one loaded, whichever load ends first
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.selectOption('#model', { label: 'cdcgan' });
      await page.selectOption('#model', { label: 'seed-mlp' });
      await rendered();
      await page.waitForTimeout(1000); // time for the overtaken cdcgan load to finish too
      const classes = await page.evaluate(
        () => (window as unknown as { demoState: { generator?: node.Generator } }).demoState.generator?.info.numClasses,
      );
      assert.equal(classes, undefined, 'seed-mlp, not cdcgan');
      assert.deepEqual(session.pageErrors, []);
    } finally {
      await session.close();
    }
  } finally {
    assert.equal(await demo.stop(), 0, 'the demo server stops cleanly on SIGTERM');
  }
});

test('ganport demo reports a busy port and a missing models directory', async () => {
  const missing = runCli(['demo', '--models', '/no/such/dir']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /models directory \/no\/such\/dir does not exist/);
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const port = (blocker.address() as { port: number }).port;
    const busy = runCli(['demo', '--port', String(port)]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  } finally {
    blocker.close();
  }
});

test('on WebGPU, overlapping requests run one after another: double submits, Generate during an animation, a model picked mid-run', async () => {
  const demo = await startDemo();
  try {
    const session = await openBrowserSession({ url: demo.url, webgpu: true });
    try {
      const { page } = session;
      const status = () => page.textContent('#status');
      const settled = (pattern: RegExp) =>
        page.waitForFunction(
          (source) => new RegExp(source).test(document.querySelector('#status')?.textContent ?? ''),
          pattern.source,
          {
            timeout: 60_000,
          },
        );
      await settled(/^seed \d+ · |^error: /);
      assert.match((await status())!, / · webgpu · /, 'the page runs on WebGPU (SwiftShader here)');
      await page.selectOption('#model', { label: 'seed-mlp' });
      await settled(/^seed \d+ · |^error: /);
      // two submits at once: a WebGPU session run twice at once failed ("Session already started")
      await page.fill('#seed', '3');
      await page.evaluate(() => {
        const form = document.querySelector<HTMLFormElement>('#controls')!;
        document.querySelector('#status')!.textContent = '';
        form.requestSubmit();
        form.requestSubmit();
      });
      await settled(/^seed 3 · |^error: /);
      assert.match((await status())!, /^seed 3 · /);
      // Generate during an animation stops it and draws the form's grid
      await page.click('#animate');
      await settled(/^interpolating /);
      await page.fill('#seed', '5');
      await page.click('#generate');
      await settled(/^seed 5 · |^error: /);
      assert.match((await status())!, /^seed 5 · /);
      assert.equal(await page.evaluate(() => (window as unknown as DemoWindow).demoState.animation), undefined);
      // a model picked while a run is under way: the old generator finishes its run before it is released
      await page.click('#animate');
      await settled(/^interpolating /);
      await page.selectOption('#model', { label: 'cdcgan' });
      await settled(/^seed 5 · 70 images · |^error: /);
      assert.match((await status())!, /^seed 5 · 70 images · webgpu · /, 'cdcgan: 64 images round up to 7 rows of 10');
      assert.deepEqual(session.pageErrors, []);
    } finally {
      await session.close();
    }
  } finally {
    assert.equal(await demo.stop(), 0);
  }
});

/**
 * A models directory of generators exported from plain tfjs models, as `ganport export model.json` does
 * (no ganport metadata): `flat`, whose output is no image, and `conditional`, which takes a class but
 * does not record how many there are.
 */
function plainModels(): string {
  const z = tf.input({ shape: [8] });
  const label = tf.input({ shape: [1], dtype: 'int32' });
  const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 5, outputDim: 4 }).apply(label));
  const mixed = tf.layers.concatenate().apply([z, embedded as tf.SymbolicTensor]);
  const image = tf.layers
    .reshape({ targetShape: [8, 8, 1] })
    .apply(tf.layers.dense({ units: 64, activation: 'tanh' }).apply(mixed)) as tf.SymbolicTensor;
  const models: Record<string, tf.LayersModel> = {
    flat: tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 10 })] }),
    conditional: tf.model({ inputs: [z, label], outputs: image }),
  };
  const dir = tempDir();
  for (const [name, model] of Object.entries(models)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'generator.onnx'), modelToBytes(model));
  }
  return dir;
}

/** Waits until the status matches `pattern`, and returns it. */
async function statusMatching(page: Page, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.querySelector('#status')?.textContent ?? ''),
    pattern.source,
    { timeout: 60_000 },
  );
  return (await page.textContent('#status'))!;
}

test('a frame that fails stops the animation: the button says Animate again', async () => {
  const demo = await startDemo('--models', plainModels());
  try {
    const session = await openBrowserSession({ url: demo.url });
    try {
      const { page } = session;
      await statusMatching(page, /^seed |^error: /);
      await page.selectOption('#model', { label: 'flat' });
      assert.equal(await statusMatching(page, /^error: /), "error: this model's output (10) is not an image");
      await page.click('#generate'); // a failed Generate, and then a failed frame: both shown, neither unhandled
      await page.click('#animate');
      await page.waitForFunction(() => document.querySelector('#animate')?.textContent === 'Animate', null, {
        timeout: 10_000,
      });
      assert.equal(await page.evaluate(() => (window as unknown as DemoWindow).demoState.animation), undefined);
      assert.match((await page.textContent('#status'))!, /^error: /);
      assert.deepEqual(session.pageErrors, []);
    } finally {
      await session.close();
    }
  } finally {
    assert.equal(await demo.stop(), 0);
  }
});

test('a conditional generator that does not record its classes takes the class as a number', async () => {
  const models = plainModels();
  const demo = await startDemo('--models', models);
  try {
    const session = await openBrowserSession({ url: demo.url });
    try {
      const { page } = session;
      await statusMatching(page, /^seed |^error: /);
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.selectOption('#model', { label: 'conditional' });
      assert.match(await statusMatching(page, /^seed |^error: /), /^seed 1 · 64 images · /, 'class 0 by default');
      assert.equal(await page.isVisible('#class'), false);
      assert.equal(await page.isVisible('#class-number'), true);
      await page.fill('#class-number', '3');
      await page.fill('#count', '4');
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.click('#generate');
      assert.match(await statusMatching(page, /^seed |^error: /), /^seed 1 · 4 images · /);
      const pixels = await page.evaluate(() => {
        const c = document.querySelector('canvas')!;
        return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
      });
      const generator = await node.loadGenerator(join(models, 'conditional', 'generator.onnx'));
      const expected = await generator.generateGrid({ seed: 1, count: 4, labels: [3], scale: 2 });
      await generator.dispose();
      assert.equal(pixels.length, expected.pixels.length);
      assert.equal(pixels.filter((v, i) => Math.abs(v - expected.pixels[i]) > 1).length, 0);
      // a model that takes no class hides the number
      await page.selectOption('#model', { label: 'flat' });
      await page.waitForFunction(() => document.querySelector<HTMLElement>('#class-number-field')?.hidden);
      assert.deepEqual(session.pageErrors, []);
    } finally {
      await session.close();
    }
  } finally {
    assert.equal(await demo.stop(), 0);
  }
});

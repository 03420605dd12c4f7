/** `ganport demo` in Chromium: the page loads the shipped models, generates, and draws what the Node runtime draws. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import * as node from '@ganport/runtime';
import { openBrowserSession } from '../../src/parity/browser.js';
import { ROOT, runCli, SHIPPED_MODEL_DIR } from '../helpers.js';

test('the demo page generates in Chromium and matches the Node runtime pixel for pixel', async () => {
  const server = spawn(process.execPath, [join(ROOT, 'bin', 'ganport.js'), 'demo', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => {
        out += d;
        const m = /ganport demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`ganport demo exited with ${code}`)));
    });
    const session = await openBrowserSession({ url });
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
      await page.click('#animate'); // stops it

      // a truncation the runtime takes is one the form takes; bad input is shown, not thrown
      await page.fill('#truncation', '0.25');
      await page.evaluate(() => (document.querySelector('#status')!.textContent = ''));
      await page.click('#generate');
      await rendered();
      await page.fill('#count', '0');
      await page.click('#animate');
      assert.equal(await page.textContent('#status'), 'error: count must be an integer from 1 to 4096, got 0');
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
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, 'the demo server stops cleanly on SIGTERM');
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

/**
 * The packages as users install them: `npm pack` tarballs of @ganport/runtime and ganport installed
 * into fresh copies of the example apps (examples/), then built and run there.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as node from '@ganport/runtime';
import { PNG } from 'pngjs';
import { installExample, installPackedPackages, type PackedPackage, packWorkspace } from '../bench/fresh-app.js';
import { runtimeBundleSize } from '../bench/package-size.js';
import { openBrowserSession } from '../src/parity/browser.js';
import { SHIPPED_MODEL_DIR, SHIPPED_MODELS, sharedDataFile, tempDir } from './helpers.js';

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
  // onnxruntime-common: the types its .d.ts files import (both runtimes depend on it; strict installs such as pnpm's need it named)
  assert.deepEqual(manifest.peerDependenciesMeta, {
    'onnxruntime-common': { optional: true },
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
  // a conditional generator: one class along each row, so that only the latent changes
  const conditional = execFileSync(
    process.execPath,
    ['generate.mjs', join(SHIPPED_MODELS, 'cdcgan', 'generator.onnx')],
    {
      cwd: app,
      encoding: 'utf8',
    },
  );
  assert.match(conditional, /a label per row: 0 1 2 3 4 5 6 7/);
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
  assert.match(stdout, /^trained 16 steps on (onnx|wasm|ort|cpu)/m);
  assert.match(stdout, /^exported .*generator\.onnx, .*discriminator\.onnx$/m);
  assert.match(stdout, /^modes captured: [\d.]+ of 25$/m);
  assert.match(stdout, /^converted one tfjs model: \d+ bytes$/m);
  assert.match(stdout, /^generated 4 points with cpu: /m);
});

test('the runtime’s own browser bundle (ONNX Runtime excluded) stays small', async () => {
  const { gzipped } = await runtimeBundleSize();
  assert.ok(gzipped > 1000 && gzipped < 15 * 1024, `${gzipped} bytes gzipped`);
});

test('the installed CLI: every command runs once through npx ganport in an app that installed both tarballs', async (t) => {
  const app = installPackedPackages(packs);
  const work = tempDir();
  const ganport = (...args: string[]) => {
    const run = spawnSync('npx', ['--no-install', 'ganport', ...args], {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, `ganport ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
    return run.stdout;
  };
  await t.test('--help lists the commands', () => {
    assert.match(ganport('--help'), /commands:[\s\S]*train[\s\S]*export[\s\S]*generate[\s\S]*demo[\s\S]*doctor/);
  });
  await t.test('generate writes the default model’s grid', () => {
    ganport('generate', '--seed', '1', '--out', join(work, 'samples.png'));
    const png = PNG.sync.read(readFileSync(join(work, 'samples.png')));
    assert.ok(png.width > 100 && png.height > 100, `${png.width}×${png.height}`);
  });
  const shippedTfjs = join(SHIPPED_MODELS, 'dcgan', 'tfjs', 'generator', 'model.json');
  await t.test('inspect and export a shipped tfjs model', () => {
    assert.match(ganport('inspect', shippedTfjs), /Conv2DTranspose/);
    ganport('export', shippedTfjs, '--out', join(work, 'dcgan.onnx'));
    assert.ok(readFileSync(join(work, 'dcgan.onnx')).length > 1e6);
  });
  await t.test('inspect and export a real Keras file', (t) => {
    const keras = sharedDataFile('keras', 'wcgan-gp-generator.h5');
    if (!keras) return t.skip('../shared/keras/ is not beside this checkout');
    assert.match(ganport('inspect', keras), /Dense/);
    ganport('export', keras, '--out', join(work, 'keras.onnx'));
    assert.ok(readFileSync(join(work, 'keras.onnx')).length > 1e5);
  });
  await t.test('parity of a shipped model in the Node runtimes', () => {
    assert.match(ganport('parity', 'seed-mlp', '--runtimes', 'tfjs,ort-node,ort-web'), /^PASS$/m);
  });
  await t.test('eval on a small sample', () => {
    const report = JSON.parse(ganport('eval', 'seed-mlp', '--samples', '500', '--json'));
    assert.ok(report.generated.fcd > 0 && report.generated.fcd > report.realFloor.fcd, JSON.stringify(report));
  });
  await t.test('train one short epoch, then export it', () => {
    const run = join(work, 'run');
    ganport('train', '--epochs', '1', '--limit', '256', '--out', run, '--quiet');
    ganport('export', run, '--out', join(work, 'trained'));
    assert.ok(existsSync(join(work, 'trained', 'generator.onnx')));
  });
  await t.test('doctor', () => {
    assert.match(ganport('doctor'), /onnxruntime/);
  });
  await t.test('demo serves its page, then stops on Ctrl-C', async () => {
    // its own process group, so that the SIGINT reaches npx and ganport both, as Ctrl-C does in a terminal
    const demo = spawn('npx', ['--no-install', 'ganport', 'demo', '--port', '0'], { cwd: app, detached: true });
    const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
    let origin = '';
    try {
      origin = await new Promise<string>((resolve, reject) => {
        let out = '';
        demo.stdout.on('data', (chunk) => {
          out += chunk;
          const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
          if (url) resolve(url[0]);
        });
        demo.once('exit', (code) => reject(new Error(`demo exited ${code} before serving: ${out}`)));
      });
      const page = await fetch(`${origin}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<canvas/);
      const models = (await (await fetch(`${origin}/models/index.json`)).json()) as { name: string }[];
      assert.ok(models.some((m) => m.name === 'cdcgan'));
    } finally {
      process.kill(-demo.pid!, 'SIGINT');
    }
    await exited;
    const deadline = Date.now() + 10_000;
    while (
      await fetch(`${origin}/`).then(
        () => true,
        () => false,
      )
    ) {
      assert.ok(Date.now() < deadline, 'the demo server still answers 10 s after Ctrl-C');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
});

/** The Generator in onnxruntime-node and onnxruntime-web: what it reads from a model, what it generates, what it refuses. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generatorInfo } from '../src/metadata.js';
import * as node from '../src/node.js';
import type { OnnxInfo } from '../src/onnx-info.js';
import * as web from '../src/web.js';
import { maxAbsDiff, shippedGenerator, withoutMetadata } from './helpers.js';

const bytes = shippedGenerator('seed-mlp');

test('generator.info comes from the model metadata', async () => {
  const g = await node.loadGenerator(bytes);
  assert.equal(g.provider, 'cpu');
  assert.equal(g.info.latentSize, 64);
  assert.deepEqual(g.info.outputShape, [28, 28, 1]);
  assert.equal(g.info.layout, 'NHWC');
  assert.deepEqual(g.info.valueRange, [-1, 1]);
  assert.equal(g.info.latentInput, 'latent');
  assert.equal(g.info.output, 'image');
  assert.equal(g.info.opsetVersion, 17);
  await g.dispose();
});

test('without metadata, the same facts are read from the graph shapes', async () => {
  const g = await node.loadGenerator(withoutMetadata(bytes));
  assert.equal(g.info.latentSize, 64);
  assert.deepEqual(g.info.outputShape, [28, 28, 1]);
  assert.equal(g.info.layout, 'NHWC');
  assert.deepEqual(g.info.metadata, {});
  await g.dispose();
});

test('generate: seeded, batch-first, images in range, same in onnxruntime-node and onnxruntime-web', async () => {
  const gNode = await node.loadGenerator(bytes);
  const gWeb = await web.loadGenerator(bytes);
  assert.equal(gWeb.provider, 'wasm');
  const a = await gNode.generate({ seed: 4, count: 5 });
  const b = await gNode.generate({ seed: 4, count: 5 });
  const c = await gWeb.generate({ seed: 4, count: 5 });
  assert.deepEqual(a.dims, [5, 28, 28, 1]);
  assert.deepEqual(a.data, b.data);
  assert.ok(maxAbsDiff(a.data, c.data) < 1e-5);
  // onnxruntime's tanh lands one float32 step beyond ±1 where the trained model saturates
  assert.ok(a.data.every((v) => Math.abs(v) <= 1 + 2 ** -23));
  assert.deepEqual(a.latents, gNode.sampleLatents({ seed: 4, count: 5 }));
  const fromLatents = await gNode.generate({ latents: a.latents });
  assert.deepEqual(fromLatents.data, a.data);
  await gNode.dispose();
  await gWeb.dispose();
});

test('concurrent generate calls on one session equal sequential ones', async () => {
  const g = await node.loadGenerator(bytes);
  const seeds = [1, 2, 3, 4, 5, 6];
  const sequential: Float32Array[] = [];
  for (const seed of seeds) sequential.push((await g.generate({ seed, count: 8 })).data);
  const concurrent = await Promise.all(seeds.map((seed) => g.generate({ seed, count: 8 })));
  for (const [i, batch] of concurrent.entries()) assert.deepEqual(batch.data, sequential[i]);
  await g.dispose();
});

test("a generator's session runs one at a time (WebGPU refuses a second), and dispose waits for the runs under way", async () => {
  const g = await node.loadGenerator(bytes);
  const session = (g as unknown as { session: { run: (feeds: unknown) => Promise<unknown> } }).session;
  const run = session.run.bind(session);
  let running = 0;
  let most = 0;
  session.run = async (feeds) => {
    most = Math.max(most, ++running);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await run(feeds);
    } finally {
      running--;
    }
  };
  const batches = Promise.all([1, 2, 3, 4].map((seed) => g.generate({ seed, count: 2 })));
  const last = g.generate({ seed: 5, count: 2 });
  await new Promise((resolve) => setTimeout(resolve, 1)); // every call has queued its run
  await g.dispose();
  assert.equal((await batches).length, 4);
  assert.equal((await last).count, 2, 'the runs queued before dispose ran');
  assert.equal(most, 1);
});

test('overlapping generate calls each read the latents as they were at the call, though the caller refills its array', async () => {
  const g = await node.loadGenerator(bytes);
  const buffer = new Float32Array(2 * 64);
  const calls = [1, 2, 3].map((seed) => {
    buffer.set(g.sampleLatents({ seed, count: 2 }));
    return g.generate({ latents: buffer });
  });
  const results = await Promise.all(calls);
  for (const [i, seed] of [1, 2, 3].entries())
    assert.deepEqual(results[i].data, (await g.generate({ seed, count: 2 })).data, `seed ${seed}`);
  await g.dispose();
});

test('dispose waits for every batch of a generate under way (a graph of fixed batch size runs several)', async () => {
  const g = await node.loadGenerator(bytes);
  const reference = await node.loadGenerator(bytes);
  (g.info as { batchSize?: number }).batchSize = 2; // as a graph exported with a fixed batch of 2 reads
  const batches = g.generate({ seed: 3, count: 6 });
  await g.dispose();
  assert.deepEqual((await batches).data, (await reference.generate({ seed: 3, count: 6 })).data);
  await reference.dispose();
});

test('generateGrid tiles the batch and toPNG encodes it', async () => {
  const g = await node.loadGenerator(bytes);
  const grid = await g.generateGrid({ seed: 0, count: 6, columns: 3 });
  assert.equal(grid.width, 3 * 28 + 4 * 2);
  assert.equal(grid.height, 2 * 28 + 3 * 2);
  const png = node.toPNG(grid);
  assert.deepEqual(Array.from(png.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
  await g.dispose();
});

test('bad requests raise GanportError with a clear message', async () => {
  const g = await node.loadGenerator(bytes);
  await assert.rejects(g.generate({ latents: new Float32Array(65) }), /multiple of the latent size 64/);
  await assert.rejects(g.generate({ count: 0 }), /count must be an integer from 1 to 4096/);
  await assert.rejects(g.generate({ count: 5000 }), /count must be an integer from 1 to 4096/);
  await assert.rejects(g.generate({ count: 2, labels: [1, 2] }), /not conditional/);
  await assert.rejects(g.generate({ latents: new Float32Array(128), count: 3 }), /disagrees/);
  await assert.rejects(g.generateGrid({ latents: new Float32Array(128), count: 3 }), /disagrees/);
  // a scalar is not a list of labels, not even a falsy one
  for (const labels of [0, 3])
    await assert.rejects(g.generate({ labels: labels as unknown as number[] }), /labels must be a non-empty list/);
  await g.dispose();
  for (const executionProviders of ['cpu', []] as unknown as string[][])
    await assert.rejects(
      node.loadGenerator(bytes, { executionProviders }),
      (err: Error) => err instanceof node.GanportError && /executionProviders must be a list/.test(err.message),
    );
});

test('a second dispose() waits for the runs under way, as the first does', async () => {
  const g = await node.loadGenerator(bytes);
  const order: string[] = [];
  const batch = g.generate({ seed: 1, count: 512 }).then(() => order.push('generate'));
  await Promise.all([g.dispose().then(() => order.push('dispose 1')), g.dispose().then(() => order.push('dispose 2'))]);
  await batch;
  assert.deepEqual(order, ['generate', 'dispose 1', 'dispose 2']);
});

test('truncated, empty and non-ONNX files are refused before ONNX Runtime sees them', async () => {
  for (const [what, data, message] of [
    ['truncated', bytes.subarray(0, bytes.length - 100), /truncated/],
    ['empty', new Uint8Array(0), /empty/],
    ['a PNG', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13), /not a valid ONNX model/],
    ['text', new TextEncoder().encode('hello, this is not a model'), /not a valid ONNX model/],
  ] as const) {
    await assert.rejects(
      node.loadGenerator(data),
      (err: Error) => err instanceof node.GanportError && message.test(err.message),
      what,
    );
    await assert.rejects(
      web.loadGenerator(data),
      (err: Error) => err instanceof web.GanportError && message.test(err.message),
      what,
    );
  }
  await assert.rejects(node.loadGenerator('/no/such/model.onnx'), /cannot read model \/no\/such\/model\.onnx: ENOENT/);
});

test('interpolate: endpoints exact, slerp keeps the norm of equal-norm latents, lerp is linear', () => {
  const a = Float32Array.from([1, 0, 0]);
  const b = Float32Array.from([0, 1, 0]);
  const path = node.interpolate(a, b, 5, 'slerp');
  assert.equal(path.length, 15);
  assert.deepEqual(Array.from(path.subarray(0, 3)), [1, 0, 0]);
  assert.ok(maxAbsDiff(path.subarray(12), b) < 1e-7);
  for (let s = 0; s < 5; s++) assert.ok(Math.abs(Math.hypot(...path.subarray(3 * s, 3 * s + 3)) - 1) < 1e-6);
  const mid = node.interpolate(a, b, 3, 'lerp').subarray(3, 6);
  assert.deepEqual(Array.from(mid), [0.5, 0.5, 0]);
  assert.deepEqual(
    node.interpolate(a, a, 3),
    Float32Array.from([1, 0, 0, 1, 0, 0, 1, 0, 0]),
    'parallel latents fall back to lerp',
  );
  assert.throws(() => node.interpolate(a, Float32Array.from([1, 2]), 3), /same non-zero length/);
  for (const steps of [1, 4097, 1e10])
    assert.throws(() => node.interpolate(a, b, steps), /steps must be an integer from 2 to 4096/, `${steps}`);
});

test('the Node runtime loads from file: and http: URLs, and reports HTTP failures', async (t) => {
  const { createServer } = await import('node:http');
  const { pathToFileURL } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'ganport-runtime-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'g.onnx');
  writeFileSync(file, bytes);
  const fromFile = await node.loadGenerator(pathToFileURL(file));
  assert.equal(fromFile.info.latentSize, 64);
  await fromFile.dispose();
  const server = createServer((req, res) => {
    if (req.url === '/g.onnx') res.end(Buffer.from(bytes));
    else if (req.url === '/cut.onnx') {
      res.writeHead(200, { 'content-length': bytes.length });
      res.write(Buffer.from(bytes.subarray(0, 1000)), () => res.destroy());
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const fromHttp = await node.loadGenerator(`${base}/g.onnx`);
    assert.equal(fromHttp.info.latentSize, 64);
    await fromHttp.dispose();
    await assert.rejects(node.loadGenerator(`${base}/missing.onnx`), /cannot fetch model .*missing\.onnx: HTTP 404/);
    await assert.rejects(
      node.loadGenerator(`${base}/cut.onnx`),
      (err: Error) => err instanceof node.GanportError && /^cannot fetch model .*cut\.onnx: /.test(err.message),
      'a connection cut off in the body',
    );
  } finally {
    server.close();
  }
});

test('a conditional generator given no labels tiles one row per class', async () => {
  const g = await node.loadGenerator(shippedGenerator('cdcgan'));
  assert.equal(g.info.numClasses, 10);
  const grid = await g.generateGrid({ seed: 0, count: 20 });
  assert.deepEqual([grid.width, grid.height], [2 * 28 + 3 * 2, 10 * 28 + 11 * 2]);
  const oneClass = await g.generateGrid({ seed: 0, count: 20, labels: [4] });
  assert.equal(oneClass.width, 5 * 28 + 6 * 2, 'with labels, the default square-ish grid');
  await g.dispose();
});

test('what a conditional generator’s labels are: classes unless its metadata says clusters', () => {
  const onnx = (metadata: Record<string, string>, label = true): OnnxInfo => ({
    irVersion: 8,
    producerName: 'test',
    producerVersion: '',
    opsetVersion: 17,
    metadata: { 'ganport.num_classes': '50', ...metadata },
    inputs: [
      { name: 'latent', elemType: 1, dims: ['batch', 100] },
      ...(label ? [{ name: 'label', elemType: 7, dims: ['batch', 1] }] : []),
    ],
    outputs: [{ name: 'image', elemType: 1, dims: ['batch', 28, 28, 1] }],
  });
  assert.equal(generatorInfo(onnx({})).labelKind, 'class');
  assert.equal(generatorInfo(onnx({ 'ganport.label_kind': 'cluster' })).labelKind, 'cluster');
  assert.equal(generatorInfo(onnx({ 'ganport.label_kind': 'cluster' }, false)).labelKind, undefined, 'no label input');
  assert.throws(
    () => generatorInfo(onnx({ 'ganport.label_kind': 'mode' })),
    /the model's ganport\.label_kind "mode" is not one of class, cluster/,
  );
});

test('labels out of range are a GanportError, in both environments', async () => {
  for (const runtime of [node, web]) {
    const g = await runtime.loadGenerator(shippedGenerator('cdcgan'));
    for (const label of [10, -1, 2.5]) {
      await assert.rejects(
        g.generate({ count: 2, labels: [label] }),
        (err: Error) => err instanceof runtime.GanportError && err.message === `label ${label} is out of range [0, 10)`,
        `label ${label}`,
      );
    }
    // JavaScript would coerce these to classes (0, 7, 1, 3): none is a label
    for (const [label, shown] of [
      [null, 'null'],
      ['7', '"7"'],
      [true, 'true'],
      [[3], '3'],
    ] as const)
      await assert.rejects(
        g.generate({ count: 1, labels: [label] as unknown as number[] }),
        (err: Error) => err instanceof runtime.GanportError && err.message === `label ${shown} is out of range [0, 10)`,
        `label ${shown}`,
      );
    for (const label of [2n ** 64n + 3n, 2n ** 53n + 1n])
      await assert.rejects(g.generate({ count: 1, labels: [label] }), /out of range \[0, 10\)/, `label ${label}`);
    const bigints = await g.generate({ count: 2, labels: BigInt64Array.of(3n, 4n) });
    const numbers = await g.generate({ count: 2, labels: [3, 4] });
    assert.deepEqual(bigints.data, numbers.data, 'bigint labels are the same classes');
    await g.dispose();
  }
  // without the metadata that records its classes, a label past int32 would wrap to another class
  const unrecorded = await node.loadGenerator(withoutMetadata(shippedGenerator('cdcgan')));
  for (const label of [2n ** 64n + 3n, 2 ** 31])
    await assert.rejects(
      unrecorded.generate({ count: 1, labels: [label] }),
      /out of range \[0, 2147483648\)/,
      `label ${label}`,
    );
  await unrecorded.dispose();
});

test('NaN or infinite latents are refused as input before the model runs, in both environments', async () => {
  for (const runtime of [node, web]) {
    const g = await runtime.loadGenerator(bytes);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY])
      await assert.rejects(
        g.generate({ latents: new Float32Array(64).fill(bad) }),
        (err: Error) =>
          err instanceof runtime.GanportError &&
          err.code === 'invalid-input' &&
          err.message === 'latents must be finite numbers',
      );
    await g.dispose();
  }
});

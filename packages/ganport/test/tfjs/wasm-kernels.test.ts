/** The wasm gradient kernels against the pure-JS cpu backend's own gradients. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';

before(async () => {
  await selectBackend('wasm'); // registers the kernels
});

function random(shape: number[], rng: Rng): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal());
}

/** Gradients of sum(w ⊙ op(x, f)) with respect to x and f, on `backend`. */
async function gradients(
  backend: string,
  op: (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor4D,
  xs: Float32Array,
  xShape: number[],
  fs: Float32Array,
  fShape: number[],
  seed: number,
) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, xShape as [number, number, number, number]);
    const f = tf.tensor4d(fs, fShape as [number, number, number, number]);
    const outShape = op(x, f).shape;
    const w = tf.tensor(random(outShape, new Rng(seed)), outShape);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      op(a as tf.Tensor4D, b as tf.Tensor4D)
        .mul(w)
        .sum(),
    )([x, f]);
    return { dx: (dx.dataSync() as Float32Array).slice(), df: (df.dataSync() as Float32Array).slice() };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  assert.ok(worst < 1e-5, `${what}: max error ${worst} relative to the largest gradient`);
}

const cases: { batch: number; size: [number, number]; kernel: number; stride: number; pad: 'same' | 'valid' }[] = [];
for (const stride of [1, 2])
  for (const kernel of [3, 4, 5])
    for (const pad of ['same', 'valid'] as const) cases.push({ batch: 3, size: [9, 7], kernel, stride, pad });
cases.push(
  { batch: 1, size: [28, 28], kernel: 4, stride: 2, pad: 'same' },
  { batch: 64, size: [14, 14], kernel: 4, stride: 2, pad: 'same' },
  { batch: 2, size: [10, 11], kernel: 4, stride: 3, pad: 'valid' },
);

for (const { batch, size, kernel, stride, pad } of cases) {
  const name = `batch ${batch}, ${size.join('×')}, kernel ${kernel}, stride ${stride}, ${pad}`;
  test(`Conv2D filter gradient: ${name}`, async () => {
    const rng = new Rng(kernel * 100 + stride * 10 + batch);
    const xShape = [batch, ...size, 3];
    const fShape = [kernel, kernel, 3, 5];
    const [xs, fs] = [random(xShape, rng), random(fShape, rng)];
    const op = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2d(x, f, stride, pad);
    const cpu = await gradients('cpu', op, xs, xShape, fs, fShape, 7);
    const wasm = await gradients('wasm', op, xs, xShape, fs, fShape, 7);
    assertClose(wasm.df, cpu.df, 'filter gradient');
    assertClose(wasm.dx, cpu.dx, 'input gradient');
  });
  test(`Conv2DTranspose filter gradient: ${name}`, async () => {
    const rng = new Rng(kernel * 100 + stride * 10 + batch + 1);
    const xShape = [batch, ...size, 4];
    const fShape = [kernel, kernel, 2, 4]; // [kh, kw, out, in]
    const outShape: [number, number, number, number] =
      pad === 'same'
        ? [batch, size[0] * stride, size[1] * stride, 2]
        : [batch, size[0] * stride + Math.max(kernel - stride, 0), size[1] * stride + Math.max(kernel - stride, 0), 2];
    const [xs, fs] = [random(xShape, rng), random(fShape, rng)];
    const op = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2dTranspose(x, f, outShape, stride, pad);
    const cpu = await gradients('cpu', op, xs, xShape, fs, fShape, 8);
    const wasm = await gradients('wasm', op, xs, xShape, fs, fShape, 8);
    assertClose(wasm.df, cpu.df, 'filter gradient');
    assertClose(wasm.dx, cpu.dx, 'input gradient');
  });
}

test('UnsortedSegmentSum (the gradient of Gather and Embedding) matches the cpu backend', async () => {
  const rng = new Rng(5);
  const table = random([10, 6], rng);
  const ids = Int32Array.from({ length: 40 }, () => rng.nextInt(10));
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const w = tf.tensor(random([40, 6], new Rng(6)), [40, 6]);
      const grad = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(ids, 'int32')).mul(w).sum())(
        tf.tensor2d(table, [10, 6]),
      );
      const direct = tf.unsortedSegmentSum(
        tf.tensor3d(random([4, 5, 3], new Rng(7)), [4, 5, 3]),
        tf.tensor1d([2, 0, 2, 7], 'int32'),
        8,
      );
      return {
        grad: (grad.dataSync() as Float32Array).slice(),
        direct: (direct.dataSync() as Float32Array).slice(),
        shape: direct.shape,
      };
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  assertClose(wasm.grad, cpu.grad, 'embedding gradient');
  assertClose(wasm.direct, cpu.direct, 'segment sums');
  assert.deepEqual(wasm.shape, [8, 5, 3]);
});

test('the wasm backend does not leak tensors through the new kernel', async () => {
  await tf.setBackend('wasm');
  const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 2]);
  const f = tf.randomNormal([3, 3, 2, 3]);
  const grad = tf.grad((k: tf.Tensor) => tf.conv2d(x, k as tf.Tensor4D, 2, 'same').sum());
  grad(f).dispose();
  const before = tf.memory().numBytes;
  for (let i = 0; i < 5; i++) grad(f).dispose();
  assert.equal(tf.memory().numBytes, before);
  const wasmBytes = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  for (let i = 0; i < 5; i++) grad(f).dispose();
  assert.equal(
    (tf.backend() as unknown as { numDataIds(): number }).numDataIds(),
    wasmBytes,
    'no backend data left behind',
  );
  tf.dispose([x, f]);
});

/**
 * Property test of the ONNX reader behind loadGenerator (runtime onnx-info.ts, then onnxruntime):
 * a generator file truncated, bit-flipped or overwritten in places either loads and generates, or
 * is refused with a GanportError, never another exception or a hang.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type GeneratedBatch, type GeneratorInfo, loadGenerator, readOnnxInfo } from '../src/node.js';
import { assertReadsOrRefuses, assertRefusal, damagedBytes, PROPERTY_RUNS, shippedGenerator } from './helpers.js';

const model = shippedGenerator('seed-mlp');

/**
 * What a generator that loads must give: `count` samples of the shape its info declares, every value
 * a finite number; NaN or infinite output is a damaged model that should have been refused.
 */
function assertGeneratedBatch(batch: GeneratedBatch, info: GeneratorInfo, count = 2): void {
  assert.equal(batch.count, count);
  assert.deepEqual(batch.dims, [count, ...info.outputShape]);
  assert.equal(batch.data.length, count * info.outputShape.reduce((a, b) => a * b, 1));
  const bad = batch.data.findIndex((v) => !Number.isFinite(v));
  assert.equal(bad, -1, `value ${bad} is ${batch.data[bad]}`);
}

test('readOnnxInfo: damaged or random bytes give consistent info or a GanportError', () => {
  fc.assert(
    fc.property(fc.oneof(damagedBytes(model), fc.uint8Array({ maxLength: 300 })), (bytes) =>
      assertReadsOrRefuses(
        () => readOnnxInfo(bytes),
        (info) => assert.ok(info.inputs.length > 0 && info.outputs.length > 0),
      ),
    ),
    { ...PROPERTY_RUNS, numRuns: 300 },
  );
});

test('loadGenerator + generate: a damaged model generates or is refused with a GanportError', async () => {
  await fc.assert(
    fc.asyncProperty(damagedBytes(model), async (bytes) => {
      let generator: Awaited<ReturnType<typeof loadGenerator>> | undefined;
      try {
        generator = await loadGenerator(bytes);
        const batch = await generator.generate({ count: 2 });
        assertGeneratedBatch(batch, generator.info);
      } catch (err) {
        assertRefusal(err);
      } finally {
        await generator?.dispose();
      }
    }),
    { ...PROPERTY_RUNS, numRuns: 150 },
  );
});

/**
 * Export benchmark: for every preset's generator and discriminator, the time to
 * convert and encode to ONNX (median of several runs) and the .onnx size relative
 * to the raw float32 weight bytes. Run: npm run bench:export
 */
import { performance } from 'node:perf_hooks';
import type * as tf from '@tensorflow/tfjs';
import { modelToBytes } from '../src/export/index.js';
import { PRESETS } from '../src/presets/index.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { median } from './stats.js';

const RUNS = 7;

function measure(model: tf.LayersModel, options: Parameters<typeof modelToBytes>[1]): { ms: number; bytes: number } {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    bytes = modelToBytes(model, options).length;
    times.push(performance.now() - t0);
  }
  return { ms: median(times), bytes };
}

await selectBackend('cpu');
const rows: string[][] = [
  ['preset', 'model', 'params', 'weight bytes', 'fp32 .onnx', 'ratio', 'export ms', 'fp16 .onnx', 'ratio'],
];
for (const preset of Object.values(PRESETS)) {
  for (const [role, model] of [
    ['generator', preset.buildGenerator(0)],
    ['discriminator', preset.buildDiscriminator(0)],
  ] as const) {
    const params = model.countParams();
    const fp32 = measure(model, {});
    const fp16 = measure(model, { fp16: true });
    rows.push([
      preset.name,
      role,
      String(params),
      String(params * 4),
      String(fp32.bytes),
      (fp32.bytes / (params * 4)).toFixed(4),
      fp32.ms.toFixed(1),
      String(fp16.bytes),
      (fp16.bytes / (params * 4)).toFixed(4),
    ]);
    model.dispose();
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const row of rows) console.log(row.map((c, i) => c.padStart(widths[i])).join('  '));

// ganport as a library, typed: train a small GAN on the 25-Gaussian grid, export it to ONNX,
// evaluate it, convert a single tfjs model file, and run the generator with @ganport/runtime.
//   npm run build && node dist/train-export-run.js [WORK_DIR]
import { join } from 'node:path';
import { loadGenerator } from '@ganport/runtime';
import { type EvalReport, evaluate, exportModelFile, exportRun, type TrainResult, train } from 'ganport';

const work = process.argv[2] ?? 'work';
const run = join(work, 'run');
const model = join(work, 'model');

const trained: TrainResult = await train({
  outDir: run,
  preset: 'mlp-2d',
  dataDir: 'grid',
  epochs: 1,
  limit: 4096,
  quiet: true,
});
console.log(`trained ${trained.steps} steps on ${trained.backend.name}: D loss ${trained.last.dLoss.toFixed(3)}`);

const { files } = await exportRun(run, model);
console.log(`exported ${files.map((f) => f.path).join(', ')}`);

const report: EvalReport = await evaluate(model, { samples: 1000, seeds: 2 });
if (report.kind === 'points') console.log(`modes captured: ${report.modesCaptured.mean} of ${report.modes}`);

const single = await exportModelFile(join(run, 'generator', 'model.json'), join(work, 'generator-only.onnx'));
console.log(`converted one tfjs model: ${single.bytes} bytes`);

const generator = await loadGenerator(join(model, 'generator.onnx'));
const batch = await generator.generate({ seed: 7, count: 4 });
console.log(
  `generated ${batch.count} points with ${generator.provider}: ${Array.from(batch.data.subarray(0, 2), (v) => v.toFixed(3))}`,
);
await generator.dispose();

import { existsSync, statSync } from 'node:fs';
import { GanportError, toLayout } from '@ganport/runtime';
import { type EvalScores, scoreLabel, scoreNames, scoreOf } from '../../formats/eval-scores.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../../onnx/opsets.js';
import { defineCommand, UsageError } from '../flags.js';

const formatScores = (scores: EvalScores) =>
  scoreNames(scores)
    .map((name) => `${scoreLabel(name)} ${Number(scoreOf(scores, name)!.toFixed(4))}`)
    .join(', ');

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'convert trained tfjs models to ONNX',
  positional: {
    name: 'SOURCE',
    required: true,
    help: 'a training run directory (its generator and discriminator), a tfjs model.json, a Keras .h5 or .keras file',
  },
  flags: {
    out: {
      type: 'string',
      value: 'PATH',
      required: true,
      help: 'the model directory to write for a run, the .onnx file for a model file',
    },
    opset: { type: 'int', value: 'N', default: DEFAULT_OPSET, help: `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}` },
    layout: { type: 'string', value: 'nhwc|nchw', default: 'nhwc', help: 'layout of image inputs and outputs' },
    'fold-batchnorm': {
      type: 'boolean',
      option: 'foldBatchNorm',
      help: 'fold batch normalization into the preceding convolution or dense layer',
    },
    fp16: { type: 'boolean', help: 'store weights and compute in float16 (inputs and outputs stay float32)' },
    submodel: {
      type: 'string',
      value: 'NAME',
      help: 'export only this nested model of a model file (e.g. the generator of a combined GAN); see ganport inspect',
    },
    triton: { type: 'string', value: 'REPO_DIR', help: 'also write a Triton model repository serving the generator' },
    best: {
      type: 'boolean',
      help: "export a run's best --eval-every measurement (kept in RUN_DIR/best/) rather than its last epoch",
    },
  },
  examples: [
    'ganport export runs/dcgan --out models/my-dcgan',
    'ganport export runs/dcgan --best --out models/my-dcgan',
    'ganport export runs/dcgan --out models/dcgan-nchw --layout nchw --fold-batchnorm --fp16',
    'ganport export runs/dcgan/generator/model.json --out generator.onnx --opset 13',
    'ganport export gan/model.json --submodel generator --out generator.onnx',
    'ganport export generator.h5 --out generator.onnx',
    'ganport export generator.keras --out generator.onnx',
  ],
  async run({ out, triton, submodel, best, ...values }, source) {
    const options = { ...values, layout: toLayout(values.layout) };
    if (!existsSync(source)) throw new GanportError(`${source} does not exist`, 'not-found');
    const isRun = statSync(source).isDirectory();
    if (triton !== undefined && !isRun) {
      throw new UsageError('--triton goes with a RUN_DIR export (it serves the generator)');
    }
    if (submodel !== undefined && isRun) throw new UsageError('--submodel goes with a model file export');
    if (best && !isRun) throw new UsageError('--best goes with a RUN_DIR export');
    const { exportModelFile, exportRun } = await import('../../export/index.js');
    const { files, best: kept } = isRun
      ? await exportRun(source, out, { ...options, triton, best })
      : { files: [await exportModelFile(source, out, { ...options, submodel })], best: undefined };
    if (kept) console.log(`the best measurement: step ${kept.step} (epoch ${kept.epoch}), ${formatScores(kept.eval)}`);
    const notes = [`opset ${options.opset}`, options.layout, options.fp16 ? 'fp16' : 'fp32'];
    if (options.foldBatchNorm) notes.push('batch norm folded');
    for (const f of files) console.log(`wrote ${f.path} (${(f.bytes / 1024).toFixed(1)} KiB, ${notes.join(', ')})`);
    return 0;
  },
});

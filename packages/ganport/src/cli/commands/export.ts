import { existsSync, statSync } from 'node:fs';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, exportModelFile, exportRun } from '../../export/index.js';
import { GanportError } from '@ganport/runtime';
import { UsageError, intFlag, parse, requireFlag } from '../flags.js';

export const usage = `ganport export RUN_DIR --out MODEL_DIR | ganport export PATH/model.json --out FILE.onnx  [--opset N (${MIN_OPSET}..${MAX_OPSET}, default ${DEFAULT_OPSET})] [--layout nhwc|nchw] [--fold-batchnorm] [--fp16] [--triton REPO_DIR]`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { out: { type: 'string' }, opset: { type: 'string' }, layout: { type: 'string', default: 'nhwc' }, 'fold-batchnorm': { type: 'boolean', default: false }, fp16: { type: 'boolean', default: false }, triton: { type: 'string' } },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(`expected one RUN_DIR or model.json, got ${positionals.length}\nusage: ${usage}`);
  const [source] = positionals;
  const out = requireFlag(values.out, 'out', usage);
  const layout = values.layout;
  if (layout !== 'nhwc' && layout !== 'nchw') throw new GanportError(`--layout must be nhwc or nchw, got "${layout}"`);
  const options = { opset: intFlag(values.opset, 'opset', DEFAULT_OPSET), layout, foldBatchNorm: values['fold-batchnorm'], fp16: values.fp16 } as const;
  const isRun = existsSync(source) && statSync(source).isDirectory();
  if (values.triton && !isRun) throw new UsageError('--triton goes with a RUN_DIR export (it serves the generator)');
  const files = isRun ? await exportRun(source, out, { ...options, triton: values.triton }) : [await exportModelFile(source, out, options)];
  const notes = [`opset ${options.opset}`, layout.toUpperCase(), options.fp16 ? 'fp16' : 'fp32', ...(options.foldBatchNorm ? ['batch norm folded'] : [])].join(', ');
  for (const f of files) console.log(`wrote ${f.path} (${(f.bytes / 1024).toFixed(1)} KiB, ${notes})`);
  return 0;
}

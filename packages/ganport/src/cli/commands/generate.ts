import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GanportError, MAX_COUNT, loadGenerator, toPNG } from '@ganport/runtime';
import { isPointGenerator } from '@ganport/runtime';
import { defaultGenerator } from '../../assets.js';
import { writeFileAtomic } from '../../util/files.js';
import { intFlag, numberFlag, parse, requireFlag } from '../flags.js';

export const usage = `ganport generate [MODEL] --out FILE.png [--seed S] [--count N (1..${MAX_COUNT})] [--columns C] [--scale K] [--truncation T] [--class K] [--provider cpu|cuda|webgpu]`;

/** The generator shipped in models/, used when no MODEL is given. */

/** A model file, or a model directory holding generator.onnx. */
export function resolveModel(model: string | undefined): string {
  if (model === undefined) return defaultGenerator();
  if (existsSync(model) && statSync(model).isDirectory()) {
    const file = join(model, 'generator.onnx');
    if (!existsSync(file)) throw new GanportError(`${model} is a directory without generator.onnx`, 'not-found');
    return file;
  }
  return model;
}

export async function generateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { out: { type: 'string' }, seed: { type: 'string' }, count: { type: 'string' }, columns: { type: 'string' }, scale: { type: 'string' }, class: { type: 'string' }, truncation: { type: 'string' }, provider: { type: 'string' } },
    usage,
  );
  const out = requireFlag(values.out, 'out', usage);
  const count = intFlag(values.count, 'count', 64);
  if (count <= 0 || count > MAX_COUNT) throw new GanportError(`--count must be from 1 to ${MAX_COUNT}, got ${count}`);
  const seed = intFlag(values.seed, 'seed', 0);
  const modelPath = resolveModel(positionals[0]);
  const generator = await loadGenerator(modelPath, { executionProviders: values.provider ? [values.provider] : undefined });
  try {
    const { numClasses } = generator.info;
    const label = intFlag(values.class, 'class');
    if (label !== undefined && !numClasses) throw new GanportError(`--class needs a class-conditional model; ${modelPath} is not one`);
    const t0 = performance.now();
    // images as a grid, the points of 2-D generators as a scatter plot
    const grid = await generator.generateGrid({
      seed,
      count,
      labels: label === undefined ? undefined : [label],
      columns: intFlag(values.columns, 'columns'),
      scale: intFlag(values.scale, 'scale'),
      truncation: values.truncation === undefined ? undefined : numberFlag(values.truncation, 'truncation', 0),
    });
    const ms = performance.now() - t0;
    await writeFileAtomic(out, toPNG(grid));
    console.log(`wrote ${out}: ${count} ${isPointGenerator(generator.info) ? 'points' : 'images'} from seed ${seed} (${modelPath}, ${generator.provider}, ${ms.toFixed(1)} ms)`);
  } finally {
    await generator.dispose();
  }
  return 0;
}

import { open, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GanportError, gridCount, isPointGenerator, loadGenerator, MAX_COUNT, META, toPNG } from '@ganport/runtime';
import { defaultGenerator } from '../../assets.js';
import { listingDirectory } from '../../formats/manifest.js';
import { resolveGeneratorFile } from '../../formats/model-dir.js';
import { prepareVulkan } from '../../tfjs/webgpu.js';
import { writeFileAtomic } from '../../util/files.js';
import { defineCommand } from '../flags.js';
import { providerFlag, providerList } from '../shared-flags.js';

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'write a PNG grid of generated images (onnxruntime-node)',
  positional: {
    name: 'MODEL',
    help: 'a generator .onnx file, a model directory, or a shipped model: cdcgan (default), dcgan, seed-mlp, …',
  },
  flags: {
    out: {
      type: 'string',
      value: 'FILE.png',
      required: true,
      help: 'the PNG to write; an existing file only if it is a PNG',
    },
    seed: { type: 'int', value: 'S', default: 0, help: 'seeds the latent vectors' },
    count: {
      type: 'int',
      value: 'N',
      default: 64,
      help: `images (or 2-D points), 1 to ${MAX_COUNT}; a conditional model rounds it up to a multiple of its classes (down near ${MAX_COUNT})`,
    },
    columns: { type: 'int', value: 'C', help: 'grid columns (default: square, or one row per class); image models' },
    scale: { type: 'int', value: 'K', help: 'draw each pixel as K×K, K from 1 to 16; image models' },
    truncation: {
      type: 'number',
      value: 'T',
      help: 'resample latent components beyond ±T (the truncation trick; T ≥ 0.01)',
    },
    class: {
      type: 'int',
      value: 'K',
      help: 'only class K (class-conditional models), or cluster K (models self-conditioned with train --clusters)',
    },
    provider: providerFlag,
  },
  examples: [
    'ganport generate --seed 1 --count 64 --out samples.png',
    'ganport generate cdcgan --count 80 --scale 2 --out classes.png',
    'ganport generate cdcgan --class 3 --count 16 --truncation 1.5 --out dresses.png',
    'ganport generate dcgan --provider webgpu --out gpu.png',
  ],
  async run({ out, class: label, provider, ...request }, model) {
    const modelPath = await resolveGeneratorFile(model ?? defaultGenerator());
    await refuseOut(out, modelPath);
    const providers = providerList(provider);
    // onnxruntime-node's WebGPU provider carries its own Dawn, which needs a Vulkan loader and driver on Linux
    if (providers?.includes('webgpu')) prepareVulkan();
    const generator = await loadGenerator(modelPath, { executionProviders: providers });
    try {
      const { numClasses, labelKind } = generator.info;
      if (isPointGenerator(generator.info) && (request.scale !== undefined || request.columns !== undefined))
        throw new GanportError('--scale and --columns lay out image grids; a 2-D generator draws one scatter plot');
      if (generator.info.labelInput && numClasses === undefined && label === undefined)
        throw new GanportError(
          `${modelPath} is conditional but does not record its classes (${META.numClasses}); choose one with --class K`,
        );
      if (label !== undefined && numClasses !== undefined && !(label >= 0 && label < numClasses))
        throw new GanportError(
          `--class ${label}: the model has ${numClasses} ${labelKind === 'cluster' ? 'clusters' : 'classes'}, 0 to ${numClasses - 1}`,
        );
      const t0 = performance.now();
      // images as a grid, the points of 2-D generators as a scatter plot
      const labels = label === undefined ? undefined : [label];
      const grid = await generator.generateGrid({ ...request, labels });
      const ms = performance.now() - t0;
      await writeFileAtomic(out, toPNG(grid));
      const kind = isPointGenerator(generator.info) ? 'points' : 'images';
      const how = `${modelPath}, ${generator.provider}, ${ms.toFixed(1)} ms`;
      const count = gridCount(generator.info, request.count, labels);
      const perClass =
        count === request.count
          ? ''
          : ` (${count / generator.info.numClasses!} per ${generator.info.labelKind ?? 'class'})`;
      console.log(`wrote ${out}: ${count} ${kind}${perClass} from seed ${request.seed} (${how})`);
    } finally {
      await generator.dispose();
    }
    return 0;
  },
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The path a file is reached by, links followed, where it exists. */
const realPathOf = (path: string) => realpath(path).catch(() => resolve(path));

/**
 * --out replaces only a PNG that no manifest lists: `--out` naming the model, a file of a model directory or
 * run, or any other file (a typo) replaced it, with no --overwrite to ask for that.
 */
async function refuseOut(out: string, modelPath: string): Promise<void> {
  const target = await realPathOf(out);
  if (target === (await realPathOf(modelPath))) throw new GanportError(`--out ${out} is the model itself`);
  const owner = await listingDirectory(target);
  if (owner)
    throw new GanportError(`--out ${out} belongs to ${owner} (its manifest lists it); write the PNG elsewhere`);
  const stats = await stat(target).catch(() => undefined); // none yet; or not a file, which the write reports
  if (!stats?.isFile() || stats.size === 0) return;
  const head = Buffer.alloc(PNG_SIGNATURE.length);
  try {
    const file = await open(target, 'r');
    try {
      await file.read(head, 0, head.length, 0);
    } finally {
      await file.close();
    }
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new GanportError(`--out ${out} exists and cannot be read (${why}) to see that it is a PNG`);
  }
  if (!head.equals(PNG_SIGNATURE))
    throw new GanportError(`--out ${out} exists and is not a PNG; generate replaces only PNGs`);
}

/** The runtime bound to onnxruntime-node; what `ganport/runtime` resolves to in Node. */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { type Generator, type LoadOptions, type OrtBinding, createGenerator, toBytes } from './core.js';
import { GanportError } from './errors.js';
import type { RgbaImage } from './image.js';
import { encodePng } from './png.js';

export * from './shared.js';

/** Loads a generator from a file path or the model's bytes. Default provider: cpu. */
export async function loadGenerator(source: string | ArrayBuffer | Uint8Array, options: LoadOptions = {}): Promise<Generator> {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (err) {
      throw new GanportError(`cannot read model ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'not-found');
    }
  } else bytes = toBytes(source);
  return createGenerator(ort as unknown as OrtBinding, bytes, options, ['cpu']);
}

/** Encodes an RGBA image (e.g. from `toGrid`) as PNG bytes. */
export function toPNG(image: RgbaImage): Uint8Array {
  return encodePng(image);
}

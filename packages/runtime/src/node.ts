// The runtime bound to onnxruntime-node: what `@ganport/runtime` resolves to in Node.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createGenerator, fetchModel, type Generator, type LoadOptions, type OrtBinding, toBytes } from './core.js';
import { GanportError } from './errors.js';
import type { RgbaImage } from './image.js';
import { encodePng } from './png.js';

// crc32 too: ganport checks .keras archive entries with it (node:zlib's crc32 is from Node 20.15 on)
export { crc32, encodePng } from './png.js';
export * from './shared.js';

/**
 * Loads a generator from a file path, a file:/http(s): URL, or the model's bytes.
 * Default provider: cpu; ask for others in `options`, tried in order: ['cuda', 'cpu'], or
 * ['webgpu', 'cpu'] for any GPU with Vulkan, Metal or D3D12 (onnxruntime-node's WebGPU provider
 * carries its own Dawn; on Linux it needs the Vulkan loader, libvulkan.so.1, and a driver).
 * `generator.provider` says which one was taken.
 */
export async function loadGenerator(
  source: string | URL | ArrayBuffer | Uint8Array,
  options: LoadOptions = {},
): Promise<Generator> {
  let bytes: Uint8Array;
  const url =
    source instanceof URL
      ? source
      : typeof source === 'string' && /^(https?|file):/.test(source)
        ? new URL(source)
        : undefined;
  if (url && url.protocol !== 'file:') bytes = await fetchModel(url);
  else if (url || typeof source === 'string') {
    const path = url ? fileURLToPath(url) : (source as string);
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new GanportError(
        `cannot read model ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'not-found',
      );
    }
  } else bytes = toBytes(source as ArrayBuffer | Uint8Array);
  const named = typeof source === 'string' || source instanceof URL ? String(source) : undefined;
  return createGenerator(ort as unknown as OrtBinding, bytes, options, ['cpu']).catch((err) => {
    // which file it was: a local path can hide a shipped model's name
    throw named && err instanceof GanportError ? new GanportError(`${named}: ${err.message}`, err.code) : err;
  });
}

/** Encodes an RGBA image (e.g. from `toGrid`) as PNG bytes. */
export function toPNG(image: RgbaImage): Uint8Array {
  return encodePng(image);
}

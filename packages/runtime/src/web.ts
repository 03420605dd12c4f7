// The runtime bound to onnxruntime-web: what `@ganport/runtime` resolves to in browsers and bundlers.
import * as ort from 'onnxruntime-web';
import { createGenerator, fetchModel, type Generator, type LoadOptions, type OrtBinding, toBytes } from './core.js';
import { GanportError } from './errors.js';
import type { RgbaImage } from './image.js';

export * from './shared.js';

/**
 * Loads a generator from a URL or the model's bytes. Default providers: WebGPU where
 * the browser has it (`navigator.gpu`), else wasm — multi-threaded when the page is
 * cross-origin isolated. `generator.provider` says which one was taken.
 */
export async function loadGenerator(
  source: string | URL | ArrayBuffer | Uint8Array,
  options: LoadOptions = {},
): Promise<Generator> {
  const bytes = typeof source === 'string' || source instanceof URL ? await fetchModel(source) : toBytes(source);
  const hasWebGpu = typeof navigator !== 'undefined' && 'gpu' in navigator;
  return createGenerator(ort as unknown as OrtBinding, bytes, options, hasWebGpu ? ['webgpu', 'wasm'] : ['wasm']);
}

/** Wraps an RGBA image as browser ImageData, ready for `putImageData`. */
export function toImageData(image: RgbaImage): ImageData {
  return new ImageData(new Uint8ClampedArray(image.pixels), image.width, image.height);
}

/** Draws an RGBA image onto a canvas, resizing the canvas to fit. */
export function drawToCanvas(image: RgbaImage, canvas: HTMLCanvasElement): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  if (!context) throw new GanportError('the canvas has no 2d context', 'unavailable');
  context.putImageData(toImageData(image), 0, 0);
}

/** Exposed so pages can tune wasm threads or paths before the first load. */
export const ortEnv = ort.env;

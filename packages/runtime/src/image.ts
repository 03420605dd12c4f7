// Turning generator outputs into pixels: the same code in Node and the browser.
import { GanportError, integerIn } from './errors.js';

/** How image tensors are laid out: channels last (tfjs's own) or channels first. */
export type Layout = 'NHWC' | 'NCHW';
export const LAYOUTS: readonly Layout[] = ['NHWC', 'NCHW'];

/** Reads a layout name in either case (`nchw` as on the command line); anything else is an error. */
export function toLayout(name: string): Layout {
  const layout = name.toUpperCase() as Layout;
  if (!LAYOUTS.includes(layout)) throw new GanportError(`layout must be NHWC or NCHW, got "${name}"`);
  return layout;
}

export interface ImageBatch {
  /** Values in `valueRange`, `count` images laid out as `layout`. */
  data: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  layout: Layout;
  valueRange: [number, number];
}

export interface RgbaImage {
  width: number;
  height: number;
  /** 4 bytes a pixel, row-major. */
  pixels: Uint8ClampedArray;
}

/** Largest grid side we will compose, so a typo in `count` cannot allocate gigabytes. */
export const MAX_GRID_PIXELS = 8192 * 8192;

/** One image of a batch as RGBA; grayscale (gray and alpha too) is replicated, alpha is opaque. */
export function toRgba(batch: ImageBatch, index: number): RgbaImage {
  const { height, width } = batch;
  const pixels = new Uint8ClampedArray(width * height * 4);
  paste(batch, integerIn('index', index, 0, batch.count - 1), pixels, width, 0, 0);
  return { width, height, pixels };
}

export interface GridOptions {
  /** Tiles per row (default: as square as possible). */
  columns?: number;
  /** Pixels between tiles (default 2). */
  padding?: number;
  /** Gray level of the padding (default 32). */
  background?: number;
  /** Nearest-neighbour upscaling of each tile, for small images (default 1). */
  scale?: number;
}

/** Tiles a batch into one image, row-major, with padding between tiles. */
export function toGrid(batch: ImageBatch, options: GridOptions = {}): RgbaImage {
  const { count } = batch;
  const scale = integerIn('scale', options.scale ?? 1, 1, 16);
  const height = batch.height * scale;
  const width = batch.width * scale;
  const columns = Math.min(count || 1, integerIn('columns', options.columns ?? Math.ceil(Math.sqrt(count) || 1), 1));
  const rows = Math.ceil(count / columns);
  const pad = integerIn('padding', options.padding ?? 2, 0, 64);
  const gridWidth = columns * width + (columns + 1) * pad;
  const gridHeight = rows * height + (rows + 1) * pad;
  if (gridWidth * gridHeight > MAX_GRID_PIXELS) {
    throw new GanportError(`a ${gridWidth}×${gridHeight} grid is too large; generate fewer images`);
  }
  const pixels = new Uint8ClampedArray(gridWidth * gridHeight * 4).fill(
    integerIn('background', options.background ?? 32, 0, 255),
  );
  for (let i = 0; i < count; i++) {
    const x0 = pad + (i % columns) * (width + pad);
    const y0 = pad + Math.floor(i / columns) * (height + pad);
    paste(batch, i, pixels, gridWidth, x0, y0, scale);
  }
  for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255;
  return { width: gridWidth, height: gridHeight, pixels };
}

/** Writes image `index` of the batch into `out` at (x0, y0), each source pixel as a `scale`×`scale` block. */
function paste(
  batch: ImageBatch,
  index: number,
  out: Uint8ClampedArray,
  outWidth: number,
  x0: number,
  y0: number,
  scale = 1,
): void {
  const { data, height, width, channels, layout, valueRange } = batch;
  const [lo, hi] = valueRange;
  const toByte = 255 / (hi - lo);
  const base = index * height * width * channels;
  for (let y = 0; y < height * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < width * scale; x++) {
      const sx = Math.floor(x / scale);
      const o = ((y0 + y) * outWidth + x0 + x) * 4;
      const at = (ch: number) =>
        data[layout === 'NHWC' ? base + (sy * width + sx) * channels + ch : base + (ch * height + sy) * width + sx];
      // gray (with or without alpha) repeats its first channel; any alpha is left out
      for (let c = 0; c < 3; c++) out[o + c] = Math.round((at(channels < 3 ? 0 : c) - lo) * toByte);
      out[o + 3] = 255;
    }
  }
}

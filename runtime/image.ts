/** Turning generator outputs into pixels: the same code in Node and the browser. */

export type Layout = 'NHWC' | 'NCHW';

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

/** One image of a batch as RGBA; grayscale is replicated, alpha is opaque. */
export function toRgba(batch: ImageBatch, index: number): RgbaImage {
  const { height, width } = batch;
  const pixels = new Uint8ClampedArray(width * height * 4);
  paste(batch, index, pixels, width, 0, 0);
  return { width, height, pixels };
}

/**
 * Tiles a batch into one image, `columns` wide (default: as square as possible),
 * with `padding` pixels of `background` between tiles.
 */
export function toGrid(
  batch: ImageBatch,
  options: { columns?: number; padding?: number; background?: number } = {},
): RgbaImage {
  const { count, height, width } = batch;
  const columns = Math.max(1, Math.min(count, options.columns ?? Math.ceil(Math.sqrt(count))));
  const rows = Math.ceil(count / columns);
  const pad = options.padding ?? 2;
  const gridWidth = columns * width + (columns + 1) * pad;
  const gridHeight = rows * height + (rows + 1) * pad;
  if (gridWidth * gridHeight > MAX_GRID_PIXELS) {
    throw new RangeError(`a ${gridWidth}×${gridHeight} grid is too large; generate fewer images`);
  }
  const pixels = new Uint8ClampedArray(gridWidth * gridHeight * 4).fill(options.background ?? 32);
  for (let i = 0; i < count; i++) {
    const x0 = pad + (i % columns) * (width + pad);
    const y0 = pad + Math.floor(i / columns) * (height + pad);
    paste(batch, i, pixels, gridWidth, x0, y0);
  }
  for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255;
  return { width: gridWidth, height: gridHeight, pixels };
}

function paste(batch: ImageBatch, index: number, out: Uint8ClampedArray, outWidth: number, x0: number, y0: number): void {
  const { data, height, width, channels, layout, valueRange } = batch;
  const [lo, hi] = valueRange;
  const scale = 255 / (hi - lo);
  const imageSize = height * width * channels;
  const base = index * imageSize;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = ((y0 + y) * outWidth + x0 + x) * 4;
      for (let c = 0; c < 3; c++) {
        const ch = channels === 1 ? 0 : Math.min(c, channels - 1);
        const i = layout === 'NHWC' ? base + (y * width + x) * channels + ch : base + (ch * height + y) * width + x;
        out[o + c] = Math.round((data[i] - lo) * scale);
      }
      out[o + 3] = 255;
    }
  }
}

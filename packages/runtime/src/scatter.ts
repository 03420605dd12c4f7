// Scatter plots of 2-D generator outputs (the mixture-of-Gaussians presets), as RGBA images.
import { GanportError, integerIn } from './errors.js';
import type { RgbaImage } from './image.js';

export interface ScatterOptions {
  size?: number;
  /** Data range shown on both axes. */
  extent?: number;
  /** Mode centres, drawn as red crosses under the samples. */
  modes?: [number, number][];
}

export function scatterPlot(points: Float32Array, options: ScatterOptions = {}): RgbaImage {
  const size = integerIn('size', options.size ?? 400, 8, 8192);
  const extent = options.extent ?? points.reduce((most, v) => Math.max(most, Math.abs(v)), 1.5) * 1.1;
  if (!(extent > 0 && extent < Number.POSITIVE_INFINITY)) throw new GanportError(`extent must be > 0, got ${extent}`);
  const pixels = new Uint8ClampedArray(size * size * 4).fill(255);
  const toPixel = (v: number) => Math.round(((v + extent) / (2 * extent)) * (size - 1));
  const plot = (x: number, y: number, rgb: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    pixels.set(rgb, (y * size + x) * 4);
  };
  for (let i = 0; i <= size; i += size / 8)
    for (let j = 0; j < size; j++) {
      plot(Math.round(i), j, [235, 235, 235]);
      plot(j, Math.round(i), [235, 235, 235]);
    }
  for (const [mx, my] of options.modes ?? []) {
    const [px, py] = [toPixel(mx), size - 1 - toPixel(my)];
    for (let d = -4; d <= 4; d++) {
      plot(px + d, py, [220, 40, 40]);
      plot(px, py + d, [220, 40, 40]);
    }
  }
  for (let i = 0; i + 1 < points.length; i += 2) {
    const [px, py] = [toPixel(points[i]), size - 1 - toPixel(points[i + 1])];
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ])
      plot(px + dx, py + dy, [30, 80, 180]);
  }
  return { width: size, height: size, pixels };
}

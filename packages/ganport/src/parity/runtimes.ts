/**
 * What `ganport parity` compares and how closely: the runtimes' names, the tolerances and the
 * default Chromium. Apart from parity.ts so that the command line states them without loading tfjs.
 */
import { GanportError } from '@ganport/runtime';

export const RUNTIMES = [
  'tfjs',
  'ort-node',
  'ort-node-webgpu',
  'ort-web',
  'ort-web-chromium',
  'ort-web-chromium-webgpu',
] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** The rows that run on a GPU through WebGPU: skipped, with the reason, where there is no adapter and none was asked for. */
export const WEBGPU_RUNTIMES: readonly RuntimeName[] = ['ort-node-webgpu', 'ort-web-chromium-webgpu'];

export const DEFAULT_TOLERANCE = 1e-4;
/**
 * For the WebGPU rows: GPUs reorder sums and may use fused multiply-adds and faster transcendentals
 * (onnxruntime's own web tests allow 1e-3 for webgpu). Measured on SwiftShader: about 1e-6.
 */
export const DEFAULT_WEBGPU_TOLERANCE = 1e-3;

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function parseRuntimes(list: string): RuntimeName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(RUNTIMES as readonly string[]).includes(n))
      throw new GanportError(`unknown runtime "${n}"; choose from ${RUNTIMES.join(', ')}`);
  if (!names.includes('tfjs')) names.unshift('tfjs'); // the reference is always run
  return names as RuntimeName[];
}

/**
 * Picks the TensorFlow.js backend: tfjs-node-gpu → tfjs-node → ort → wasm → cpu
 * (`ort`: the wasm backend with its heavy kernels computed by onnxruntime-node, see ort-kernels.ts).
 * The native packages are optional dependencies (their install downloads
 * libtensorflow), so each is tried with a dynamic import and skipped when absent.
 */

import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { ORT_BACKEND, registerOrtBackend } from './ort-kernels.js';
import { registerWasmGradientKernels } from './wasm-kernels.js';

export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'ort', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  name: BackendName;
  /** Why this one: what was tried before it and why it was passed over. */
  reason: string;
}

const NATIVE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

async function activate(name: BackendName): Promise<void> {
  const pkg = NATIVE_PACKAGES[name];
  if (pkg) {
    await import(pkg); // registers the 'tensorflow' backend with the shared tfjs-core
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
    return;
  }
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmGradientKernels();
  }
  if (name === ORT_BACKEND) await registerOrtBackend();
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend did not initialise`);
}

/** Activates `requested`, or the fastest available backend in `order` when none is requested. */
export async function selectBackend(
  requested?: string,
  order: readonly BackendName[] = BACKENDS,
): Promise<BackendChoice> {
  tf.env().set('PROD', true); // silences tfjs's own "install tfjs-node" banner; we report the choice ourselves
  if (requested !== undefined) {
    if (!(BACKENDS as readonly string[]).includes(requested)) {
      throw new GanportError(`unknown backend "${requested}"; choose one of ${BACKENDS.join(', ')}`);
    }
    try {
      await activate(requested as BackendName);
    } catch (err) {
      throw new GanportError(`backend ${requested} is unavailable: ${firstLine(err)}`, 'unavailable');
    }
    return { name: requested as BackendName, reason: 'requested with --backend' };
  }
  const skipped: string[] = [];
  for (const name of order) {
    try {
      await activate(name);
      return { name, reason: skipped.length ? `fastest available (${skipped.join('; ')})` : 'fastest available' };
    } catch (err) {
      skipped.push(`${name}: ${firstLine(err)}`);
    }
  }
  throw new GanportError(`no TensorFlow.js backend could be initialised (${skipped.join('; ')})`, 'unavailable');
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Cannot find (package|module)/.test(message)) return 'not installed';
  return message.split('\n')[0];
}

/** Backends whose kernels are tfjs's own, so their outputs can be the reference onnxruntime is checked against. */
export const REFERENCE_BACKENDS = BACKENDS.filter((name) => name !== ORT_BACKEND);

/**
 * Activates a backend for tfjs reference outputs (parity, the exporter): never `ort`, whose
 * kernels are onnxruntime's, so comparing it with onnxruntime would compare onnxruntime with itself.
 */
export async function selectReferenceBackend(requested?: string): Promise<BackendChoice> {
  if (requested === ORT_BACKEND) {
    throw new GanportError(
      `the ${ORT_BACKEND} backend computes with onnxruntime, so it cannot be the tfjs reference; ` +
        `choose one of ${REFERENCE_BACKENDS.join(', ')}`,
    );
  }
  return selectBackend(requested, REFERENCE_BACKENDS);
}

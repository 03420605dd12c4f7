/**
 * Picks the training backend: tfjs-node-gpu → webgpu (a hardware adapter) → onnx → tfjs-node → ort → wasm → cpu
 * (`onnx`: the onnx training engine, each whole step one graph in onnxruntime-node, see train/onnx-step.ts,
 * with `ort` as the tfjs backend of everything else; `ort`: the wasm backend with its heavy kernels
 * computed by onnxruntime-node, see ort-kernels.ts; `webgpu`: tfjs-backend-webgpu on Dawn's Node
 * bindings, see webgpu.ts).
 * The native packages are optional peer dependencies (tfjs-node's install downloads libtensorflow)
 * and the WebGPU ones optional dependencies, so each is tried with a dynamic import and skipped when absent.
 */

import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, type BackendName, ONNX_BACKEND, ORT_BACKEND } from './backend-names.js';
import { registerOrtBackend } from './ort-kernels.js';
import { probeWebGpu } from './probe.js';
import { registerWasmGradientKernels } from './wasm-kernels.js';
import { type AdapterSummary, describeAdapter, setUpWebGpu } from './webgpu.js';

export interface BackendChoice {
  name: BackendName;
  /** Why this one: what was tried before it and why it was passed over. */
  reason: string;
  /** For webgpu: the adapter, e.g. "nvidia ampere (…; hardware)". */
  adapter?: string;
  /** For webgpu: the adapter is a CPU implementation (SwiftShader, …): its speed is no GPU's. */
  software?: boolean;
  /** For onnx: onnxruntime's execution providers, in order of preference (default: the CPU). */
  providers?: string[];
}

interface Activation {
  /** Auto-selection: a software WebGPU adapter (SwiftShader, …) is passed over, being slower than wasm. */
  auto: boolean;
}

/** The tfjs-node(-gpu) version ganport's package.json names as its optional peer (tfjs's own). */
const NATIVE_VERSION = '4.22.0';
const NATIVE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Activates `name`; returns the device where there is one to describe (webgpu's adapter). */
async function activate(name: BackendName, { auto }: Activation): Promise<AdapterSummary | undefined> {
  if (name === 'webgpu') return activateWebGpu(auto);
  const pkg = NATIVE_PACKAGES[name];
  if (pkg) {
    // registers the 'tensorflow' backend with the shared tfjs-core; an optional peer, which npm leaves out by default
    await import(pkg).catch((err: NodeJS.ErrnoException) => {
      // the package itself missing, not a module inside it
      const missing = err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${pkg}'`);
      throw missing ? new Error(`${pkg} is not installed (npm install ${pkg}@${NATIVE_VERSION})`) : err;
    });
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
    return;
  }
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmGradientKernels();
  }
  if (name === ORT_BACKEND || name === ONNX_BACKEND) await registerOrtBackend();
  // the onnx engine runs its steps in onnxruntime, and everything else (capture, samples, eval) on ort
  const tfjsName = name === ONNX_BACKEND ? ORT_BACKEND : name;
  if (!(await tf.setBackend(tfjsName))) throw new Error(`the ${tfjsName} backend did not initialise`);
  return undefined;
}

async function activateWebGpu(auto: boolean): Promise<AdapterSummary> {
  // choosing by itself, ganport first asks a child process: Dawn is loaded here only to be used
  if (auto) {
    const { adapter, error } = await probeWebGpu();
    if (!adapter) throw new Error(error ?? 'no WebGPU adapter');
    if (adapter.software)
      throw new Error(`only a software adapter, ${describeAdapter(adapter)}, slower than the CPU backends`);
  }
  const { adapter } = await setUpWebGpu();
  const described = describeAdapter(adapter);
  try {
    await import('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' now that navigator.gpu exists
  } catch (err) {
    if (/Cannot find (package|module)/.test((err as Error).message)) {
      throw new Error(
        '@tensorflow/tfjs-backend-webgpu is not installed (npm install @tensorflow/tfjs-backend-webgpu@4.22.0)',
      );
    }
    throw err;
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error(`the webgpu backend did not initialise on ${described}`);
  return adapter;
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
    let adapter: AdapterSummary | undefined;
    try {
      adapter = await activate(requested as BackendName, { auto: false });
    } catch (err) {
      throw new GanportError(`backend ${requested} is unavailable: ${firstLine(err)}`, 'unavailable');
    }
    return withAdapter({ name: requested as BackendName, reason: 'requested with --backend' }, adapter);
  }
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const adapter = await activate(name, { auto: true });
      const reason = skipped.length ? `fastest available (${skipped.join('; ')})` : 'fastest available';
      return withAdapter({ name, reason }, adapter);
    } catch (err) {
      skipped.push(`${name}: ${firstLine(err)}`);
    }
  }
  throw new GanportError(`no TensorFlow.js backend could be initialised (${skipped.join('; ')})`, 'unavailable');
}

/** The adapter goes into the reason, which is the line train prints. */
function withAdapter(choice: BackendChoice, adapter: AdapterSummary | undefined): BackendChoice {
  if (adapter === undefined) return choice;
  const described = describeAdapter(adapter);
  const slow = adapter.software ? '; a software adapter: correct but slow' : '';
  return {
    ...choice,
    adapter: described,
    software: adapter.software,
    reason: `${choice.reason}; adapter ${described}${slow}`,
  };
}

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Why not, or what it runs on. */
  detail: string;
  /** Auto-selection would pass over it although it works (a software WebGPU adapter). */
  passedOver?: boolean;
}

/**
 * Tries every backend in turn (for `ganport doctor`): whether it initialises, and why not.
 * Leaves the last one that initialised active.
 */
export async function probeBackends(): Promise<BackendProbe[]> {
  tf.env().set('PROD', true);
  const probes: BackendProbe[] = [];
  for (const name of BACKENDS) {
    if (name === 'webgpu') {
      probes.push(await probeWebGpuBackend());
      continue;
    }
    try {
      const adapter = await activate(name, { auto: false });
      probes.push({
        name,
        available: true,
        detail: adapter ? `adapter ${describeAdapter(adapter)}` : 'initialises',
        passedOver: adapter?.software || undefined,
      });
    } catch (err) {
      probes.push({ name, available: false, detail: firstLine(err) });
    }
  }
  return probes;
}

/** The webgpu backend as a child process found it (doctor loads no Dawn of its own). */
async function probeWebGpuBackend(): Promise<BackendProbe> {
  const { adapter, backend, error } = await probeWebGpu();
  if (!adapter) return { name: 'webgpu', available: false, detail: firstLine(error) };
  const available = backend === 'initialises';
  const detail = available ? `adapter ${describeAdapter(adapter)}` : `tfjs-backend-webgpu ${backend}`;
  return { name: 'webgpu', available, detail, passedOver: (available && adapter.software) || undefined };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Cannot find (package|module)/.test(message)) return 'not installed';
  // tfjs-node(-gpu) present, but its install step (the libtensorflow download) did not run or failed
  if (/native addon module .* can not be found/.test(message))
    return 'installed without its native addon (libtensorflow)';
  return message.split('\n')[0];
}

/** Backends whose kernels are tfjs's own, so their outputs can be the reference onnxruntime is checked against. */
export const REFERENCE_BACKENDS = BACKENDS.filter((name) => name !== ORT_BACKEND && name !== ONNX_BACKEND);

/** Tried for a reference when none is asked for: not webgpu, whose float arithmetic varies by GPU and driver. */
const AUTO_REFERENCE_BACKENDS = REFERENCE_BACKENDS.filter((name) => name !== 'webgpu');

/**
 * Activates a backend for tfjs reference outputs (parity, the exporter): never `ort`, whose
 * kernels are onnxruntime's, so comparing it with onnxruntime would compare onnxruntime with itself;
 * webgpu only when asked for.
 */
export async function selectReferenceBackend(requested?: string): Promise<BackendChoice> {
  if (requested === ORT_BACKEND || requested === ONNX_BACKEND) {
    throw new GanportError(
      `the ${requested} backend computes with onnxruntime, so it cannot be the tfjs reference; ` +
        `choose one of ${REFERENCE_BACKENDS.join(', ')}`,
    );
  }
  return selectBackend(requested, AUTO_REFERENCE_BACKENDS);
}

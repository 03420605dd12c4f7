/**
 * The training backends' names, fastest first (backend.ts picks among them). Kept apart from the
 * backends themselves so that the command line can list them without loading tfjs.
 */

/** The onnx training engine's name as a backend (train/onnx-step.ts). */
export const ONNX_BACKEND = 'onnx';
/** The wasm backend with its heavy kernels on onnxruntime-node (ort-kernels.ts). */
export const ORT_BACKEND = 'ort';

export const BACKENDS = ['tensorflow-gpu', 'webgpu', ONNX_BACKEND, 'tensorflow', ORT_BACKEND, 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

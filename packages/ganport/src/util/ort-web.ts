/** onnxruntime-web's own browser files, served as they are by the demo and the browser parity page. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** The directory holding ort.min.mjs and the ONNX Runtime wasm binaries. */
export const ortWebDist = (): string => dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));

/** The URL path both pages serve `ortWebDist()` under; their import maps point 'onnxruntime-web' into it. */
export const ORT_WEB_ROUTE = '/ort/';

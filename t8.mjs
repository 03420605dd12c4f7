import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './dist/tfjs/backend.js';
await selectBackend('wasm');
const a = tf.randomNormal([1, 1024, 1024]), b = tf.randomNormal([1, 1024, 1024]);
tf.matMul(a, b).dataSync();
let t0 = performance.now(); for (let i = 0; i < 3; i++) tf.tidy(() => tf.matMul(a, b).dataSync()); const ms = (performance.now() - t0) / 3;
console.log('matmul 1024 ms', ms.toFixed(1), 'GFLOP/s', (2 * 1024 ** 3 / ms / 1e6).toFixed(2));

import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './dist/tfjs/backend.js';
import { dcgan } from './dist/models/dcgan.js';
import { ganLoss } from './dist/train/losses.js';
await selectBackend('wasm');
const p = dcgan({ name: 'b', description: '', size: 28, channels: 1, dropout: 0 });
const G = p.buildGenerator(1), Dm = p.buildDiscriminator(1);
const L = tf.model({ inputs: Dm.inputs, outputs: Dm.getLayer('logit').output });
const loss = ganLoss('bce');
const dO = tf.train.adam(2e-4, 0.5), gO = tf.train.adam(2e-4, 0.5);
const dV = Dm.trainableWeights.map(w => w.read()), gV = G.trainableWeights.map(w => w.read());
const real = tf.randomUniform([64, 28, 28, 1], -1, 1);
const step = () => tf.tidy(() => {
  const z = tf.randomNormal([64, 100]);
  dO.minimize(() => loss.discriminator(L.apply(real, { training: true }), L.apply(G.apply(z, { training: true }), { training: true })), false, dV);
  gO.minimize(() => loss.generator(L.apply(G.apply(z, { training: true }), { training: true })), false, gV);
});
step(); step();
let t0 = performance.now(); for (let i = 0; i < 5; i++) step(); console.log('ms/step', (performance.now() - t0) / 5);
const prof = await tf.profile(() => step());
const agg = {};
for (const k of prof.kernels) { agg[k.name] = (agg[k.name] || 0) + (k.kernelTimeMs || 0); }
console.log(Object.entries(agg).sort((a, b) => b[1] - a[1]).slice(0, 15));

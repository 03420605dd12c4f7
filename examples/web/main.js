// A web page running a generator as a user would: a bundler (vite here; webpack and esbuild alike)
// resolves '@ganport/runtime' to its browser build through package.json "exports".
import { drawToCanvas, loadGenerator } from '@ganport/runtime';

const status = document.querySelector('#status');
const shown = (promise) =>
  promise.catch((err) => {
    status.textContent = `error: ${err.message}`;
  });
const generator = await shown(loadGenerator('./generator.onnx'));
async function render(seed) {
  const t0 = performance.now();
  // runs queue on the generator's session: typing fast never runs two at once (WebGPU refuses that)
  drawToCanvas(await generator.generateGrid({ seed, count: 64, scale: 2 }), document.querySelector('canvas'));
  status.textContent = `seed ${seed} · ${generator.provider} · ${(performance.now() - t0).toFixed(1)} ms`;
}
if (generator) {
  document.querySelector('#seed').addEventListener('input', (e) => shown(render(Number(e.target.value))));
  await shown(render(1));
}

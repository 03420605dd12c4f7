// A web page running a generator as a user would: a bundler (vite here; webpack and esbuild alike)
// resolves '@ganport/runtime' to its browser build through package.json "exports".
import { drawToCanvas, loadGenerator } from '@ganport/runtime';

const status = document.querySelector('#status');
const generator = await loadGenerator('./generator.onnx');
async function render(seed) {
  const t0 = performance.now();
  drawToCanvas(await generator.generateGrid({ seed, count: 64, scale: 2 }), document.querySelector('canvas'));
  status.textContent = `seed ${seed} · ${generator.provider} · ${(performance.now() - t0).toFixed(1)} ms`;
}
document.querySelector('#seed').addEventListener('input', (e) => render(Number(e.target.value)));
await render(1);

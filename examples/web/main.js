// A web page using ganport's runtime as a user would: a bundler (vite, webpack, esbuild)
// resolves 'ganport/runtime' to the browser build through package.json "exports".
import { drawToCanvas, loadGenerator } from 'ganport/runtime';

const status = document.querySelector('#status');
const generator = await loadGenerator(new URL('./generator.onnx', import.meta.url));
async function render(seed) {
  const t0 = performance.now();
  drawToCanvas(await generator.generateGrid({ seed, count: 64, scale: 2 }), document.querySelector('canvas'));
  status.textContent = `seed ${seed} · ${generator.provider} · ${(performance.now() - t0).toFixed(1)} ms`;
}
document.querySelector('#seed').addEventListener('input', (e) => render(Number(e.target.value)));
await render(1);

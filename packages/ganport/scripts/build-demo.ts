/**
 * Builds the demo page with vite into dist/demo-site: the page and its bundle (the
 * runtime's browser build). onnxruntime-web stays out of the bundle: the page's import
 * map loads it from onnxruntime-web's own dist/ files, which `ganport demo` serves,
 * so the package carries no second copy of ONNX Runtime's wasm binaries.
 *
 * A build-time script (vite is a dev dependency): it lives outside src/, so the installed
 * package never imports it; the package ships the built page.
 */
import { join } from 'node:path';
import { build } from 'vite';
import { demoSite } from '../src/demo/site-dir.js';
import { packageRoot } from '../src/util/files.js';

const out = demoSite();
await build({
  root: join(packageRoot(), 'src', 'demo', 'site'),
  base: './',
  logLevel: 'warn',
  build: { outDir: out, emptyOutDir: true, target: 'es2022', rollupOptions: { external: ['onnxruntime-web'] } },
  resolve: { conditions: ['browser'] },
});
console.log(`built ${out}`);

/**
 * Builds the demo page with vite into dist/demo-site: the page and its bundle (the
 * runtime's browser build). onnxruntime-web stays out of the bundle: the page's import
 * map loads it from onnxruntime-web's own dist/ files, which `ganport demo` serves,
 * so the package carries no second copy of ONNX Runtime's wasm binaries.
 */
import { join } from 'node:path';
import { build } from 'vite';
import { packageRoot } from '../util/files.js';

export const demoSite = (): string => join(packageRoot(), 'dist', 'demo-site');

export async function buildDemo(): Promise<string> {
  const out = demoSite();
  await build({
    root: join(packageRoot(), 'src', 'demo', 'site'),
    base: './',
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true, target: 'es2022', rollupOptions: { external: ['onnxruntime-web'] } },
    resolve: { conditions: ['browser'] },
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built ${await buildDemo()}`);

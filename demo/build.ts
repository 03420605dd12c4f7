/**
 * Builds the demo page with vite into dist/demo-site: the page, its bundle (the
 * runtime's browser build and onnxruntime-web), and the ONNX Runtime wasm binary.
 */
import { join } from 'node:path';
import { build } from 'vite';
import { packageRoot } from '../util/files.js';

export const demoSite = () => join(packageRoot(), 'dist', 'demo-site');

export async function buildDemo(): Promise<string> {
  const out = demoSite();
  await build({
    root: join(packageRoot(), 'demo'),
    base: './',
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
    resolve: { conditions: ['browser'] },
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built ${await buildDemo()}`);

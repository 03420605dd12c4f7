/**
 * Builds the demo page into dist/demo-site: the bundle (esbuild, which resolves the
 * runtime's browser build) and the page. onnxruntime-web's wasm files are served
 * from its own package by `ganport demo`, not copied.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../util/files.js';

export const demoSite = () => join(packageRoot(), 'dist', 'demo-site');

export async function buildDemo(): Promise<string> {
  const root = packageRoot();
  const out = demoSite();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({ entryPoints: [join(root, 'dist', 'demo', 'main.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', conditions: ['browser'], outfile: join(out, 'bundle.js'), logLevel: 'warning' });
  copyFileSync(join(root, 'demo', 'index.html'), join(out, 'index.html'));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built ${await buildDemo()}`);

/**
 * The runtime's own size in a browser bundle: the web build (and everything it
 * imports) bundled and minified by esbuild with onnxruntime-web left out, then gzipped.
 * Goal: ≤ 15 kB. Run: npm run bench:bundle
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { packageRoot } from '../src/util/files.js';

export async function runtimeBundleSize(): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    stdin: { contents: "export * from 'ganport/runtime';", resolveDir: packageRoot(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser'],
    external: ['onnxruntime-web'],
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { minified, gzipped } = await runtimeBundleSize();
  console.log(`ganport/runtime browser build, onnxruntime-web excluded: ${(minified / 1024).toFixed(1)} kB minified, ${(gzipped / 1024).toFixed(1)} kB gzipped (goal ≤ 15 kB)`);
}

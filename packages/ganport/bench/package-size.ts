/**
 * What each package costs its users: the runtime's own browser bundle (minified and gzipped,
 * onnxruntime-web excluded), both packages' packed and unpacked sizes, and what a fresh app
 * installs with each. Goals: @ganport/runtime ≤ 50 kB unpacked, its bundle ≤ 15 kB gzipped.
 * Run: npm run bench:size
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { directoryBytes, installExample, packWorkspace } from './fresh-app.js';

export async function runtimeBundleSize(): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    stdin: { contents: "export * from '@ganport/runtime';", resolveDir: import.meta.dirname, loader: 'js' },
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

// run as a script (the path may hold spaces, which URLs escape, or be reached through a link), not imported
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
  const MB = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  const { minified, gzipped } = await runtimeBundleSize();
  console.log(
    `@ganport/runtime browser bundle, onnxruntime-web excluded: ${kB(minified)} minified, ${kB(gzipped)} gzipped`,
  );
  const packs = packWorkspace();
  for (const p of packs.values()) {
    console.log(`${p.name}: ${kB(p.packedBytes)} packed, ${kB(p.unpackedBytes)} unpacked, ${p.files} files`);
  }
  for (const [example, what] of [
    ['web', '@ganport/runtime + onnxruntime-web + vite'],
    ['node', '@ganport/runtime + onnxruntime-node'],
    ['library', 'ganport + @ganport/runtime'],
  ]) {
    const app = installExample(example, packs);
    console.log(`fresh ${example} app (${what}): node_modules ${MB(directoryBytes(join(app, 'node_modules')))}`);
  }
}

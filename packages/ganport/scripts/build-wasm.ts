/**
 * Compiles src/train/host-update.wat into src/train/host-update-wasm.ts, the bytes the trainer loads:
 * `npm run build:wasm -w ganport` after editing the .wat. A build-time script (wabt is a dev
 * dependency), so the installed package carries the compiled module and no compiler; a test checks
 * that the two files agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import wabt from 'wabt';
import { packageRoot } from '../src/util/files.js';

const source = () => join(packageRoot(), 'src', 'train', 'host-update.wat');

/** host-update.wat as a WebAssembly binary. */
export async function compileHostUpdate(): Promise<Uint8Array> {
  const module = (await wabt()).parseWat('host-update.wat', readFileSync(source(), 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const base64 = Buffer.from(await compileHostUpdate()).toString('base64');
  writeFileSync(
    join(packageRoot(), 'src', 'train', 'host-update-wasm.ts'),
    `// Generated from host-update.wat by \`npm run build:wasm -w ganport\` (scripts/build-wasm.ts); do not edit.\n` +
      `export const HOST_UPDATE_WASM = '${base64}';\n`,
  );
}

/**
 * Compiles the trainer's WebAssembly, each src/train/NAME.wat into src/train/NAME-wasm.ts (the bytes the
 * trainer loads): `npm run build:wasm -w ganport` after editing a .wat. A build-time script (wabt is a dev
 * dependency), so the installed package carries the compiled modules and no compiler; tests check that
 * the files agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import wabt from 'wabt';
import { packageRoot } from '../src/util/files.js';

/** The modules, by .wat name, with the constant their -wasm.ts exports. */
export const WASM_MODULES = { 'host-update': 'HOST_UPDATE_WASM', 'alea-uniforms': 'ALEA_UNIFORMS_WASM' } as const;
export type WasmModule = keyof typeof WASM_MODULES;

const trainFile = (name: string) => join(packageRoot(), 'src', 'train', name);

/** src/train/NAME.wat as a WebAssembly binary. */
export async function compileWat(name: WasmModule): Promise<Uint8Array> {
  // as bytes: wabt sizes a string's buffer by its characters, and the comments hold multi-byte ones
  const module = (await wabt()).parseWat(`${name}.wat`, readFileSync(trainFile(`${name}.wat`)), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, constant] of Object.entries(WASM_MODULES)) {
    const base64 = Buffer.from(await compileWat(name as WasmModule)).toString('base64');
    writeFileSync(
      trainFile(`${name}-wasm.ts`),
      `// Generated from ${name}.wat by \`npm run build:wasm -w ganport\` (scripts/build-wasm.ts); do not edit.\n` +
        `export const ${constant} = '${base64}';\n`,
    );
  }
}

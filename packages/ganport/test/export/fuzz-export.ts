/**
 * The exporter's differential fuzzer, run long: `npm run fuzz:export -- --runs N [--seed S]` draws N
 * random models and exports (fuzz-models.ts), compares each in onnxruntime-node with tfjs, and prints
 * what it covered; on a failure, the shrunk counterexample as JSON (a FuzzCase, for a regression test
 * in fuzz.test.ts) and exit status 1.
 */
import fc from 'fast-check';
import { selectBackend } from '../../src/tfjs/backend.js';
import { checkCase, type FuzzCase, fuzzCases, type LayerSpec } from './fuzz-models.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} takes a non-negative integer`);
  return value;
}

const runs = flag('--runs', 200);
const seed = flag('--seed', Date.now() % 2 ** 31);
await selectBackend('cpu');

const kinds = new Map<string, number>();
const count = (layers: LayerSpec[]) => {
  for (const layer of layers) {
    kinds.set(layer.kind, (kinds.get(layer.kind) ?? 0) + 1);
    if (layer.kind === 'nested') count(layer.args.chain as unknown as LayerSpec[]);
  }
};
let compared = 0;
let overflowed = 0;
const started = Date.now();
const details = await fc.check(
  fc.asyncProperty(fuzzCases, async (c: FuzzCase) => {
    count(c.model.layers);
    if (await checkCase(c)) compared++;
    else overflowed++;
  }),
  { numRuns: runs, seed },
);
const seconds = ((Date.now() - started) / 1000).toFixed(0);
console.log(
  `fuzz:export seed ${seed}: ${details.numRuns} cases in ${seconds} s (${compared} compared, ${overflowed} skipped: tfjs's own output not finite)`,
);
console.log(`layers drawn: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
if (details.failed) {
  console.log(`FAILED after ${details.numShrinks} shrinks: ${String(details.errorInstance).split('\n')[0]}`);
  console.log(JSON.stringify(details.counterexample?.[0]));
  process.exitCode = 1;
}

// A Node app running a generator as a user would (`npm install` here, with the packages from `npm pack`:
// the README's runtime section says how), then
//   node generate.mjs MODEL.onnx [OUT.png]
import { writeFileSync } from 'node:fs';
import { interpolate, loadGenerator, toPNG } from '@ganport/runtime';

const model = process.argv[2];
if (!model) {
  console.error('usage: node generate.mjs MODEL.onnx [OUT.png]');
  process.exit(2);
}
const out = process.argv[3] ?? 'example-grid.png';

const generator = await loadGenerator(model);
console.log(
  `loaded ${model}: latent ${generator.info.latentSize}, output ${generator.info.outputShape.join('×')}, provider ${generator.provider}`,
);

// 8 rows: each a slerp walk between two seeded latents
const rows = [];
for (let row = 0; row < 8; row++) {
  const [a, b] = [
    generator.sampleLatents({ seed: 2 * row, count: 1 }),
    generator.sampleLatents({ seed: 2 * row + 1, count: 1 }),
  ];
  rows.push(interpolate(a, b, 8, 'slerp'));
}
const latents = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
let offset = 0;
for (const r of rows) {
  latents.set(r, offset);
  offset += r.length;
}

// a conditional generator draws one class (or cluster) along each row, so that only the latent changes
const { numClasses } = generator.info;
const labels = numClasses ? Array.from({ length: 64 }, (_, i) => Math.floor(i / 8) % numClasses) : undefined;
if (labels) console.log(`a label per row: ${labels.filter((_, i) => i % 8 === 0).join(' ')}`);

const grid = await generator.generateGrid({ latents, labels, columns: 8, scale: 2 });
writeFileSync(out, toPNG(grid));
console.log(`wrote ${out} (${grid.width}×${grid.height})`);
await generator.dispose();

import { MAX_COUNT } from '@ganport/runtime';
import {
  DEFAULT_CHROMIUM,
  DEFAULT_TOLERANCE,
  DEFAULT_WEBGPU_TOLERANCE,
  parseRuntimes,
  RUNTIMES,
} from '../../parity/runtimes.js';
import { defineCommand } from '../flags.js';

export const parityCommand = defineCommand({
  name: 'parity',
  summary: 'compare tfjs, onnxruntime-node, onnxruntime-web and Chromium outputs (WebGPU too)',
  positional: {
    name: 'MODEL_DIR',
    required: true,
    help: 'an exported model directory (with its tfjs/ reference), or a shipped model: seed-mlp, dcgan, …',
  },
  flags: {
    seed: { type: 'int', value: 'S', help: 'seeds the latent vectors (default 0)' },
    count: { type: 'int', value: 'N', help: `latent vectors to compare on, 1 to ${MAX_COUNT} (default 16)` },
    tolerance: { type: 'number', value: 'T', help: `largest abs error that passes (default ${DEFAULT_TOLERANCE})` },
    'webgpu-tolerance': {
      type: 'number',
      value: 'T',
      option: 'webgpuTolerance',
      help: `the same for the WebGPU rows (default ${DEFAULT_WEBGPU_TOLERANCE}, or --tolerance if larger)`,
    },
    runtimes: {
      type: 'string',
      value: 'LIST',
      help:
        `comma-separated, of ${RUNTIMES.join(', ')} ` +
        '(default: all, the WebGPU ones skipped where there is no adapter; tfjs, the reference, always runs)',
    },
    backend: {
      type: 'string',
      value: 'NAME',
      help: 'tfjs backend of the reference run (default: the fastest present)',
    },
    chromium: {
      type: 'string',
      value: 'PATH',
      help: `the Chromium for ort-web-chromium (default: $GANPORT_CHROMIUM, else ${DEFAULT_CHROMIUM})`,
    },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  examples: [
    'ganport parity seed-mlp --count 64',
    'ganport parity models/my-dcgan --runtimes ort-node,ort-web --tolerance 1e-2',
  ],
  async run({ json, runtimes, ...options }, modelDir) {
    const { formatParity, runParity } = await import('../../parity/parity.js');
    const report = await runParity(modelDir, {
      ...options,
      runtimes: runtimes !== undefined ? parseRuntimes(runtimes) : undefined,
    });
    console.log(json ? JSON.stringify(report, null, 2) : formatParity(report));
    // a runtime that failed is also a line of its own on stderr, where a failure is looked for
    for (const row of report.rows) if (row.failed) console.error(`ganport parity: ${row.runtime}: ${row.failed}`);
    return report.ok ? 0 : 1;
  },
});

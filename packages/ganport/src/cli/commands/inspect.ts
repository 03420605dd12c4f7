import { formatInspection } from '../../export/index.js';
import { selectBackend } from '../../tfjs/backend.js';
import { loadLayersModel } from '../../tfjs/model-io.js';
import { defineCommand } from '../flags.js';

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'show a tfjs model’s layer tree and what the ONNX exporter will do with it',
  positional: { name: 'MODEL_JSON', required: true, help: 'a tfjs LayersModel (model.json and its weight files)' },
  flags: {},
  examples: ['ganport inspect runs/dcgan/generator/model.json', 'ganport inspect tm-model/model.json'],
  async run(_values, source) {
    await selectBackend('cpu');
    const model = await loadLayersModel(source);
    process.stdout.write(formatInspection(model));
    model.dispose();
    return 0;
  },
});

import { formatInspection, loadModelFile } from '../../export/index.js';
import { selectBackend } from '../../tfjs/backend.js';
import { defineCommand } from '../flags.js';

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'show a model’s layer tree and what the ONNX exporter will do with it',
  positional: {
    name: 'MODEL',
    required: true,
    help: 'a tfjs LayersModel (model.json and its weight files), a Keras .h5 or a Keras 3 .keras file',
  },
  flags: {},
  examples: [
    'ganport inspect runs/dcgan/generator/model.json',
    'ganport inspect tm-model/model.json',
    'ganport inspect generator.h5',
  ],
  async run(_values, source) {
    await selectBackend('cpu');
    const model = await loadModelFile(source);
    process.stdout.write(formatInspection(model));
    model.dispose();
    return 0;
  },
});

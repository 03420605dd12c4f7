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
    const { formatInspection, loadModelFile } = await import('../../export/index.js');
    const { selectBackend } = await import('../../tfjs/backend.js');
    await selectBackend('cpu');
    const model = await loadModelFile(source);
    const inspection = formatInspection(model);
    process.stdout.write(inspection);
    model.dispose();
    // a script can ask inspect whether export would succeed: its last line says so
    return /^export: fails: /m.test(inspection) ? 1 : 0;
  },
});

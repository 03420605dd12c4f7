import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { shippedModelsDir } from '../../assets.js';
import { demoSite } from '../../demo/site-dir.js';
import { verifyModelDir } from '../../formats/model-dir.js';
import { isInside, requireDirectory } from '../../util/files.js';
import { ORT_WEB_ROUTE, ortWebDist } from '../../util/ort-web.js';
import { serveStatic } from '../../util/static-server.js';
import { defineCommand, UsageError } from '../flags.js';

/** A model the demo lists: its name, the URL the page loads, and the file served there. */
export interface DemoModel {
  name: string;
  url: string;
  file: string;
}

/**
 * The model directories (with generator.onnx) under `dir` as the demo's model list, read once at
 * start: each is verified against its manifest.json, and one that fails is left out with a warning,
 * as is one whose real path, or its generator.onnx's, leaves `dir` (a link elsewhere). A link to a
 * directory inside `dir` (`latest -> v3`) is listed under its own name. An empty list is warned about.
 */
export async function listModels(dir: string, warn: (line: string) => void): Promise<DemoModel[]> {
  const root = realpathSync(dir);
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && existsSync(join(dir, e.name, 'generator.onnx')))
    .map((e) => e.name);
  const verified = [];
  for (const name of names) {
    const file = join(dir, name, 'generator.onnx');
    try {
      if (!isInside(root, realpathSync(join(dir, name)))) throw new Error('it links outside the models directory');
      if (!isInside(root, realpathSync(file))) throw new Error('its generator.onnx links outside the models directory');
      await verifyModelDir(join(dir, name));
      verified.push({ name, url: `./models/${encodeURIComponent(name)}/generator.onnx`, file });
    } catch (err) {
      warn(`skipping ${join(dir, name)}: ${(err as Error).message}`);
    }
  }
  if (!verified.length) {
    const parent = existsSync(join(dir, 'generator.onnx')) ? dirname(resolve(dir)) : undefined;
    warn(
      `no model directories to serve in ${dir}${parent ? `: it is a model directory itself, so pass its parent (--models ${parent})` : ''}`,
    );
  }
  return verified;
}

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'serve the browser demo on 127.0.0.1 and print its URL',
  flags: {
    port: { type: 'int', value: 'N', default: 5173, help: 'the port to listen on, 0 to 65535 (0: any free one)' },
    models: { type: 'string', value: 'DIR', help: 'serve the model directories in DIR (default: the shipped models/)' },
  },
  examples: ['ganport demo', 'ganport demo --port 8080 --models models'],
  async run({ port, models = shippedModelsDir() }) {
    if (port < 0 || port > 65535) throw new UsageError(`--port must be from 0 to 65535, got ${port}`);
    requireDirectory(models, 'models directory');
    const site = demoSite();
    if (!existsSync(join(site, 'index.html'))) {
      throw new GanportError(`the demo is not built (${site}); run npm run build`, 'not-found');
    }
    const listed = await listModels(models, (line) => console.error(line));
    const list = JSON.stringify(listed.map(({ name, url }) => ({ name, url })));
    const { server, origin } = await serveStatic(
      {
        // the listed generators only: the rest of the models directory is not the page's to read
        files: Object.fromEntries(listed.map(({ name, file }) => [`/models/${name}/generator.onnx`, file])),
        routes: [
          [ORT_WEB_ROUTE, ortWebDist()],
          ['/', site],
        ],
        pages: { '/models/index.json': { type: 'application/json', body: () => list } },
      },
      port,
    ).catch((err: NodeJS.ErrnoException) => {
      throw new GanportError(`cannot listen on 127.0.0.1:${port}: ${err.code ?? err.message}`, 'unavailable');
    });
    console.log(`ganport demo: ${origin}/  (models from ${models}; Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    return 0;
  },
});

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { shippedModelsDir } from '../../assets.js';
import { demoSite } from '../../demo/site-dir.js';
import { verifyModelDir } from '../../formats/model-dir.js';
import { requireDirectory } from '../../util/files.js';
import { ORT_WEB_ROUTE, ortWebDist } from '../../util/ort-web.js';
import { serveStatic } from '../../util/static-server.js';
import { defineCommand } from '../flags.js';

/**
 * The model directories (with generator.onnx) under `dir` as the demo's model list, read once at
 * start: each is verified against its manifest.json, and one that fails is left out with a warning.
 */
export async function listModels(dir: string, warn: (line: string) => void): Promise<{ name: string; url: string }[]> {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'generator.onnx')))
    .map((e) => e.name);
  const verified = [];
  for (const name of names) {
    try {
      await verifyModelDir(join(dir, name));
      verified.push({ name, url: `./models/${encodeURIComponent(name)}/generator.onnx` });
    } catch (err) {
      warn(`skipping ${join(dir, name)}: ${(err as Error).message}`);
    }
  }
  return verified;
}

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'serve the browser demo on 127.0.0.1 and print its URL',
  flags: {
    port: { type: 'int', value: 'N', default: 5173, help: 'the port to listen on' },
    models: { type: 'string', value: 'DIR', help: 'serve the model directories in DIR (default: the shipped models/)' },
  },
  examples: ['ganport demo', 'ganport demo --port 8080 --models models'],
  async run({ port, models = shippedModelsDir() }) {
    requireDirectory(models, 'models directory');
    const site = demoSite();
    if (!existsSync(join(site, 'index.html'))) {
      throw new GanportError(`the demo is not built (${site}); run npm run build`, 'not-found');
    }
    const list = JSON.stringify(await listModels(models, (line) => console.error(line)));
    const { server, origin } = await serveStatic(
      {
        routes: [
          ['/models/', models],
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

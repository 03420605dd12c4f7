import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { demoSite } from '../../demo/build.js';
import { GanportError } from '@ganport/runtime';
import { shippedModelsDir } from '../../assets.js';
import { ORT_WEB_ROUTE, ortWebDist } from '../../util/ort-web.js';
import { serveStatic } from '../../util/static-server.js';
import { intFlag, parse } from '../flags.js';

export const usage = 'ganport demo [--port N (default 5173)] [--models DIR (default: the shipped models/)]';

/** Model directories (with generator.onnx) under `dir`, as the demo's model list. */
export function listModels(dir: string): { name: string; url: string }[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'generator.onnx')))
    .map((e) => ({ name: e.name, url: `./models/${e.name}/generator.onnx` }));
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { port: { type: 'string' }, models: { type: 'string' } }, usage);
  const site = demoSite();
  if (!existsSync(join(site, 'index.html'))) throw new GanportError(`the demo is not built (${site}); run npm run build`, 'not-found');
  const models = values.models ?? shippedModelsDir();
  if (!existsSync(models)) throw new GanportError(`models directory ${models} does not exist`, 'not-found');
  const port = intFlag(values.port, 'port', 5173);
  const { server, origin } = await serveStatic(
    {
      routes: [
        ['/models/', models],
        [ORT_WEB_ROUTE, ortWebDist()],
        ['/', site],
      ],
      pages: { '/models/index.json': { type: 'application/json', body: () => JSON.stringify(listModels(models)) } },
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
}

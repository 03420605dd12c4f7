/**
 * A small static file server on 127.0.0.1 for the Chromium harness and `ganport demo`:
 * URL prefixes mapped to directories, with the COOP/COEP headers that make pages
 * cross-origin isolated (so onnxruntime-web can use wasm threads).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.map': 'application/json',
};

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cache-Control': 'no-store',
};

export interface StaticSite {
  /** URL prefix (ending in /) → directory, tried in order until one has the file; a directory serves its index.html. */
  routes: [string, string][];
  /** Generated responses by exact path, e.g. a page or a JSON listing. */
  pages?: Record<string, { type: string; body: () => string }>;
}

function resolveFile(routes: [string, string][], path: string): string | undefined {
  for (const [prefix, dir] of routes) {
    if (!path.startsWith(prefix)) continue;
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(normalize(dir))) continue; // no escaping the directory with ../
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (existsSync(file)) return file;
  }
  return undefined;
}

export async function serveStatic(site: StaticSite, port = 0): Promise<{ server: Server; origin: string }> {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const page = site.pages?.[path];
    if (page) {
      res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': page.type }).end(page.body());
      return;
    }
    const file = resolveFile(site.routes, path);
    if (!file) {
      res.writeHead(404, ISOLATION_HEADERS).end('not found');
      return;
    }
    res
      .writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' })
      .end(await readFile(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

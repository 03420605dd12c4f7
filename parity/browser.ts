/**
 * Serves the web runtime, onnxruntime-web and a model on 127.0.0.1 (cross-origin
 * isolated, so ORT can use wasm threads) and opens it in headless Chromium.
 * The page exposes the `ganport/runtime` browser build as `window.ganport`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { GanportError } from '../runtime/errors.js';
import { packageRoot } from '../util/files.js';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function chromiumPath(requested?: string): string {
  return requested ?? process.env.GANPORT_CHROMIUM ?? DEFAULT_CHROMIUM;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.map': 'application/json',
};

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>ganport runtime</title>
<script type="importmap">{ "imports": { "onnxruntime-web": "/ort/ort.min.mjs" } }</script>
<script type="module">
  import * as ganport from '/runtime/web.js';
  window.ganport = ganport;
  window.ganportReady = true;
</script>
<canvas id="out"></canvas>
`;

export interface BrowserSession {
  page: Page;
  /** The URL the page serves `model` at, if a model was given. */
  modelUrl: string;
  /** Console errors and uncaught exceptions from the page, for diagnostics. */
  pageErrors: string[];
  close(): Promise<void>;
}

export interface SessionOptions {
  modelFile?: string;
  chromium?: string;
  /** A static site to open instead of the runtime page: served under /site/, opened at /site/PAGE. */
  site?: { dir: string; page: string };
}

/** Static routes: URL prefix → directory on disk. */
function routes({ modelFile, site }: SessionOptions): [string, string][] {
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const table: [string, string][] = [
    ['/ort/', ortDist],
    ['/runtime/', join(packageRoot(), 'dist', 'runtime')],
  ];
  if (modelFile) table.push(['/model/', dirname(modelFile)]);
  if (site) table.push(['/site/', site.dir]);
  return table;
}

async function serve(options: SessionOptions): Promise<Server> {
  const table = routes(options);
  const server = createServer(async (req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-store' };
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { ...headers, 'Content-Type': MIME['.html'] }).end(PAGE);
      return;
    }
    const route = table.find(([prefix]) => path.startsWith(prefix));
    const file = route && normalize(join(route[1], path.slice(route[0].length)));
    if (!route || !file || !file.startsWith(route[1]) || !existsSync(file)) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function openBrowserSession(options: SessionOptions = {}): Promise<BrowserSession> {
  const executablePath = chromiumPath(options.chromium);
  if (!existsSync(executablePath)) {
    throw new GanportError(
      `Chromium not found at ${executablePath}: install it (apt-get install chromium), point --chromium or GANPORT_CHROMIUM at it, or leave the browser out with --runtimes`,
      'unavailable',
    );
  }
  const server = await serve(options);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && pageErrors.push(msg.text()));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (options.site) await page.goto(`${origin}/site/${options.site.page}`);
    else {
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => (window as unknown as { ganportReady?: boolean }).ganportReady === true, null, { timeout: 30_000 }).catch(() => {
        throw new GanportError(`the runtime did not load in Chromium: ${pageErrors.join('; ') || 'timed out'}`, 'unavailable');
      });
    }
    const opened = browser;
    return {
      page,
      pageErrors,
      modelUrl: options.modelFile ? `${origin}/model/${options.modelFile.split(/[\\/]/).pop()}` : '',
      close: async () => {
        await opened.close();
        server.close();
      },
    };
  } catch (err) {
    await browser?.close();
    server.close();
    throw err;
  }
}

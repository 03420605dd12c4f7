/**
 * Serves the web runtime, onnxruntime-web and a model on 127.0.0.1 (cross-origin
 * isolated, so ORT can use wasm threads) and opens it in headless Chromium.
 * The page exposes the `@ganport/runtime` browser build as `window.ganport`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ORT_WEB_ROUTE, ortWebDist } from '../util/ort-web.js';
import { serveStatic } from '../util/static-server.js';
import { DEFAULT_CHROMIUM } from './runtimes.js';

/** The Chromium to start, as an absolute path: Playwright looks a bare name (`chromium`) up on PATH, not here. */
export function chromiumPath(requested?: string): string {
  return resolve(requested ?? (process.env.GANPORT_CHROMIUM || DEFAULT_CHROMIUM)); // set but empty: the default
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>ganport runtime</title>
<link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "onnxruntime-web": "/ort/ort.min.mjs" } }</script>
<script type="module">
  import * as ganport from '/runtime/web.js';
  window.ganport = ganport;
  window.ganportReady = true;
</script>
<canvas id="out"></canvas>
`;

/** Where the page finds the model it was given. */
const MODEL_PATH = '/model/generator.onnx';

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
  /** A page some other server serves (e.g. `ganport demo`): opened as it is, nothing served. */
  url?: string;
  /**
   * WebGPU on (`--enable-unsafe-webgpu`, GPU not disabled): headless Linux Chromium has no WebGPU
   * without it. Where there is no GPU, Chromium's adapter is its own SwiftShader.
   */
  webgpu?: boolean;
}

/** The runtime package's compiled browser build (web.js and the modules it imports). */
const runtimeBrowserBuild = () =>
  join(dirname(createRequire(import.meta.url).resolve('@ganport/runtime/package.json')), 'dist', 'src');

/** Static routes: URL prefix → directory on disk. */
function routes({ site }: SessionOptions): [string, string][] {
  const ortDist = ortWebDist();
  const table: [string, string][] = [
    [ORT_WEB_ROUTE, ortDist],
    ['/runtime/', runtimeBrowserBuild()],
  ];
  if (site) table.push(['/site/', site.dir]);
  return table;
}

export async function openBrowserSession(options: SessionOptions = {}): Promise<BrowserSession> {
  const executablePath = chromiumPath(options.chromium);
  if (!existsSync(executablePath)) {
    throw new GanportError(
      `Chromium not found at ${executablePath}: install it (apt-get install chromium), point --chromium or GANPORT_CHROMIUM at it, or leave the browser out with --runtimes`,
      'unavailable',
    );
  }
  const served = options.url
    ? undefined
    : await serveStatic({
        routes: routes(options),
        // the model by name, not its directory: a generator.onnx linked from elsewhere (git-annex, DVC) is served too
        files: options.modelFile ? { [MODEL_PATH]: options.modelFile } : undefined,
        pages: { '/': { type: 'text/html; charset=utf-8', body: () => PAGE } },
      });
  const origin = served?.origin;
  let browser: Browser | undefined;
  try {
    browser = await chromium
      .launch({
        executablePath,
        headless: true,
        args: [
          '--no-sandbox',
          ...(options.webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      .catch((err: Error) => {
        throw new GanportError(
          `cannot start Chromium at ${executablePath}: ${err.message.split('\n')[0]}`,
          'unavailable',
        );
      });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && pageErrors.push(msg.text()));
    if (options.url) await page.goto(options.url);
    else if (options.site) await page.goto(`${origin}/site/${options.site.page}`);
    else {
      await page.goto(`${origin}/`);
      await page
        .waitForFunction(() => (window as unknown as { ganportReady?: boolean }).ganportReady === true, null, {
          timeout: 30_000,
        })
        .catch(() => {
          throw new GanportError(
            `the runtime did not load in Chromium: ${pageErrors.join('; ') || 'timed out'}`,
            'unavailable',
          );
        });
    }
    const opened = browser;
    return {
      page,
      pageErrors,
      modelUrl: options.modelFile ? `${origin}${MODEL_PATH}` : '',
      close: async () => {
        await opened.close();
        served?.server.close();
      },
    };
  } catch (err) {
    await browser?.close();
    served?.server.close();
    throw err;
  }
}

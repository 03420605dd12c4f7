/**
 * A small static file server on 127.0.0.1 for the Chromium harness and `ganport demo`:
 * URL prefixes mapped to directories, with the COOP/COEP headers that make pages
 * cross-origin isolated (so onnxruntime-web can use wasm threads).
 *
 * Every request gets an answer and none can stop the process: GET and HEAD only (405), and only
 * for a Host of 127.0.0.1 or localhost (421: a DNS-rebinding page sends its own name),
 * malformed or overlong URLs are 400/414, files are served only when their real path
 * (symlinks resolved) lies inside the route's real directory, directories serve their
 * index.html (named without their trailing slash, 301 to it) and are never listed, and slow or
 * oversized requests are cut off (408, 431).
 */
import { open, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isInside } from './files.js';

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

/** The limits a request must fit: its URL, its headers, and the time to send them and the whole request. */
export const REQUEST_LIMITS = {
  urlLength: 2048,
  headerBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: 5_000,
  /** How often the two request timeouts are checked (Node's default, 30 s, let a slow request hold on for 40 s). */
  timeoutCheckMs: 1_000,
};

export interface StaticSite {
  /** URL prefix (ending in /) → directory, tried in order until one has the file; a directory serves its index.html. */
  routes: [string, string][];
  /** Generated responses by exact path, e.g. a page or a JSON listing. */
  pages?: Record<string, { type: string; body: () => string }>;
  /** Single files by exact (decoded) path, served wherever they are: what a route would expose whole. */
  files?: Record<string, string>;
}

/** A regular file's real path, or undefined when it does not exist or is something else. */
async function regularFile(path: string): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The file a decoded URL path names, from the first route whose real directory really contains it;
 * `index` where that is the index.html of the directory the path names.
 */
async function resolveFile(
  routes: [string, string][],
  path: string,
): Promise<{ file: string; index: boolean } | undefined> {
  for (const [prefix, dir] of routes) {
    if (!path.startsWith(prefix)) continue;
    const root = await realpath(dir).catch(() => undefined);
    if (root === undefined) continue;
    const requested = join(root, path.slice(prefix.length));
    for (const [candidate, index] of [
      [requested, false],
      [join(requested, 'index.html'), true],
    ] as const) {
      const file = await regularFile(candidate);
      if (file !== undefined && isInside(root, file)) return { file, index };
    }
  }
  return undefined;
}

/**
 * An origin-form request target's path, decoded and as sent, and its query ('' or '?…'); undefined when
 * the target is not one or its escapes are malformed. Read against a base, `//x/y` would be the host x.
 */
function parseTarget(target: string): { path: string; pathname: string; search: string } | undefined {
  if (!target.startsWith('/')) return undefined;
  try {
    const { pathname, search } = new URL(`http://127.0.0.1${target}`);
    const path = decodeURIComponent(pathname);
    return path.includes('\0') ? undefined : { path, pathname, search };
  } catch {
    return undefined;
  }
}

/** A Host header naming this server: 127.0.0.1 or localhost, at its port or none. */
function isLoopbackHost(host: string | undefined, port: number | undefined): boolean {
  const match = /^(127\.0\.0\.1|localhost)(?::(\d+))?$/i.exec(host ?? '');
  return match !== null && (match[2] === undefined || Number(match[2]) === port);
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

async function handle(site: StaticSite, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLoopbackHost(req.headers.host, req.socket.localPort))
    return answer(res, 421, 'misdirected request: this server answers 127.0.0.1 and localhost only');
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return answer(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
  const url = req.url ?? '/';
  if (url.length > REQUEST_LIMITS.urlLength) return answer(res, 414, 'URL too long');
  const target = parseTarget(url);
  if (target === undefined) return answer(res, 400, 'bad request');
  const { path } = target;
  const page = site.pages && Object.hasOwn(site.pages, path) ? site.pages[path] : undefined;
  const headOnly = req.method === 'HEAD';
  if (page) {
    const body = page.body();
    res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': page.type, 'Content-Length': Buffer.byteLength(body) });
    res.end(headOnly ? undefined : body);
    return;
  }
  const named = site.files && Object.hasOwn(site.files, path) ? site.files[path] : undefined;
  const found = named ? { file: await regularFile(named), index: false } : await resolveFile(site.routes, path);
  if (!found?.file) return answer(res, 404, 'not found');
  const { file, index } = found;
  if (index && !path.endsWith('/')) {
    // relative links in the index resolve against the directory only from under its slash; a single leading
    // slash, since a Location of //x/ names the host x
    const location = `/${target.pathname.replace(/^\/+/, '')}/${target.search}`;
    return answer(res, 301, `moved to ${location}`, { Location: location });
  }
  // the size and the bytes from one opened file: one replaced meanwhile cannot contradict its Content-Length
  const handle = await open(file);
  try {
    res.writeHead(200, {
      ...ISOLATION_HEADERS,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': (await handle.stat()).size,
    });
    if (headOnly) res.end();
    // a read error or a client gone midway rejects (the caller cuts the connection), then the file is closed
    else await pipeline(handle.createReadStream({ autoClose: false }), res);
  } finally {
    await handle.close();
  }
}

/** The status lines of the client errors that are not plain 400s. */
const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** A complete response without a body, for sockets the server answers itself. */
const bareAnswer = (status: string, headers = '') =>
  `HTTP/1.1 ${status}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`;

export async function serveStatic(site: StaticSite, port = 0): Promise<{ server: Server; origin: string }> {
  const server = createServer(
    {
      maxHeaderSize: REQUEST_LIMITS.headerBytes,
      requestTimeout: REQUEST_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: REQUEST_LIMITS.timeoutCheckMs,
    },
    (req, res) => {
      handle(site, req, res).catch(() => {
        if (res.headersSent) res.destroy();
        else answer(res, 500, 'internal error');
      });
    },
  );
  server.headersTimeout = REQUEST_LIMITS.headersTimeoutMs;
  server.keepAliveTimeout = REQUEST_LIMITS.keepAliveTimeoutMs;
  // malformed request lines and headers, oversized headers, slow requests, resets: answer if the socket still can
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET')
      socket.end(bareAnswer(CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request'));
    else socket.destroy();
  });
  // CONNECT (a proxy tunnel) bypasses the request handler; without this Node would close the connection unanswered
  server.on('connect', (_req, socket) => socket.end(bareAnswer('405 Method Not Allowed', 'Allow: GET, HEAD\r\n')));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

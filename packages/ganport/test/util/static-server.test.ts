/**
 * The static server answers every request (a status line, never a silent close or a hang) and serves
 * nothing outside its directories; a fuzz loop bounded by its request count, on loopback. The server
 * under test runs with short timeouts, so that a request it leaves incomplete is answered in a second.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { REQUEST_LIMITS, serveStatic } from '../../src/util/static-server.js';
import { tempDir } from '../helpers.js';

const SECRET = 'the sibling directory must stay unreachable';
/** The server's timeouts here: incomplete requests are cut off after a second, checked every 100 ms. */
const TEST_LIMITS = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, timeoutCheckMs: 100 };
/** Far beyond TEST_LIMITS: a request still unanswered and open after this long hangs. */
const HANG_MS = 15_000;
let origin: string;
let port: number;
/** A file too big to fit in the sockets' buffers (sparse: nothing on disk), real path. */
let bigFile: string;
let close: () => Promise<void>;

before(async () => {
  const root = tempDir();
  const site = join(root, 'site');
  mkdirSync(join(site, 'sub'), { recursive: true });
  mkdirSync(join(site, 'bare'));
  mkdirSync(join(root, 'site-secret'));
  writeFileSync(join(site, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(site, 'sub', 'index.html'), '<h1>sub</h1>');
  writeFileSync(join(site, 'app.js'), 'export {};');
  writeFileSync(join(site, '..notes.txt'), 'two dots, inside');
  writeFileSync(join(root, 'site-secret', 'secret.txt'), SECRET);
  symlinkSync(join(root, 'site-secret', 'secret.txt'), join(site, 'leak.txt'));
  symlinkSync(join(site, 'app.js'), join(site, 'alias.js'));
  bigFile = join(realpathSync(site), 'big.bin');
  writeFileSync(bigFile, '');
  truncateSync(bigFile, 64 * 1024 * 1024);
  const defaults = { ...REQUEST_LIMITS };
  Object.assign(REQUEST_LIMITS, TEST_LIMITS); // read when the server is made
  const served = await serveStatic({
    routes: [['/', site]],
    pages: { '/list.json': { type: 'application/json', body: () => '[]' } },
  }).finally(() => Object.assign(REQUEST_LIMITS, defaults));
  origin = served.origin;
  port = Number(new URL(origin).port);
  close = () => {
    served.server.closeAllConnections();
    return new Promise((resolve) => served.server.close(() => resolve()));
  };
});

after(() => close());

/**
 * Sends raw bytes on a fresh connection (with `dripMs`, then a header line at that interval) and waits
 * for the server to close it: the status of its answer, 'closed unanswered' if it sent none, or 'hung'
 * if it neither answered nor closed within HANG_MS.
 */
function rawRequest(
  bytes: Uint8Array | string,
  { dripMs }: { dripMs?: number } = {},
): Promise<{ status: number | 'closed unanswered' | 'hung'; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    // a slow client: one more header line every dripMs, for as long as the connection stays open
    const drip = dripMs ? setInterval(() => socket.write('X-Drip: 1\r\n'), dripMs) : undefined;
    const finish = (hung: boolean) => {
      clearTimeout(timer);
      clearInterval(drip);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : hung ? 'hung' : 'closed unanswered', text });
    };
    const timer = setTimeout(() => finish(true), HANG_MS);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
    socket.write(bytes);
  });
}

const get = (target: string, method = 'GET', headers = '') =>
  rawRequest(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`);

test('serves files, a directory index and generated pages; HEAD sends headers only', async () => {
  assert.equal((await fetch(`${origin}/app.js`)).status, 200);
  assert.equal(await (await fetch(`${origin}/sub/`)).text(), '<h1>sub</h1>');
  assert.equal(await (await fetch(`${origin}/`)).text(), '<h1>home</h1>');
  assert.equal(await (await fetch(`${origin}/alias.js`)).text(), 'export {};', 'a symlink that stays inside is fine');
  assert.equal(await (await fetch(`${origin}/list.json`)).text(), '[]');
  assert.equal(await (await fetch(`${origin}/..notes.txt`)).text(), 'two dots, inside', 'a name that starts with ..');
  const head = await fetch(`${origin}/app.js`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), '10');
  assert.equal(await head.text(), '');
  assert.equal(head.headers.get('cross-origin-embedder-policy'), 'require-corp');
});

test('a directory named without its trailing slash is redirected to it, query kept, so its relative links resolve', async () => {
  for (const [target, location] of [
    ['/sub', '/sub/'],
    ['/sub?seed=3&x=%20', '/sub/?seed=3&x=%20'],
    ['//sub', '/sub/'], // not '//sub/', which a browser would read as the host "sub"
  ]) {
    const { status, text } = await get(target);
    assert.equal(status, 301, target);
    assert.equal(/\r\nLocation: (.*)\r\n/i.exec(text)?.[1], location, target);
  }
  const followed = await fetch(`${origin}/sub?seed=3`);
  assert.equal(followed.url, `${origin}/sub/?seed=3`);
  assert.equal(await followed.text(), '<h1>sub</h1>');
});

test('a target starting with // is a path, not a host', async () => {
  assert.equal(await (await fetch(`${origin}//sub/index.html`)).text(), '<h1>sub</h1>');
  assert.equal(await (await fetch(`${origin}//app.js`)).text(), 'export {};');
});

test('a Host other than 127.0.0.1 or localhost (a DNS-rebinding page) is answered 421, and nothing is served', async () => {
  for (const host of ['rebind.attacker.example', `rebind.attacker.example:${port}`, `127.0.0.1:${port + 1}`]) {
    const { status, text } = await rawRequest(`GET /app.js HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 421, host);
    assert.ok(!text.includes('export {}'), host);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
    const { status } = await rawRequest(`GET /app.js HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 200, host);
  }
});

test('a malformed escape is a 400, and the server goes on answering', async () => {
  assert.equal((await get('/%E0%A4%A')).status, 400);
  assert.equal((await get('/%zz')).status, 400);
  assert.equal((await get('/a%00b')).status, 400);
  assert.equal((await fetch(`${origin}/app.js`)).status, 200);
});

test('a sibling directory whose name extends the served one, symlinks out and ../ are all unreachable', async () => {
  for (const target of [
    '/..%2fsite-secret%2fsecret.txt',
    '/%2e%2e%2fsite-secret%2fsecret.txt',
    '/../site-secret/secret.txt',
    '/sub/..%2f..%2fsite-secret/secret.txt',
    '/leak.txt',
  ]) {
    const { status, text } = await get(target);
    assert.equal(status, 404, target);
    assert.ok(!text.includes(SECRET), target);
  }
});

test('only GET and HEAD; no directory listings; overlong URLs and headers are refused; prototype keys are not pages', async () => {
  assert.equal((await get('/app.js', 'BREW')).status, 400, 'a method HTTP does not know is a malformed request');
  assert.equal((await get('127.0.0.1:443', 'CONNECT')).status, 405, 'a tunnel request is answered too');
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const { status, text } = await get('/app.js', method);
    assert.equal(status, 405, method);
    assert.match(text, /\r\nAllow: GET, HEAD\r\n/i);
  }
  assert.equal((await get('/bare/')).status, 404);
  // the README's limits: URLs of up to 2,048 characters, headers of up to 16 KB
  assert.equal((await get(`/${'a'.repeat(2047)}`)).status, 404, 'a URL of 2,048 characters');
  assert.equal((await get(`/${'a'.repeat(2048)}`)).status, 414, 'a URL of 2,049 characters');
  assert.equal((await get('/app.js', 'GET', `X-Big: ${'b'.repeat(15 * 1024)}\r\n`)).status, 200, '15 KB of headers');
  assert.equal((await get('/app.js', 'GET', `X-Big: ${'b'.repeat(16 * 1024)}\r\n`)).status, 431, 'over 16 KB');
  for (const key of ['/constructor', '/__proto__', '/toString', '/hasOwnProperty']) {
    assert.equal((await get(key)).status, 404, key);
  }
});

test('slow requests are cut off: headers unfinished at the headers timeout get a 408, however steadily they trickle', async () => {
  for (const dripMs of [undefined, 200]) {
    const started = Date.now();
    const { status } = await rawRequest('GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n', { dripMs }); // no blank line
    const elapsed = Date.now() - started;
    assert.equal(status, 408, `drip ${dripMs}`);
    assert.ok(elapsed >= TEST_LIMITS.headersTimeoutMs, `drip ${dripMs}: cut off after ${elapsed} ms`);
  }
  assert.equal((await fetch(`${origin}/app.js`)).status, 200, 'and the server goes on answering');
});

/** How many of this process's descriptors are open on `file`. */
const descriptorsOn = (file: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // closed since it was listed
    }
  }).length;

test('a download the client abandons midway closes its file', {
  skip: process.platform !== 'linux' && 'counts descriptors through /proc/self/fd',
}, async () => {
  const before = descriptorsOn(bigFile);
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.write('GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      socket.once('data', () => socket.destroy());
      socket.once('close', () => resolve());
    });
  }
  const deadline = Date.now() + 5000;
  while (descriptorsOn(bigFile) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(descriptorsOn(bigFile), before, 'descriptors left open on the file');
});

test('a file replaced while it is served is sent whole, the one its Content-Length measures', async () => {
  const dir = dirname(bigFile);
  // another process puts a 10-byte and a 100,000-byte file in turn at swapped.txt, as fast as it can
  const swap = `const fs = require('node:fs');
    const dir = process.argv[1];
    for (let i = 0; ; i++) {
      fs.writeFileSync(dir + '/swap.tmp', i % 2 ? 'b'.repeat(100000) : 'a'.repeat(10));
      fs.renameSync(dir + '/swap.tmp', dir + '/swapped.txt');
    }`;
  const swapper = spawn(process.execPath, ['-e', swap, dir], { stdio: 'ignore' });
  try {
    while (!existsSync(join(dir, 'swapped.txt'))) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 200; i++) {
      const { status, text } = await get('/swapped.txt');
      assert.equal(status, 200);
      const [head, body] = text.split('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
      assert.ok(body === 'a'.repeat(10) || body === 'b'.repeat(100000), `a body of ${body.length} bytes`);
      assert.equal(body.length, length);
    }
  } finally {
    swapper.kill();
  }
});

/** Request targets built to probe decoding and containment. */
const hostileTarget = fc.oneof(
  fc
    .array(
      fc.constantFrom(
        '..',
        '%2e%2e',
        '%2E%2E',
        '.%2e',
        '%2e.',
        '..%2f',
        '%2f',
        '%5c',
        '..%5c',
        '%252e%252e',
        '%c0%ae',
        '.',
      ),
      { minLength: 1, maxLength: 6 },
    )
    .map((parts) => `/${parts.join('/')}/site-secret/secret.txt`),
  fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => `/${Buffer.from(bytes).toString('latin1')}`),
  fc
    .array(fc.oneof(fc.constantFrom('%', '%E0%A4%A', '%zz', '%00', '%ff', '%u0041'), fc.webSegment()), { maxLength: 8 })
    .map((parts) => `/${parts.join('')}`),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => `/${'x'.repeat(n)}`),
);

/** Whole requests: hostile targets under odd methods and versions, and raw bytes that are not HTTP at all. */
const hostileRequest = fc.oneof(
  fc
    .record({
      method: fc.oneof(
        { arbitrary: fc.constantFrom('GET', 'HEAD'), weight: 6 },
        { arbitrary: fc.constantFrom('POST', 'TRACE', 'CONNECT', 'get', 'G\tET'), weight: 2 },
        { arbitrary: fc.string(), weight: 1 },
      ),
      target: hostileTarget,
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', '', 'HTTP/1.1 extra'),
    })
    .map(({ method, target, version }) =>
      Buffer.from(`${method} ${target} ${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1'),
    ),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.concat([bytes, Buffer.from('\r\n\r\n')])),
);

test('fuzz: 600 hostile requests, 50 at a time, each answered with a status; good requests served all along', async () => {
  const requests = fc.sample(hostileRequest, { seed: 15, numRuns: 600 });
  const statuses = new Map<number | string, number>();
  let next = 0;
  // 50 connections in flight: an incomplete request holds one until the server times it out
  const connection = async () => {
    while (next < requests.length) {
      const i = next++;
      const { status, text } = await rawRequest(requests[i]);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const request = JSON.stringify(requests[i].toString('latin1').slice(0, 200));
      assert.ok(!text.includes(SECRET), `leaked the secret to ${request}`);
      assert.ok(typeof status === 'number' && status < 500, `${status} for ${request}`);
      if (i % 50 === 49) {
        const good = await fetch(`${origin}/app.js`);
        assert.equal(good.status, 200, `a good request after ${i + 1} hostile ones`);
        assert.equal(await good.text(), 'export {};');
      }
    }
  };
  await Promise.all(Array.from({ length: 50 }, connection));
  // every kind of refusal was reached, the incomplete requests (leading blank lines) timed out included
  for (const status of [400, 404, 405, 408, 414, 431]) assert.ok(statuses.has(status), JSON.stringify([...statuses]));
});

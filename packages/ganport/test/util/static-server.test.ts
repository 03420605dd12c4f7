/** The static server answers every request and serves nothing outside its directories; a bounded fuzz loop on loopback. */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { REQUEST_LIMITS, serveStatic } from '../../src/util/static-server.js';
import { tempDir } from '../helpers.js';

const SECRET = 'the sibling directory must stay unreachable';
let origin: string;
let port: number;
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
  writeFileSync(join(root, 'site-secret', 'secret.txt'), SECRET);
  symlinkSync(join(root, 'site-secret', 'secret.txt'), join(site, 'leak.txt'));
  symlinkSync(join(site, 'app.js'), join(site, 'alias.js'));
  const served = await serveStatic({
    routes: [['/', site]],
    pages: { '/list.json': { type: 'application/json', body: () => '[]' } },
  });
  origin = served.origin;
  port = Number(new URL(origin).port);
  close = () => {
    served.server.closeAllConnections();
    return new Promise((resolve) => served.server.close(() => resolve()));
  };
});

after(() => close());

/** Sends raw bytes on a fresh connection; the status line and body that come back, or 'no answer' after `timeoutMs`. */
function rawRequest(
  bytes: Uint8Array | string,
  timeoutMs = 3000,
): Promise<{ status: number | 'no answer'; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : 'no answer', text });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', finish);
    socket.on('close', finish);
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
  const head = await fetch(`${origin}/app.js`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), '10');
  assert.equal(await head.text(), '');
  assert.equal(head.headers.get('cross-origin-embedder-policy'), 'require-corp');
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
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const { status, text } = await get('/app.js', method);
    assert.equal(status, 405, method);
    assert.match(text, /\r\nAllow: GET, HEAD\r\n/i);
  }
  assert.equal((await get('/bare/')).status, 404);
  assert.equal((await get(`/${'a'.repeat(REQUEST_LIMITS.urlLength)}`)).status, 414);
  assert.equal((await get('/app.js', 'GET', `X-Big: ${'b'.repeat(REQUEST_LIMITS.headerBytes)}\r\n`)).status, 431);
  for (const key of ['/constructor', '/__proto__', '/toString', '/hasOwnProperty']) {
    assert.equal((await get(key)).status, 404, key);
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

test('fuzz: 600 hostile requests in batches; after each batch the server still serves a good request', async () => {
  const requests = fc.sample(hostileRequest, { seed: 15, numRuns: 600 });
  const deadline = Date.now() + 60_000;
  const statuses = new Map<number | string, number>();
  for (let from = 0; from < requests.length; from += 50) {
    const answers = await Promise.all(requests.slice(from, from + 50).map((bytes) => rawRequest(bytes, 400)));
    for (const [i, { status, text }] of answers.entries()) {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const request = JSON.stringify(requests[from + i].toString('latin1').slice(0, 200));
      assert.ok(!text.includes(SECRET), `leaked the secret to ${request}`);
      assert.ok(status === 'no answer' || status < 500, `status ${status} for ${request}`);
    }
    const good = await fetch(`${origin}/app.js`);
    assert.equal(good.status, 200, `a good request after batch ${from / 50}`);
    assert.equal(await good.text(), 'export {};');
    assert.ok(Date.now() < deadline, 'the fuzz loop stays within its time bound');
  }
  // every kind of refusal was reached; 'no answer' is a request still incomplete (leading blank lines) or a CONNECT
  for (const status of [400, 404, 405, 414, 431]) assert.ok(statuses.has(status), JSON.stringify([...statuses]));
});

/**
 * `ganport demo` as it runs, with its real limits: a slow request is cut off. (Slow: its headers timeout
 * is 10 s; util/static-server.test.ts checks the same server code with short timeouts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers.js';

test('ganport demo cuts off a request whose headers never finish with a 408, in seconds', async () => {
  const demo = spawn(process.execPath, [join(ROOT, 'bin', 'ganport.js'), 'demo', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  demo.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  try {
    const origin = await new Promise<URL>((resolve, reject) => {
      demo.stdout.on('data', (chunk: Buffer) => {
        const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(String(chunk));
        if (url) resolve(new URL(url[0]));
      });
      demo.on('exit', (code) => reject(new Error(`ganport demo exited (${code}): ${stderr}`)));
    });
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(origin.port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // and never the blank line
    });
    const seconds = (Date.now() - started) / 1000;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(seconds < 15, `cut off after ${seconds} s`); // Node's own check, every 30 s, took up to 40
    assert.equal((await fetch(origin)).status, 200, 'and the demo goes on serving');
    // of the models directory, only the listed generators are served
    assert.equal((await fetch(new URL('models/seed-mlp/generator.onnx', origin))).status, 200);
    for (const other of ['models/seed-mlp/manifest.json', 'models/seed-mlp/tfjs/generator/model.json'])
      assert.equal((await fetch(new URL(other, origin))).status, 404, other);
  } finally {
    demo.kill('SIGTERM');
  }
});

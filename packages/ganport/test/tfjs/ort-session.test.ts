/**
 * The native sessions ganport's ort backend and onnx engine run on. This file's first session is an
 * OrtSession, so its flush-to-zero setting is the one onnxruntime gives this process's main thread.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { makeNode, makeValueInfo } from '../../src/onnx/builder.js';
import { OnnxGraph } from '../../src/onnx/graph.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';

/** A session computing y = x · scale over 4 floats. */
function multiplier(): OrtSession {
  const g = new OnnxGraph(DEFAULT_OPSET);
  g.nodes.push(makeNode('Mul', ['x', 'scale'], ['y']));
  const info = (name: string) => makeValueInfo(name, 1, [4]);
  return new OrtSession(encodeModel(g.toModel('denormals', [info('x'), info('scale')], [info('y')])));
}

test('sessions compute denormals as zero: made (flush to zero) or read (denormals are zero)', () => {
  const session = multiplier();
  // written as bits: made here, after the session, a float32 denormal would already be zero (below)
  const fromBits = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
  // the smallest normal float32 × 0.5 = a denormal; a denormal (2^-128) × 1; two products that stay normal
  const x = fromBits(0x00800000, 0x00200000, 0x40400000, 0x00800000);
  const smallestNormal = x[0];
  const scale = Float32Array.of(0.5, 1, 0.5, 2);
  const y = new Float32Array(4);
  session.run(
    [
      { name: 'x', data: x, dims: [4] },
      { name: 'scale', data: scale, dims: [4] },
    ],
    [{ name: 'y', data: y, dims: [4] }],
  );
  assert.equal(new Uint32Array(x.buffer)[1], 0x00200000, 'the input holds a denormal');
  assert.deepEqual([...y], [0, 0, 1.5, smallestNormal * 2]);
  // onnxruntime set the flags on this thread when the process's first session was made: JavaScript too
  assert.equal(Math.fround(smallestNormal * Number(scale[0])), 0);
  session.dispose();
});

test("a thread started after the first session inherits the flags (the lanes' worker computes as the main thread)", async () => {
  multiplier().dispose();
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const smallestNormal = new Float32Array(new Uint32Array([0x00800000]).buffer)[0];
     parentPort.postMessage(Math.fround(smallestNormal * 0.5));`,
    { eval: true },
  );
  const [half] = await once(worker, 'message');
  assert.equal(half, 0);
  await worker.terminate();
});

/**
 * The child process of probe.ts: tries one native stack (Dawn with tfjs-backend-webgpu, or one of
 * onnxruntime-node's execution providers) and prints what it found as one JSON line on stdout.
 * Whatever the native libraries print lands on this process's stderr, which the parent captures.
 */
import { smallestGenerator } from '../assets.js';

async function probe(kind: string, argument: string | undefined): Promise<unknown> {
  if (kind === 'webgpu') {
    const tf = await import('@tensorflow/tfjs');
    const { prepareVulkan, setUpWebGpu } = await import('./webgpu.js');
    const vulkan = prepareVulkan();
    let adapter: Awaited<ReturnType<typeof setUpWebGpu>>['adapter'];
    try {
      ({ adapter } = await setUpWebGpu());
    } catch (err) {
      return { vulkan, error: (err as Error).message };
    }
    // the adapter stands whether or not tfjs's backend for it is installed
    try {
      await import('@tensorflow/tfjs-backend-webgpu');
    } catch {
      return { vulkan, adapter, backend: 'not installed (npm install @tensorflow/tfjs-backend-webgpu@4.22.0)' };
    }
    const backend = (await tf.setBackend('webgpu')) ? 'initialises' : 'did not initialise';
    return { vulkan, adapter, backend };
  }
  if (kind === 'ort-provider' && argument) {
    const { prepareVulkan } = await import('./webgpu.js');
    if (argument === 'webgpu') prepareVulkan();
    const { loadGenerator } = await import('@ganport/runtime');
    const generator = await loadGenerator(smallestGenerator(), { executionProviders: [argument] });
    try {
      await generator.generate({ seed: 0, count: 2 });
    } finally {
      await generator.dispose();
    }
    return { ran: true };
  }
  throw new Error(`unknown probe ${kind}`);
}

const [kind, argument] = process.argv.slice(2);
try {
  const result = await probe(kind, argument);
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
}
// Dawn's and onnxruntime's threads may keep the process alive: the answer is out
process.exit(0);

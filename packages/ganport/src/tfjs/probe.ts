/**
 * Probes of native stacks in a child process, so that ganport owns its stderr: the Vulkan loader,
 * Dawn and onnxruntime's GPU providers print their own warnings (e.g. libwayland's "XDG_RUNTIME_DIR
 * is invalid or not set" from a Vulkan driver) straight to the process's stderr, which JavaScript
 * cannot intercept. Automatic backend selection and `ganport doctor` ask a child instead; what the
 * child printed is kept, and `doctor` reports it. A stack that is then used runs in this process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterSummary, VulkanSetup } from './webgpu.js';

export interface IsolatedProbe<T> {
  result?: T;
  /** Why the probe failed (its first line). */
  error?: string;
  /** What the native libraries printed on stderr, line by line. */
  native: string[];
}

/** What the child found of WebGPU: the Vulkan set-up always, the adapter and tfjs-backend-webgpu where they work. */
export interface WebGpuProbe {
  vulkan: VulkanSetup;
  adapter?: AdapterSummary;
  /** tfjs-backend-webgpu on the adapter: 'initialises' or why not. */
  backend?: string;
  error?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what it matches
const ANSI_ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;

/** The WebGPU stack as a child process finds it (see webgpu.ts's setUpWebGpu). */
export async function probeWebGpu(): Promise<WebGpuProbe & { native: string[] }> {
  const probe = await probeIsolated<WebGpuProbe>('webgpu');
  const found = probe.result ?? { vulkan: { drivers: 'unknown', notes: [] }, error: probe.error };
  return { ...found, native: probe.native };
}

const CHILD = fileURLToPath(new URL('./probe-child.js', import.meta.url));
const cache = new Map<string, Promise<IsolatedProbe<unknown>>>();

/** Runs probe `kind` (with `argument`) in a child process, once per process. */
export function probeIsolated<T>(kind: 'webgpu' | 'ort-provider', argument?: string): Promise<IsolatedProbe<T>> {
  const key = `${kind} ${argument ?? ''}`;
  let probe = cache.get(key);
  if (!probe) {
    probe = new Promise((resolve) => {
      const args = [CHILD, kind, ...(argument ? [argument] : [])];
      execFile(process.execPath, args, { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const native = stderr
          .replace(ANSI_ESCAPES, '') // onnxruntime colours its log
          .split('\n')
          .filter((line) => line.trim() !== '');
        const answer = stdout.trim().split('\n').at(-1);
        try {
          resolve({ ...(JSON.parse(answer ?? '') as { result?: unknown; error?: string }), native });
        } catch {
          const how = err?.killed ? 'timed out' : err?.signal ? `killed by ${err.signal}` : `exit ${err?.code}`;
          const why = err ? `the probe process failed (${how})` : 'no answer';
          resolve({ error: why, native });
        }
      });
    });
    cache.set(key, probe);
  }
  return probe as Promise<IsolatedProbe<T>>;
}

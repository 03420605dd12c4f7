import type { BackendChoice, BackendProbe } from '../../tfjs/backend.js';
import type { AdapterSummary, VulkanSetup } from '../../tfjs/webgpu.js';
import { defineCommand } from '../flags.js';

export interface ProviderProbe {
  name: string;
  /** Part of this onnxruntime-node build. */
  bundled: boolean;
  available: boolean;
  detail: string;
}

export interface Diagnosis {
  node: string;
  platform: string;
  backends: BackendProbe[];
  /** What `train` would take with no --backend. */
  train: BackendChoice | { error: string };
  webgpu: { adapter?: AdapterSummary; error?: string; vulkan: VulkanSetup };
  onnxruntime: { version: string; providers: ProviderProbe[] };
  /** What native libraries printed while probed in child processes (and so never reach ganport's stderr). */
  native: { probe: string; lines: string[] }[];
}

/**
 * What would run here: every tfjs backend, the WebGPU adapter, and onnxruntime-node's execution
 * providers. The native GPU stacks are probed in child processes, whose stderr is captured.
 */
export async function diagnose(): Promise<Diagnosis> {
  const { probeBackends, selectBackend } = await import('../../tfjs/backend.js');
  const { probeIsolated, probeWebGpu } = await import('../../tfjs/probe.js');
  const backends = await probeBackends();
  let train: Diagnosis['train'];
  try {
    train = await selectBackend();
  } catch (err) {
    train = { error: (err as Error).message };
  }
  const { adapter, error, vulkan, native: dawn } = await probeWebGpu();
  const webgpu = { adapter, error: error?.split('\n')[0], vulkan };
  const native = [{ probe: 'WebGPU (Dawn)', lines: dawn }];
  const ort = await import('onnxruntime-node');
  const providers: ProviderProbe[] = [];
  for (const { name, bundled } of ort.listSupportedBackends()) {
    // the proof: the shipped seed-mlp generator loads and runs on it; a provider that is not bundled is
    // in the build, its libraries installed apart (onnxruntime-node's install script fetches CUDA's)
    const probe = await probeIsolated<{ ran: boolean }>('ort-provider', name);
    native.push({ probe: `onnxruntime ${name}`, lines: probe.native });
    // "MODEL: could not create an ONNX Runtime session (NAME: WHY)": WHY is what the provider said
    const firstLine = (probe.error ?? '').split('\n')[0];
    const failure = /could not create an ONNX Runtime session \(\w+: (.*)\)$/.exec(firstLine)?.[1] ?? firstLine;
    const detail = probe.result
      ? 'ran the seed-mlp generator'
      : bundled
        ? failure
        : `its libraries are not installed (npm install onnxruntime-node --onnxruntime-node-install=cuda12): ${failure}`;
    providers.push({ name, bundled, available: probe.result !== undefined, detail });
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    backends,
    train,
    webgpu,
    onnxruntime: { version: ort.env.versions.node ?? '?', providers },
    native: native.filter((n) => n.lines.length > 0),
  };
}

export function formatDiagnosis(d: Diagnosis): string {
  const yes = (ok: boolean) => (ok ? 'yes' : 'no ');
  const lines = [
    `node ${d.node}, ${d.platform}`,
    '',
    'TensorFlow.js backends (train; auto-selection tries them in this order):',
  ];
  for (const b of d.backends) {
    const note = b.passedOver ? ' (a software adapter: used only with --backend webgpu)' : '';
    lines.push(`  ${b.name.padEnd(15)}${yes(b.available)}  ${b.detail}${note}`);
  }
  lines.push(
    'error' in d.train ? `train would fail: ${d.train.error}` : `train would use: ${d.train.name} (${d.train.reason})`,
  );
  lines.push('', 'WebGPU (Dawn, the webgpu package):');
  const a = d.webgpu.adapter;
  if (a) {
    lines.push(
      `  adapter: vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, ` +
        `${a.description || a.device || 'no description'}; fallback ${a.fallback ? 'yes' : 'no'}, ` +
        `${a.software ? 'software (correct, but slower than the CPU backends)' : 'hardware'}`,
    );
  } else lines.push(`  adapter: none (${d.webgpu.error})`);
  if (d.platform.startsWith('linux')) {
    const { loader, drivers } = d.webgpu.vulkan;
    // a probe that never answered looked for nothing: its drivers are 'unknown'
    const loaderFound = loader ?? (drivers === 'unknown' ? 'unknown' : 'none found');
    lines.push(`  Vulkan loader: ${loaderFound}; drivers: ${drivers}`);
  }
  for (const note of d.webgpu.vulkan.notes) lines.push(`  ganport: ${note}`);
  lines.push('', `onnxruntime-node ${d.onnxruntime.version} execution providers (generate --provider):`);
  for (const p of d.onnxruntime.providers) lines.push(`  ${p.name.padEnd(15)}${yes(p.available)}  ${p.detail}`);
  lines.push(
    '',
    'Native messages (printed by native libraries while probed in child processes; kept out of the commands):',
  );
  if (d.native.length === 0) lines.push('  none');
  for (const { probe, lines: printed } of d.native) {
    lines.push(`  ${probe}: ${printed.length} line(s)`);
    // a long line's end says why (onnxruntime's starts with a time and a source location)
    for (const line of printed.slice(0, 5)) lines.push(`    ${line.length > 160 ? `…${line.slice(-159)}` : line}`);
    if (printed.length > 5) lines.push(`    … ${printed.length - 5} more (ganport doctor --json lists them all)`);
  }
  return `${lines.join('\n')}\n`;
}

export const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'show what would run here: tfjs backends, the WebGPU adapter, onnxruntime providers',
  flags: { json: { type: 'boolean', help: 'print the diagnosis as JSON' } },
  examples: ['ganport doctor', 'ganport doctor --json'],
  async run({ json }) {
    const diagnosis = await diagnose();
    process.stdout.write(json ? `${JSON.stringify(diagnosis, null, 2)}\n` : formatDiagnosis(diagnosis));
    return 0;
  },
});

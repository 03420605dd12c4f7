/** Flags that several commands take with the same meaning, declared once. */
import { GanportError } from '@ganport/runtime';
import { BACKENDS } from '../tfjs/backend-names.js';

export const backendFlag = {
  type: 'string',
  value: 'NAME',
  help: `${BACKENDS.join(', ')} (default: the fastest present; onnx runs each GAN step as one onnxruntime graph)`,
} as const;

/** `--data DIR`: where the data comes from; each command says what it reads there. */
export const dataFlag = (help: string) => ({ type: 'string', value: 'DIR', option: 'dataDir', help }) as const;

export const quietFlag = { type: 'boolean', help: 'no progress bar' } as const;

export const providerFlag = {
  type: 'string',
  value: 'NAME',
  help: 'onnxruntime execution providers, tried in order: cpu (default), cuda, webgpu, e.g. webgpu,cpu',
} as const;

/** --provider's list; an empty name (`--provider ""`, `cpu,`) is refused. */
export function providerList(flag: string | undefined): string[] | undefined {
  const providers = flag?.split(',').map((p) => p.trim());
  if (providers?.some((p) => p === ''))
    throw new GanportError(`--provider "${flag}" has an empty name; name providers as cpu, cuda, webgpu or webgpu,cpu`);
  return providers;
}

/**
 * A Triton Inference Server model repository for an exported generator:
 * REPO/NAME/config.pbtxt (ONNX Runtime backend, dynamic batching, the model's
 * own I/O names, types and shapes) and REPO/NAME/1/model.onnx.
 */
import { join } from 'node:path';
import { GanportError, type OnnxInfo, readOnnxInfo, type TensorInfo } from '@ganport/runtime';
import { writeFileAtomic } from '../util/files.js';

const TRITON_TYPES: Record<number, string> = { 1: 'TYPE_FP32', 6: 'TYPE_INT32', 7: 'TYPE_INT64', 10: 'TYPE_FP16' };

export const TRITON_MAX_BATCH = 256;

/** A model name Triton takes, which is also one path segment of the repository: not . or .. */
const MODEL_NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]+$/;

/** A protobuf text-format string literal: quotes, backslashes and ASCII control characters as octal escapes. */
function quoted(text: string): string {
  let escaped = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    escaped +=
      char === '"' || char === '\\' || code < 0x20 || code === 0x7f ? `\\${code.toString(8).padStart(3, '0')}` : char;
  }
  return `"${escaped}"`;
}

function tensorConfig(t: TensorInfo): string {
  const dims = t.dims.slice(1).map((d) => (typeof d === 'number' ? d : -1));
  return `  {\n    name: ${quoted(t.name)}\n    data_type: ${TRITON_TYPES[t.elemType] ?? 'TYPE_FP32'}\n    dims: [ ${dims.join(', ')} ]\n  }`;
}

export function tritonConfig(name: string, info: OnnxInfo): string {
  return [
    `name: ${quoted(name)}`,
    'backend: "onnxruntime"',
    `max_batch_size: ${TRITON_MAX_BATCH}`,
    `input [\n${info.inputs.map(tensorConfig).join(',\n')}\n]`,
    `output [\n${info.outputs.map(tensorConfig).join(',\n')}\n]`,
    'dynamic_batching {\n  preferred_batch_size: [ 16, 64 ]\n  max_queue_delay_microseconds: 500\n}',
    '',
  ].join('\n');
}

/**
 * Writes the repository entry, config first (a Triton polling the repository must not find the model
 * without it); returns the model's path.
 */
export async function writeTritonModel(repository: string, name: string, onnx: Uint8Array): Promise<string> {
  if (!MODEL_NAME.test(name))
    throw new GanportError(
      `Triton model name ${JSON.stringify(name)} must be letters, digits, _, - and . (not . or ..)`,
    );
  await writeFileAtomic(join(repository, name, 'config.pbtxt'), tritonConfig(name, readOnnxInfo(onnx)));
  const model = join(repository, name, '1', 'model.onnx');
  await writeFileAtomic(model, onnx);
  return model;
}

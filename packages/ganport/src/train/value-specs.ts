/**
 * The type and shape of every value in a step graph, for the passes that need more than the
 * capture records (it knows the graph inputs' shapes, not those of the values between its nodes):
 * the lanes' plan and copies (lanes/executor.ts) and the NCHWc rewrite (nchwc.ts).
 */
import * as ort from 'onnxruntime-node';
import { DataType, type DataTypeCode } from '../onnx/builder.js';
import { encodeModel, type ModelProto, type ValueInfoProto } from '../onnx/proto.js';
import type { GraphTensor } from '../tfjs/capture.js';
import { ONNX_DTYPE } from '../tfjs/onnx-kernels/index.js';
import type { LaneDtype } from './lanes/program.js';

/** The types a value crossing lanes may have: the capture's, and int64 (labels cast for a Gather). */
export const LANE_CODES: Record<LaneDtype, DataTypeCode> = { ...ONNX_DTYPE, int64: DataType.INT64 };
const laneDtype = (type: string): LaneDtype | undefined => (type in LANE_CODES ? (type as LaneDtype) : undefined);

/** A value's type (undefined: one the lanes do not carry) and shape. */
export type ValueInfoSpec = { dtype: LaneDtype | undefined; dims: number[] };

/**
 * Every value's type and shape, as onnxruntime infers them for a graph with every node output
 * declared an output; undefined where a shape is not static.
 */
export async function valueSpecs(
  model: ModelProto,
  inputs: GraphTensor[],
): Promise<Map<string, ValueInfoSpec> | undefined> {
  const probe: ModelProto = {
    ...model,
    graph: {
      ...model.graph,
      output: model.graph.node.flatMap((n) => n.output.map((name) => ({ name }) as ValueInfoProto)),
    },
  };
  const session = await ort.InferenceSession.create(encodeModel(probe), {
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
    // as every session of the engine's (ort-session.ts): the first of a process sets the thread's flags
    extra: { session: { set_denormal_as_zero: '1' } },
  });
  try {
    const specs = new Map<string, ValueInfoSpec>(inputs.map((i) => [i.name, { dtype: i.dtype, dims: i.shape }]));
    for (const output of session.outputMetadata) {
      if (!output.isTensor || output.shape.some((d) => typeof d !== 'number')) return undefined;
      specs.set(output.name, { dtype: laneDtype(output.type), dims: output.shape as number[] });
    }
    return specs;
  } finally {
    await session.release();
  }
}

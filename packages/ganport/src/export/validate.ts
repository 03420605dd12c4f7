/**
 * Structural checks every exported model passes before it is written: opset
 * imported, every node input defined before use (so the graph is topologically
 * sorted), every value produced once, initializers the size their shape says.
 */
import type { ModelProto } from '../onnx/proto.js';

const BYTES_PER_ELEMENT: Record<number, number> = { 1: 4, 6: 4, 7: 8, 10: 2 };

export function findProblems(model: ModelProto): string[] {
  const problems: string[] = [];
  const graph = model.graph;
  if (!model.opsetImport?.some((o) => (o.domain ?? '') === '' && Number(o.version) > 0))
    problems.push('no default-domain opset import');
  if (!graph) return [...problems, 'no graph'];

  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (!name) problems.push(`${what} has an empty name`);
    else if (defined.has(name)) problems.push(`${what} "${name}" is defined more than once`);
    defined.add(name);
  };
  for (const input of graph.input ?? []) define(input.name, 'graph input');
  for (const init of graph.initializer ?? []) {
    define(init.name, 'initializer');
    const count = (init.dims ?? []).reduce((a, b) => a * Number(b), 1);
    const bytes = BYTES_PER_ELEMENT[init.dataType];
    if (bytes === undefined) problems.push(`initializer "${init.name}" has unsupported data type ${init.dataType}`);
    else if ((init.rawData?.length ?? 0) !== count * bytes) {
      problems.push(
        `initializer "${init.name}" holds ${init.rawData?.length ?? 0} bytes, its shape [${init.dims}] needs ${count * bytes}`,
      );
    }
  }
  (graph.node ?? []).forEach((node, i) => {
    for (const input of node.input ?? []) {
      if (input !== '' && !defined.has(input))
        problems.push(`node ${i} (${node.opType} "${node.name}") uses "${input}" before it is defined`);
    }
    for (const output of node.output ?? []) define(output, `output of node ${i} (${node.opType})`);
  });
  for (const output of graph.output ?? []) {
    if (!defined.has(output.name)) problems.push(`graph output "${output.name}" is never produced`);
  }
  if ((graph.output ?? []).length === 0) problems.push('the graph has no outputs');
  return problems;
}

export function validateModel(model: ModelProto): void {
  const problems = findProblems(model);
  if (problems.length)
    throw new Error(`internal error: the exported ONNX graph is invalid:\n  ${problems.join('\n  ')}`);
}

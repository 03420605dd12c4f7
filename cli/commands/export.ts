import { existsSync, statSync } from 'node:fs';
import { DEFAULT_OPSET, exportModelFile, exportRun } from '../../export/index.js';
import { UsageError, intFlag, parse, requireFlag } from '../args.js';

export const usage = 'ganport export RUN_DIR --out MODEL_DIR | ganport export PATH/model.json --out FILE.onnx  [--opset N (default ' + DEFAULT_OPSET + ')]';

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string' }, opset: { type: 'string' } }, usage);
  if (positionals.length !== 1) throw new UsageError(`expected one RUN_DIR or model.json, got ${positionals.length}\nusage: ${usage}`);
  const [source] = positionals;
  const out = requireFlag(values.out, 'out', usage);
  const opset = intFlag(values.opset, 'opset', DEFAULT_OPSET);
  const files =
    existsSync(source) && statSync(source).isDirectory()
      ? await exportRun(source, out, { opset })
      : [await exportModelFile(source, out, { opset })];
  for (const f of files) console.log(`wrote ${f.path} (${(f.bytes / 1024).toFixed(1)} KiB, opset ${opset})`);
  return 0;
}

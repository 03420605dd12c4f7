/** The Triton model repository: its config.pbtxt parses as protobuf text format and matches the ONNX model's I/O. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readOnnxInfo } from '@ganport/runtime';
import { tritonConfig, writeTritonModel } from '../../src/export/triton.js';
import { seedMlpGeneratorBytes, tempDir } from '../helpers.js';

type Value = string | number | Message | Value[];
interface Message {
  [field: string]: Value;
}

/** A text-format string literal's value: its escapes (octal, hex or one character) are bytes of its UTF-8. */
function unquote(literal: string): string {
  const named: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, "'": 39, '\\': 92 };
  const bytes: number[] = [];
  for (const [, octal, hex, char, plain] of literal
    .slice(1, -1)
    .matchAll(/\\([0-7]{1,3})|\\x([0-9a-fA-F]{1,2})|\\(.)|([^\\]+)/gs)) {
    if (plain !== undefined) bytes.push(...Buffer.from(plain));
    else if (char !== undefined) bytes.push(named[char] ?? assert.fail(`unknown escape \\${char}`));
    else bytes.push(Number.parseInt(octal ?? hex, octal === undefined ? 16 : 8));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A parser for the protobuf text format (the subset Triton configs use): fields, messages, lists. */
function parseTextProto(text: string): Message {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?|[{}[\]:,]/g) ?? [];
  let i = 0;
  const value = (): Value => {
    const t = tokens[i++];
    if (t === '{') return message('}');
    if (t === '[') {
      const list: Value[] = [];
      while (tokens[i] !== ']') {
        list.push(value());
        if (tokens[i] === ',') i++;
      }
      i++;
      return list;
    }
    if (t.startsWith('"')) return unquote(t);
    return /^-?\d/.test(t) ? Number(t) : t;
  };
  const message = (end?: string): Message => {
    const m: Message = {};
    while (i < tokens.length && tokens[i] !== end) {
      const field = tokens[i++];
      assert.match(field, /^[A-Za-z_]/, `field name expected, got ${field}`);
      if (tokens[i] === ':') i++;
      m[field] = value();
    }
    i++;
    return m;
  };
  return message();
}

test('config.pbtxt parses and matches the generator it serves', async () => {
  const onnx = await seedMlpGeneratorBytes();
  const repo = tempDir();
  const path = await writeTritonModel(repo, 'seed-mlp-generator', onnx);
  assert.equal(path, join(repo, 'seed-mlp-generator', '1', 'model.onnx'));
  assert.deepEqual(readFileSync(path), Buffer.from(onnx));
  const config = parseTextProto(readFileSync(join(repo, 'seed-mlp-generator', 'config.pbtxt'), 'utf8'));
  assert.equal(config.name, 'seed-mlp-generator');
  assert.equal(config.backend, 'onnxruntime');
  const info = readOnnxInfo(onnx);
  const io = (list: Value) => (list as Message[]).map((t) => ({ name: t.name, data_type: t.data_type, dims: t.dims }));
  assert.deepEqual(
    io(config.input),
    info.inputs.map((t) => ({ name: t.name, data_type: 'TYPE_FP32', dims: t.dims.slice(1) })),
  );
  assert.deepEqual(io(config.output), [{ name: 'image', data_type: 'TYPE_FP32', dims: [28, 28, 1] }]);
  // a change detector beside the checks above: the batching settings as triton.ts writes them, copied from it
  assert.deepEqual(
    [config.max_batch_size, (config.dynamic_batching as Message).preferred_batch_size],
    [256, [16, 64]],
    'change detector: triton.ts batching settings',
  );
});

test('strings in config.pbtxt are escaped: tensor names with quotes, backslashes and newlines read back as they are', async () => {
  const info = readOnnxInfo(await seedMlpGeneratorBytes());
  const names = ['say "hi"', 'back\\slash', 'two\nlines', 'tab\tand ünïcode', 'nul\0'];
  const config = parseTextProto(
    tritonConfig('m', { ...info, inputs: names.map((name) => ({ ...info.inputs[0], name })) }),
  );
  assert.deepEqual(
    (config.input as Message[]).map((t) => t.name),
    names,
  );
});

test('a model name that is not one Triton path segment is refused before anything is written', async () => {
  const onnx = await seedMlpGeneratorBytes();
  const parent = tempDir();
  const repo = join(parent, 'repo');
  for (const name of ['../../x "q"', '../x', '..', '.', '', 'a/b', 'a\\b', 'a b', 'a"b', 'dcgan\n']) {
    await assert.rejects(writeTritonModel(repo, name, onnx), (err: Error) => {
      assert.equal(err.name, 'GanportError');
      assert.match(err.message, /^Triton model name .* must be letters, digits, _, - and \. \(not \. or \.\.\)$/);
      return true;
    });
  }
  assert.deepEqual(readdirSync(parent), []);
  await writeTritonModel(repo, 'a.b_c-1', onnx);
});

test('the model goes in after its config: one whose config cannot be written is not there for Triton to load unconfigured', async () => {
  const repo = tempDir();
  mkdirSync(join(repo, 'm', 'config.pbtxt'), { recursive: true }); // a directory where the config goes
  await assert.rejects(writeTritonModel(repo, 'm', await seedMlpGeneratorBytes()), /config\.pbtxt: it is a directory/);
  assert.ok(!existsSync(join(repo, 'm', '1', 'model.onnx')));
});

test('ganport export --triton writes the repository next to the model directory', async () => {
  const { runCli, SAMPLE_DATA } = await import('../helpers.js');
  const dir = tempDir();
  assert.equal(
    runCli(['train', '--epochs', '1', '--limit', '128', '--data', SAMPLE_DATA, '--out', join(dir, 'run'), '--quiet'])
      .status,
    0,
  );
  const result = runCli(['export', join(dir, 'run'), '--out', join(dir, 'model'), '--triton', join(dir, 'triton')]);
  assert.equal(result.status, 0, result.stderr);
  assert.ok(existsSync(join(dir, 'triton', 'seed-mlp-generator', 'config.pbtxt')));
  const size = (readFileSync(join(dir, 'triton', 'seed-mlp-generator', '1', 'model.onnx')).length / 1024).toFixed(1);
  assert.match(result.stdout, new RegExp(`wrote .*seed-mlp-generator/1/model\\.onnx \\(${size} KiB`));
  // a repository named as a file is refused before anything is written; one that cannot be written (a file
  // in its path) is written before the model directory moves in, so that is not left behind either
  writeFileSync(join(dir, 'a-file'), '');
  const named = runCli(['export', join(dir, 'run'), '--out', join(dir, 'model2'), '--triton', join(dir, 'a-file')]);
  assert.match(named.stderr, /^ganport export: --triton .*a-file is a file, not a directory\n$/);
  const under = runCli([
    'export',
    join(dir, 'run'),
    '--out',
    join(dir, 'model3'),
    '--triton',
    join(dir, 'a-file', 'repo'),
  ]);
  assert.equal(under.status, 1);
  assert.match(under.stderr, /cannot create directory .*a-file\/repo\/seed-mlp-generator: a file stands in its path/);
  for (const out of ['model2', 'model3']) assert.ok(!existsSync(join(dir, out)), `no ${out} from a failed export`);
  const single = runCli([
    'export',
    join(dir, 'run', 'generator', 'model.json'),
    '--out',
    join(dir, 'g.onnx'),
    '--triton',
    join(dir, 't2'),
  ]);
  assert.equal(single.status, 2);
  assert.match(single.stderr, /--triton goes with a RUN_DIR export/);
});

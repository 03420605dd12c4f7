/** The demo's model list: verified model directories only. */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listModels } from '../../src/cli/commands/demo.js';
import { assertCleanFailure, runCli, SHIPPED_MODEL_DIR, SHIPPED_MODELS, tempDir } from '../helpers.js';

test('the demo lists model directories that verify (or have no manifest), and leaves out a damaged one with a warning', async () => {
  const models = tempDir();
  for (const name of ['intact', 'damaged', 'unmanifested', 'a#b'])
    cpSync(SHIPPED_MODEL_DIR, join(models, name), { recursive: true });
  writeFileSync(join(models, 'damaged', 'generator.onnx'), 'not the exported bytes');
  rmSync(join(models, 'unmanifested', 'manifest.json'));
  mkdirSync(join(models, 'not-a-model'));
  const warnings: string[] = [];
  const list = await listModels(models, (line) => warnings.push(line));
  assert.deepEqual(list.map((m) => m.name).sort(), ['a#b', 'intact', 'unmanifested']);
  assert.equal(list.find((m) => m.name === 'intact')!.url, './models/intact/generator.onnx');
  assert.equal(list.find((m) => m.name === 'a#b')!.url, './models/a%23b/generator.onnx', 'a name that needs escaping');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /skipping .*damaged: .*generator\.onnx/);
  // a generator.onnx linked from outside the directory is left out too: the server would not serve it
  mkdirSync(join(models, 'linked'));
  symlinkSync(join(SHIPPED_MODEL_DIR, 'generator.onnx'), join(models, 'linked', 'generator.onnx'));
  const relisted = await listModels(models, (line) => warnings.push(line));
  assert.ok(!relisted.some((m) => m.name === 'linked'));
  assert.match(warnings.at(-1)!, /skipping .*linked: its generator\.onnx links outside the models directory/);
});

test('the demo lists a link to a model directory inside --models, leaves out one to a directory outside with a warning, and warns when it lists none', async () => {
  const models = tempDir();
  cpSync(SHIPPED_MODEL_DIR, join(models, 'v3'), { recursive: true });
  symlinkSync('v3', join(models, 'latest'));
  symlinkSync(SHIPPED_MODEL_DIR, join(models, 'elsewhere'));
  const warnings: string[] = [];
  const list = await listModels(models, (line) => warnings.push(line));
  assert.deepEqual(list.map((m) => m.name).sort(), ['latest', 'v3']);
  assert.deepEqual(warnings, [`skipping ${join(models, 'elsewhere')}: it links outside the models directory`]);
  // nothing to list is said, not served silently; a model directory itself is pointed to its parent
  const empty = tempDir();
  assert.deepEqual(await listModels(empty, (line) => warnings.push(line)), []);
  assert.equal(warnings.at(-1), `no model directories to serve in ${empty}`);
  assert.deepEqual(await listModels(SHIPPED_MODEL_DIR, (line) => warnings.push(line)), []);
  assert.equal(
    warnings.at(-1),
    `no model directories to serve in ${SHIPPED_MODEL_DIR}: it is a model directory itself, so pass its parent (--models ${SHIPPED_MODELS})`,
  );
});

test('demo --port out of range is a usage error', () => {
  for (const port of ['70000', '-1'])
    assertCleanFailure(runCli(['demo', `--port=${port}`]), /--port must be from 0 to 65535, got/, 2);
});

test('demo --models takes a directory: a file or a missing path is one clear line', () => {
  const file = join(SHIPPED_MODEL_DIR, 'generator.onnx');
  assertCleanFailure(
    runCli(['demo', '--models', file]),
    /^ganport demo: models directory .*generator\.onnx is a file, not a directory$/,
  );
  assertCleanFailure(
    runCli(['demo', '--models', join(tempDir(), 'absent')]),
    /^ganport demo: models directory .*absent does not exist$/,
  );
});

/** Crash safety: a run killed with SIGKILL and resumed gives the losses of a run that was never interrupted. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readMetrics, train } from '../../src/train/train.js';
import { assertSameLosses, ROOT, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

/** Far longer than the 70 steps take even on a loaded machine (a few seconds): a process that never gets there fails. */
const CHECKPOINT_DEADLINE_MS = 180_000;

const position = (dir: string): { step: number } | undefined => {
  const file = join(dir, 'checkpoint', 'position.json');
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { step: number }) : undefined;
  } catch {
    return undefined; // caught between write and rename of a file: try again
  }
};

/** A run of `preset` killed mid-run with SIGKILL and resumed, against one never interrupted. */
async function killAndResume(backend: string, preset: string): Promise<void> {
  const args = [
    '--preset',
    preset,
    '--epochs',
    '30',
    '--limit',
    '1280',
    '--data',
    SAMPLE_DATA,
    '--seed',
    '4',
    '--checkpoint-every',
    '7',
    '--log-every',
    '1',
    '--backend',
    backend,
    '--quiet',
  ];
  const reference = tempDir();
  await train({
    outDir: reference,
    preset,
    epochs: 30,
    limit: 1280,
    dataDir: SAMPLE_DATA,
    seed: 4,
    checkpointEvery: 7,
    logEvery: 1,
    backend,
    quiet: true,
  });

  const killed = tempDir();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'ganport.js'), 'train', ...args, '--out', killed], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let exit: string | undefined;
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = `exit status ${code}, signal ${signal}`;
      resolve(signal);
    }),
  );
  const deadline = Date.now() + CHECKPOINT_DEADLINE_MS;
  while ((position(killed)?.step ?? 0) < 70) {
    if (exit) assert.fail(`the training process ended (${exit}) before its checkpoint of step 70:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(
        `no checkpoint of step 70 in ${CHECKPOINT_DEADLINE_MS / 1000} s (at ${position(killed)?.step}):\n${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', stderr);
  const stoppedAt = position(killed)!.step;
  assert.ok(stoppedAt < 600, `killed before the end (checkpoint at step ${stoppedAt})`);

  const resumed = runCli(['train', '--resume', killed]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming at step ${stoppedAt}`));
  assertSameLosses(
    await readMetrics(join(killed, 'metrics.jsonl')),
    await readMetrics(join(reference, 'metrics.jsonl')),
  );
  assert.deepEqual(
    readFileSync(join(killed, 'generator', 'weights.bin')),
    readFileSync(join(reference, 'generator', 'weights.bin')),
    'same final generator',
  );
}

// the mlp's step runs as two graphs, with Adam and the EMA outside them (split-step.ts)
test('SIGKILL mid-run, then --resume: the same losses as an uninterrupted run (onnx, the split step)', () =>
  killAndResume('onnx', 'mlp'));

// On the onnx engine (what auto picks), the onnxruntime-backed kernels and plain wasm: a resumed run must be as deterministic on each.
for (const backend of ['onnx', 'ort', 'wasm']) {
  test(`SIGKILL mid-run, then --resume: the same losses as an uninterrupted run (${backend})`, () =>
    killAndResume(backend, 'seed-mlp'));

  test(`a DCGAN (batch norm, dropout, EMA, both Adam states) resumed from its epoch-end checkpoint matches the uninterrupted run (${backend})`, async () => {
    const common = {
      preset: 'dcgan',
      limit: 256,
      dataDir: SAMPLE_DATA,
      seed: 2,
      checkpointEvery: 3,
      logEvery: 1,
      backend,
      quiet: true,
    } as const;
    const reference = tempDir();
    await train({ ...common, outDir: reference, epochs: 2 });
    const interrupted = tempDir();
    await train({ ...common, outDir: interrupted, epochs: 1 }); // 4 steps: checkpoints at step 3 and at the epoch's end
    const checkpoint = position(interrupted)!;
    assert.equal(checkpoint.step, 4);
    await train({ outDir: interrupted, resume: true, epochs: 2, quiet: true });
    assertSameLosses(
      await readMetrics(join(interrupted, 'metrics.jsonl')),
      await readMetrics(join(reference, 'metrics.jsonl')),
    );
  });
}

test('resume refuses a directory without a checkpoint, and a finished run without more epochs', async () => {
  const dir = tempDir();
  await assert.rejects(train({ outDir: dir, resume: true }), /not a training run/);
  await train({ outDir: dir, preset: 'seed-mlp', epochs: 1, limit: 128, dataDir: SAMPLE_DATA, quiet: true });
  const lines: string[] = [];
  await assert.rejects(
    train({ outDir: dir, resume: true, log: (line) => lines.push(line) }),
    /already finished its 1 epochs; pass --epochs/,
  );
  assert.ok(!lines.some((line) => line.startsWith('wrote')), `refused before any work: ${lines.join(' | ')}`);
  // a run directory written by ganport 0.1.0 (imageShape, no logEvery) still resumes and exports
  const configPath = join(dir, 'config.json');
  const {
    sampleShape,
    logEvery: _logEvery,
    ...rest
  } = JSON.parse(readFileSync(configPath, 'utf8')) as { sampleShape: number[]; logEvery: number };
  writeFileSync(configPath, JSON.stringify({ ...rest, imageShape: sampleShape }));
  const extended = await train({ outDir: dir, resume: true, epochs: 2, quiet: true });
  assert.equal(extended.steps, 4);
  // a resume that fails records none of its options: not a shorter run, not one on a refused backend
  const recorded = readFileSync(configPath, 'utf8');
  assert.equal((JSON.parse(recorded) as { epochs: number }).epochs, 2);
  await assert.rejects(
    train({ outDir: dir, resume: true, epochs: 1, quiet: true }),
    /has reached epoch 2; --epochs 1 would end it before that/,
  );
  await assert.rejects(
    train({ outDir: dir, resume: true, epochs: 3, backend: 'cpu', providers: ['cpu'], quiet: true }),
    /--provider goes with the onnx backend/,
  );
  assert.equal(readFileSync(configPath, 'utf8'), recorded);
  // --eval-every 0 turns measurements off again on a resume
  writeFileSync(configPath, JSON.stringify({ ...JSON.parse(recorded), evalEvery: 500 }));
  assert.equal((await train({ outDir: dir, resume: true, epochs: 3, evalEvery: 0, quiet: true })).steps, 6);
  assert.equal((JSON.parse(readFileSync(configPath, 'utf8')) as { evalEvery: number }).evalEvery, 0);
  assert.equal(runCli(['export', dir, '--out', join(dir, 'model')]).status, 0);
});

/** One writer per run directory, with real processes: a second training is refused; a killed one's lock is taken over. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLock } from '../../src/util/lock.js';
import { ROOT, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

const lockOf = (dir: string) => join(dir, 'train.lock');

test('a second training of the same run directory is refused while the first runs, in one line', async () => {
  const dir = tempDir();
  const args = ['train', '--epochs', '1000', '--limit', '128', '--data', SAMPLE_DATA, '--quiet', '--out', dir];
  const writer = spawn(process.execPath, [join(ROOT, 'bin', 'ganport.js'), ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => writer.on('exit', () => resolve()));
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(dir, 'config.json')) || !existsSync(lockOf(dir))) {
      assert.ok(Date.now() < deadline, 'the first training started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const owner = `process ${writer.pid} on ${hostname()}`;
    for (const args of [
      ['train', '--resume', dir, '--epochs', '2000', '--quiet'],
      ['train', '--out', dir, '--overwrite', '--limit', '128', '--data', SAMPLE_DATA, '--quiet'],
    ]) {
      const second = runCli(args);
      assert.equal(second.status, 1, second.stderr);
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
      assert.match(second.stderr, new RegExp(`the run in .* is being written by ${owner} \\(since .*\\); wait for it`));
    }
    assert.equal((JSON.parse(readFileSync(lockOf(dir), 'utf8')) as { pid: number }).pid, writer.pid);
  } finally {
    writer.kill('SIGKILL');
    await exited;
  }
  // killed, it left its lock behind: the next writer takes it over with one line
  const lines: string[] = [];
  const lock = await acquireLock(lockOf(dir), `the run in ${dir}`, (line) => lines.push(line));
  assert.deepEqual(lines, [
    `taking over the lock of the run in ${dir} from process ${writer.pid}, which is no longer running`,
  ]);
  await lock.release();
  assert.ok(!existsSync(lockOf(dir)));
});

/** One writer per run directory, with real processes: a second training is refused; a killed one's lock is taken over. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock } from '../../src/util/lock.js';
import { ROOT, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

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

/** A child process that, at `startAt` (ms), tries to take the lock, holds it for a while if it got it, and prints which. */
const racer = (lockFile: string, startAt: number) =>
  new Promise<string>((resolve, reject) => {
    const lockModule = fileURLToPath(new URL('../../src/util/lock.js', import.meta.url));
    const script = `
      const { acquireLock } = await import(${JSON.stringify(lockModule)});
      await new Promise((r) => setTimeout(r, ${startAt} - Date.now()));
      try {
        const lock = await acquireLock(${JSON.stringify(lockFile)}, 'the run');
        const { pid } = JSON.parse((await import('node:fs')).readFileSync(${JSON.stringify(lockFile)}, 'utf8'));
        await new Promise((r) => setTimeout(r, 1500)); // held while the others try
        console.log(pid === process.pid ? 'held' : 'held, but the file names ' + pid);
        await lock.release();
      } catch (err) {
        console.log(/is being written by /.test(err.message) ? 'refused' : err.message);
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });

test('processes racing for one stale lock, with a takeover file left by a killed one: exactly one holds it', async () => {
  const lockFile = lockOf(tempDir());
  for (let round = 0; round < 3; round++) {
    writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }));
    writeFileSync(`${lockFile}.takeover`, JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }));
    const startAt = Date.now() + 1500; // past every racer's start-up, so that they try at once
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => racer(lockFile, startAt)));
    assert.deepEqual(
      [...outcomes].sort(),
      ['held', 'refused', 'refused', 'refused', 'refused'],
      `round ${round}: ${outcomes.join('; ')}`,
    );
    assert.ok(!existsSync(lockFile), 'released');
  }
});

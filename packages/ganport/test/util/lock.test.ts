/** Lock files: refused when their owner may be alive or is elsewhere, taken over when it died on this host, released after a failure. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { train } from '../../src/train/train.js';
import { acquireLock, fileGuard, processStart, socketGuard, UNWRITTEN_LOCK_MS } from '../../src/util/lock.js';
import { tempDir } from '../helpers.js';

const lockOf = (dir: string) => join(dir, 'train.lock');

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test('locks of live processes, of other hosts and unreadable ones are refused; a stale one on this host is taken', async () => {
  const dir = tempDir();
  const lockFile = lockOf(dir);
  const refusals: [object | string, RegExp][] = [
    [{ pid: process.pid, host: hostname(), since: 'then' }, new RegExp(`by process ${process.pid} on `)],
    [{ pid: deadPid(), host: 'elsewhere.example', since: 'then' }, /on elsewhere\.example \(since then\)/],
    ['{"pid": ', /being written by another process; wait for it to finish, or delete .*train\.lock/],
  ];
  for (const [content, message] of refusals) {
    writeFileSync(lockFile, typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(acquireLock(lockFile, 'the run'), message);
    assert.ok(existsSync(lockFile), 'a refused lock is left as it was');
  }
  writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }));
  const lock = await acquireLock(lockFile, 'the run');
  assert.equal((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }).pid, process.pid);
  await lock.release();
  assert.ok(!existsSync(lockFile));
});

test('a lock file left empty for longer than UNWRITTEN_LOCK_MS (its owner died between creating and writing it) is taken over', async () => {
  const lockFile = lockOf(tempDir());
  writeFileSync(lockFile, '');
  await assert.rejects(
    acquireLock(lockFile, 'the run'),
    /being written by another process/,
    'a fresh empty one may be mid-write',
  );
  const before = (Date.now() - UNWRITTEN_LOCK_MS - 5000) / 1000;
  utimesSync(lockFile, before, before);
  const lines: string[] = [];
  const lock = await acquireLock(lockFile, 'the run', (line) => lines.push(line));
  assert.deepEqual(lines, ['taking over the lock of the run, left empty by a process that died while taking it']);
  await lock.release();
  assert.ok(!existsSync(lockFile));
});

test('a training that fails releases its lock, and removes the directory it created when nothing was written (and what killed writes left)', async () => {
  const fresh = join(tempDir(), 'new-run');
  await assert.rejects(train({ outDir: fresh, resume: true }), /not a training run/);
  assert.ok(!existsSync(fresh));
  const existing = tempDir();
  const leftover = join(existing, `config.json.${deadPid()}.1700000000000.tmp`); // a write killed midway
  writeFileSync(leftover, '{');
  const lines: string[] = [];
  await assert.rejects(
    train({ outDir: existing, preset: 'no-such-preset', log: (line) => lines.push(line) }),
    /unknown preset/,
  );
  assert.ok(existsSync(existing) && !existsSync(lockOf(existing)));
  assert.ok(!existsSync(leftover), 'what killed writes left is removed under the lock');
  assert.deepEqual(lines, [`removed 1 temporary file(s) of writes killed midway: ${leftover}`]);
});

for (const [name, guard] of [
  ['socket', socketGuard],
  ['file', fileGuard],
] as const)
  test(`two takers of one stale lock in one process: exactly one gets it (the ${name} guard serializes the takeover)`, async () => {
    const lockFile = lockOf(tempDir());
    const stale = () => writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }));
    for (let round = 0; round < 5; round++) {
      stale();
      const take = () => acquireLock(lockFile, 'the run', () => {}, guard);
      const results = await Promise.allSettled([take(), take()]);
      const held = results.filter((r) => r.status === 'fulfilled');
      assert.equal(held.length, 1, `round ${round}: ${results.map((r) => r.status).join(', ')}`);
      assert.ok(!existsSync(`${lockFile}.takeover`));
      await (held[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
    }
    // a takeover file left by a process killed mid-takeover: cleared by the file guard, never read by the socket's
    stale();
    writeFileSync(`${lockFile}.takeover`, JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }));
    const lock = await acquireLock(lockFile, 'the run', () => {}, guard);
    assert.equal(existsSync(`${lockFile}.takeover`), name === 'socket');
    await lock.release();
  });

test('a lock whose pid now names a later process (the pid reused) is taken over; its own owner, or an older lock without a start, is not', async (t) => {
  if (processStart('self') === undefined) return t.skip('no /proc here');
  const later = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => later.on('exit', () => resolve()));
  try {
    const lockFile = lockOf(tempDir());
    const started = processStart(later.pid!)!;
    assert.match(started, /^[0-9a-f-]{36}:\d+$/);
    const owner = (start?: string) => JSON.stringify({ pid: later.pid, host: hostname(), since: 'then', start });
    for (const start of [started, undefined]) {
      writeFileSync(lockFile, owner(start));
      await assert.rejects(acquireLock(lockFile, 'the run'), new RegExp(`by process ${later.pid} on `));
    }
    const [bootId, ticks] = started.split(':');
    writeFileSync(lockFile, owner(`${bootId}:${Number(ticks) - 1}`));
    const lines: string[] = [];
    const lock = await acquireLock(lockFile, 'the run', (line) => lines.push(line));
    assert.deepEqual(lines, [`taking over the lock of the run from process ${later.pid}, which is no longer running`]);
    const mine = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; start: string };
    assert.deepEqual([mine.pid, mine.start], [process.pid, processStart('self')]);
    await lock.release();
  } finally {
    later.kill();
    await exited;
  }
});

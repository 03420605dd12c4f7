/** writeFileAtomic: whole files under the final name, links written through, and what it refuses to replace. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readInputFile, removeLeftovers, writeFileAtomic, writeLeftoverPid } from '../../src/util/files.js';
import { tempDir } from '../helpers.js';

test('writeFileAtomic writes the file whole, making its directory, and leaves no temporary file', async () => {
  const dir = tempDir();
  const file = join(dir, 'a', 'b', 'out.png');
  await writeFileAtomic(file, 'first');
  await writeFileAtomic(file, 'second');
  assert.equal(readFileSync(file, 'utf8'), 'second');
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['out.png']);
});

test('writeFileAtomic writes a name near the 255-byte limit, its temporary name cut short to fit', async () => {
  const dir = tempDir();
  for (const name of [`${'b'.repeat(251)}.png`, `${'é'.repeat(125)}.png`, `${'😀'.repeat(62)}.png`]) {
    await writeFileAtomic(join(dir, name), name);
    assert.equal(readFileSync(join(dir, name), 'utf8'), name);
  }
  assert.equal(readdirSync(dir).length, 3, 'no temporary file left');
});

test('writeFileAtomic flushes the file to disk before its rename, and its directory after (seen with strace)', (t) => {
  if (spawnSync('strace', ['-V']).status !== 0) return t.skip('no strace here');
  const dir = tempDir();
  const files = fileURLToPath(new URL('../../src/util/files.js', import.meta.url));
  const file = join(dir, 'out', 'x.bin');
  const log = join(dir, 'strace.log');
  const script = `await (await import(${JSON.stringify(files)})).writeFileAtomic(${JSON.stringify(file)}, 'data');`;
  const traced = spawnSync('strace', [
    ...['-f', '-qq', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', '-o', log],
    ...[process.execPath, '--input-type=module', '-e', script],
  ]);
  if (traced.status !== 0 && /ptrace|Operation not permitted/.test(`${traced.stderr}`))
    return t.skip('strace cannot trace here');
  assert.equal(traced.status, 0, `${traced.stderr}`);
  // one line per call, each `PID name(args) = result`: keep the ones on this file and the fd flushes
  const calls = readFileSync(log, 'utf8')
    .split('\n')
    .map((line) => line.replace(/^\d+\s+/, ''))
    .filter((line) => line.includes(join(dir, 'out')) || /^f(data)?sync\(/.test(line));
  const fdOf = (opened: string | undefined) => opened?.match(/= (\d+)$/)?.[1];
  const openedTmp = calls.findIndex((line) => /^openat\(.*\.tmp", O_WRONLY/.test(line));
  const renamed = calls.findIndex((line) => /^rename(at2?)?\(.*\.tmp".*x\.bin"/.test(line));
  const openedDir = calls.findIndex((line, i) => i > renamed && line.includes(`"${join(dir, 'out')}", O_RDONLY`));
  const flushed = (opened: number, from: number, to = calls.length) =>
    calls.slice(from, to).some((line) => new RegExp(`^f(data)?sync\\(${fdOf(calls[opened])}\\)`).test(line));
  assert.ok(openedTmp >= 0 && renamed > openedTmp && openedDir > renamed, calls.join('\n'));
  assert.ok(flushed(openedTmp, openedTmp + 1, renamed), `the file is flushed before its rename:\n${calls.join('\n')}`);
  assert.ok(flushed(openedDir, openedDir + 1), `the directory is flushed after it:\n${calls.join('\n')}`);
});

test('a link is written through: the file it names is replaced, the link stays a link', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'real'));
  writeFileSync(join(dir, 'real', 'grid.png'), 'old');
  symlinkSync(join(dir, 'real', 'grid.png'), join(dir, 'link.png'));
  await writeFileAtomic(join(dir, 'link.png'), 'new');
  assert.ok(lstatSync(join(dir, 'link.png')).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'real', 'grid.png'), 'utf8'), 'new');
});

test('a directory, a trailing separator, a pipe, a link to nothing or a file in the path are refused in one line', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'adir'));
  await assert.rejects(writeFileAtomic(join(dir, 'adir'), 'x'), /cannot write .*adir: it is a directory; name a file$/);
  await assert.rejects(
    writeFileAtomic(`${join(dir, 'new')}/`, 'x'),
    /cannot write .*new\/: it names a directory \(a trailing separator\); name a file$/,
  );
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await assert.rejects(
    writeFileAtomic(join(dir, 'fifo'), 'x'),
    /it is not a regular file \(a pipe, socket or device\)/,
  );
  assert.ok(lstatSync(join(dir, 'fifo')).isFIFO(), 'the pipe is still a pipe');
  symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
  await assert.rejects(writeFileAtomic(join(dir, 'dangling'), 'x'), /it is a link to nothing/);
  symlinkSync(join(dir, 'loop'), join(dir, 'loop'));
  await assert.rejects(writeFileAtomic(join(dir, 'loop'), 'x'), /it is a loop of links/);
  writeFileSync(join(dir, 'a-file'), 'x');
  await assert.rejects(
    writeFileAtomic(join(dir, 'a-file', 'out.png'), 'x'),
    /cannot create directory .*a-file: a file stands in its path$/,
  );
});

test('readInputFile refuses a pipe or a device, which it would read until it ends or forever', async () => {
  const dir = tempDir();
  execFileSync('mkfifo', [join(dir, 'fifo.onnx')]);
  await assert.rejects(readInputFile(join(dir, 'fifo.onnx')), /fifo\.onnx cannot be read: it is not a regular file/);
  await assert.rejects(readInputFile('/dev/zero'), /\/dev\/zero cannot be read: it is not a regular file/);
  await assert.rejects(readInputFile(dir), /cannot be read \(EISDIR\)/);
  writeFileSync(join(dir, 'model.onnx'), 'bytes');
  assert.equal((await readInputFile(join(dir, 'model.onnx'))).toString(), 'bytes');
});

test('the temporary files of writes killed midway are removed where their process is gone, not while it runs', async () => {
  const dir = tempDir();
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  mkdirSync(join(dir, 'generator'));
  const names = [
    `config.json.${dead}.1700000000000.tmp`,
    `generator/model.json.${dead}.1700000000001.tmp`,
    `metrics.jsonl.${process.pid}.1700000000002.tmp`, // a write in progress
    'notes.1.tmp', // not writeFileAtomic's
    'generator/model.json',
  ];
  for (const name of names) writeFileSync(join(dir, name), 'x');
  assert.deepEqual(
    (await removeLeftovers(dir, writeLeftoverPid)).map((path) => path.slice(dir.length + 1)),
    [names[0]],
  );
  assert.deepEqual(
    (await removeLeftovers(dir, writeLeftoverPid, true)).map((path) => path.slice(dir.length + 1)),
    [names[1]],
  );
  assert.deepEqual(readdirSync(dir).sort(), ['generator', names[2], 'notes.1.tmp'].sort());
  assert.deepEqual(readdirSync(join(dir, 'generator')), ['model.json']);
});

/** writeFileAtomic: whole files under the final name, links written through, and what it refuses to replace. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readInputFile, writeFileAtomic } from '../../src/util/files.js';
import { tempDir } from '../helpers.js';

test('writeFileAtomic writes the file whole, making its directory, and leaves no temporary file', async () => {
  const dir = tempDir();
  const file = join(dir, 'a', 'b', 'out.png');
  await writeFileAtomic(file, 'first');
  await writeFileAtomic(file, 'second');
  assert.equal(readFileSync(file, 'utf8'), 'second');
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['out.png']);
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

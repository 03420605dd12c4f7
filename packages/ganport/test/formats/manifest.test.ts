/** manifest.json: sizes and SHA-256 of a directory's files, and the one-line refusals when they differ. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANIFEST, verifyManifest, writeManifest } from '../../src/formats/manifest.js';
import { tempDir } from '../helpers.js';

function fixture(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(
    join(dir, 'a.bin'),
    Uint8Array.from({ length: 1000 }, (_, i) => i % 251),
  );
  writeFileSync(join(dir, 'sub', 'b.json'), '{"b": 1}');
  writeFileSync(join(dir, 'sub', 'deeper', 'c.txt'), 'c');
  return dir;
}

test('a manifest lists every file with its size and SHA-256, and verifies', async () => {
  const dir = fixture();
  await writeManifest(dir);
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as { files: Record<string, unknown> };
  assert.deepEqual(Object.keys(manifest.files), ['a.bin', 'sub/b.json', 'sub/deeper/c.txt']);
  await verifyManifest(dir);
  writeFileSync(join(dir, 'unlisted.txt'), 'files the manifest does not list are not its business');
  await verifyManifest(dir);
});

test('only the entries asked for are listed', async () => {
  const dir = fixture();
  await writeManifest(dir, ['a.bin', 'sub/deeper']);
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as { files: Record<string, unknown> };
  assert.deepEqual(Object.keys(manifest.files), ['a.bin', 'sub/deeper/c.txt']);
});

test('a changed byte, a changed size, a missing file and a missing manifest each fail in one line', async () => {
  const dir = fixture();
  await writeManifest(dir);
  const original = readFileSync(join(dir, 'a.bin'));
  const flipped = Buffer.from(original);
  flipped[500] ^= 1;
  const cases: [() => void, RegExp][] = [
    [
      () => writeFileSync(join(dir, 'a.bin'), flipped),
      /fails verification: a\.bin has SHA-256 \w+…, its manifest says/,
    ],
    [() => writeFileSync(join(dir, 'a.bin'), original.subarray(1)), /a\.bin is 999 bytes, its manifest says 1000/],
    [() => rmSync(join(dir, 'a.bin')), /a\.bin is missing/],
  ];
  for (const [damage, message] of cases) {
    damage();
    await assert.rejects(verifyManifest(dir), (err: Error) => message.test(err.message) && !err.message.includes('\n'));
    writeFileSync(join(dir, 'a.bin'), original);
  }
  rmSync(join(dir, MANIFEST));
  await assert.rejects(verifyManifest(dir), /cannot read its manifest\.json \(ENOENT\)/);
});

test('a malformed manifest, or one naming paths outside its directory, is refused', async () => {
  const dir = fixture();
  const entry = { bytes: 1, sha256: '0'.repeat(64) };
  for (const [text, message] of [
    ['{"format": "ganport-manifest/1", "files"', /is not valid JSON/],
    ['[]', /is not a ganport manifest/],
    ['{"format": "ganport-manifest/1", "files": {"a.bin": {"bytes": "1000"}}}', /malformed entry "a\.bin"/],
    [
      JSON.stringify({ format: 'ganport-manifest/1', files: { '../outside': entry } }),
      /malformed entry "\.\.\/outside"/,
    ],
    [JSON.stringify({ format: 'ganport-manifest/1', files: { '/etc/passwd': entry } }), /malformed entry/],
    [JSON.stringify({ format: 'ganport-manifest/1', files: { 'sub/./b.json': entry } }), /malformed entry/],
  ] as const) {
    writeFileSync(join(dir, MANIFEST), text);
    await assert.rejects(verifyManifest(dir), message);
  }
});

test('files the reader goes on to read must be listed: a manifest emptied by hand does not pass', async () => {
  const dir = fixture();
  await writeManifest(dir, ['a.bin']);
  await verifyManifest(dir, { listed: ['a.bin', 'missing-entries-are-not-required'] });
  await assert.rejects(
    verifyManifest(dir, { listed: ['sub'] }),
    /fails verification: sub\/b\.json is not in its manifest/,
  );
  writeFileSync(join(dir, MANIFEST), JSON.stringify({ format: 'ganport-manifest/1', files: {} }));
  await verifyManifest(dir);
  await assert.rejects(verifyManifest(dir, { listed: [''] }), /a\.bin is not in its manifest/);
  // a write killed midway leaves its temporary file beside the whole old one: not a file the reader reads
  await writeManifest(dir);
  writeFileSync(join(dir, 'sub', 'b.json.4242.1700000000000.tmp'), '{"b":');
  await verifyManifest(dir, { listed: [''] });
});

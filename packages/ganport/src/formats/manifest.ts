/**
 * manifest.json: the size and SHA-256 of every file a directory is meant to hold. It is written
 * last, so its presence says the directory is complete, and it is checked before the directory's
 * contents are trusted (a checkpoint resumed, a run exported, a model directory loaded).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, resolve, sep } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { readInputFile, renameDurably, writeFileAtomic, writeLeftoverPid } from '../util/files.js';

export const MANIFEST = 'manifest.json';
const FORMAT = 'ganport-manifest/1';

export interface FileDigest {
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  /** Keyed by path relative to the directory, '/'-separated. */
  files: Record<string, FileDigest>;
}

/** The files under `dir/entry` (a file or a folder, searched recursively), relative to `dir`, '/'-separated. */
async function filesUnder(dir: string, entry: string): Promise<string[]> {
  const info = await stat(join(dir, entry));
  if (!info.isDirectory()) return [entry];
  const names = (await readdir(join(dir, entry))).sort();
  const nested = await Promise.all(names.map((name) => filesUnder(dir, entry ? posix.join(entry, name) : name)));
  return nested.flat();
}

async function digest(path: string): Promise<FileDigest> {
  const bytes = await readInputFile(path);
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Writes dir/manifest.json for `entries` (files or folders relative to `dir`; default: everything
 * in it), hashing what is on disk now; call it after the last of those files is written.
 */
export async function writeManifest(dir: string, entries: readonly string[] = ['']): Promise<void> {
  const paths = (await Promise.all(entries.map((entry) => filesUnder(dir, entry)))).flat();
  const files: Record<string, FileDigest> = {};
  for (const path of paths.filter((p) => p !== MANIFEST).sort()) files[path] = await digest(join(dir, path));
  const manifest: Manifest = { format: FORMAT, files };
  await writeFileAtomic(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

export const hasManifest = (dir: string): boolean => existsSync(join(dir, MANIFEST));

/** dir/manifest.json's text; a pipe or device there is refused, not read (forever). */
const manifestText = async (dir: string) => (await readInputFile(join(dir, MANIFEST))).toString('utf8');

/**
 * Whether dir/manifest.json is someone else's: JSON without ganport's `format` (a web app manifest
 * beside a generator.onnx, say), which model directories leave alone. A damaged one counts as ganport's.
 */
export async function isForeignManifest(dir: string): Promise<boolean> {
  try {
    const parsed: unknown = JSON.parse(await manifestText(dir));
    const object = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
    return object && !('format' in parsed) && !('files' in parsed); // either key: ganport's, damaged or not
  } catch {
    return false;
  }
}

/**
 * The paths dir/manifest.json lists (relative, '/'-separated); none without a readable manifest of
 * ganport's (a missing file, someone else's, a damaged one: parseManifest refuses those).
 */
export async function listedFiles(dir: string): Promise<string[]> {
  try {
    return Object.keys(parseManifest(await manifestText(dir), `${dir}/${MANIFEST}`).files);
  } catch {
    return [];
  }
}

/** The nearest directory above `file` whose ganport manifest lists it, if any. */
export async function listingDirectory(file: string): Promise<string | undefined> {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if ((await listedFiles(dir)).includes(relative(dir, file).split(sep).join('/'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** A relative path that stays inside the directory: no '..', no absolute paths, no empty segments. */
const SAFE_PATH = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[^/\\\0]+(?:\/[^/\\\0]+)*$/;

function parseManifest(text: string, where: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GanportError(`${where} is not valid JSON`);
  }
  const { format, files } = (parsed ?? {}) as Partial<Manifest>;
  if (format !== FORMAT || typeof files !== 'object' || files === null || Array.isArray(files))
    throw new GanportError(`${where} is not a ganport manifest (${FORMAT})`);
  for (const [path, entry] of Object.entries(files)) {
    const { bytes, sha256 } = (entry ?? {}) as Partial<FileDigest>;
    if (!SAFE_PATH.test(path) || !Number.isSafeInteger(bytes) || bytes! < 0 || !/^[0-9a-f]{64}$/.test(sha256 ?? ''))
      throw new GanportError(`${where} has a malformed entry ${JSON.stringify(path).slice(0, 80)}`);
  }
  return { format, files };
}

export interface VerifyOptions {
  /** Check only these of the files it lists. */
  only?: readonly string[];
  /** Files or folders (relative; '' the whole directory) whose files it must list: what the reader goes on to read. */
  listed?: readonly string[];
}

/**
 * Checks every file dir/manifest.json lists (or those of `only` it lists) against its size and
 * SHA-256; throws a one-line GanportError naming the first file that is missing, differs, or lies
 * in `listed` without being listed. Other files it does not list are ignored.
 */
export async function verifyManifest(dir: string, { only, listed = [] }: VerifyOptions = {}): Promise<void> {
  const name = basename(dir);
  const fail = (why: string) => new GanportError(`${dir} fails verification: ${why}`, 'invalid-input');
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (err) {
    throw fail(`cannot read its ${MANIFEST} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(text, `${name}/${MANIFEST}`);
  } catch (err) {
    throw fail((err as Error).message);
  }
  const present = listed.filter((entry) => existsSync(join(dir, entry)));
  const required = (await Promise.all(present.map((entry) => filesUnder(dir, entry)))).flat();
  // a write killed midway leaves its temporary file beside the old one, which is still whole
  const unlisted = required.find(
    (path) => path !== MANIFEST && writeLeftoverPid(path) === undefined && !Object.hasOwn(manifest.files, path),
  );
  if (unlisted !== undefined) throw fail(`${unlisted} is not in its manifest`);
  for (const [path, expected] of Object.entries(manifest.files)) {
    if (only && !only.includes(path)) continue;
    const file = join(dir, path);
    const size = await stat(file).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
    if (size === undefined) throw fail(`${path} is missing`);
    if (size !== expected.bytes) throw fail(`${path} is ${size} bytes, its manifest says ${expected.bytes}`);
    const actual = await digest(file);
    if (actual.sha256 !== expected.sha256)
      throw fail(
        `${path} has SHA-256 ${actual.sha256.slice(0, 12)}…, its manifest says ${expected.sha256.slice(0, 12)}…`,
      );
  }
}

/**
 * Puts what was written into `staging` in place as `dir`, with a manifest recording `entries` (and only
 * those): `staging` renamed where `dir` is new; else the new manifest replaces the old one first, then
 * each entry the old one, so a process killed between the moves leaves a mix of the two that fails
 * verification (an old manifest would have been removed first, and the mix read unverified). Any other
 * files in `dir` stay.
 */
export async function moveInWithManifest(staging: string, dir: string, entries: readonly string[]): Promise<void> {
  await writeManifest(staging, entries);
  if (!existsSync(dir)) {
    await mkdir(dirname(resolve(dir)), { recursive: true });
    await renameDurably(staging, dir);
    return;
  }
  await renameDurably(join(staging, MANIFEST), join(dir, MANIFEST));
  for (const entry of entries) {
    // a folder's other files are not ganport's to remove (a model directory's tfjs/ is shared)
    await rm(join(dir, entry), { recursive: true, force: true });
    await mkdir(dirname(join(dir, entry)), { recursive: true });
    await renameDurably(join(staging, entry), join(dir, entry));
  }
  await rm(staging, { recursive: true, force: true });
}

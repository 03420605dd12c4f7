/**
 * File helpers shared by the CLI, trainer and exporter: atomic writes, directory checks and the package's own paths;
 * and, for the tests and benches, temp dirs that go when the process does.
 */
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, type Stats, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GanportError } from '@ganport/runtime';
import { isRunning } from './lock.js';

/** Whether `path` is `dir` or lies beneath it (both resolved, or both real, paths). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)); // `..notes` is inside
}

/** Throws a one-line GanportError unless `path` is a directory; `what` says what it is for ('data directory'). */
export function requireDirectory(path: string, what: string): void {
  if (!existsSync(path)) throw new GanportError(`${what} ${path} does not exist`, 'not-found');
  refuseFile(path, what);
}

/** Throws a one-line GanportError where `path`, a directory to write into (made if absent), is a file. */
export function refuseFile(path: string, what: string): void {
  if (existsSync(path) && !statSync(path).isDirectory())
    throw new GanportError(`${what} ${path} is a file, not a directory`);
}

/** What `pending` gives; its failure (unreadable, gone meanwhile) one line: `what`, then the system's code. */
export async function orRefused<T>(pending: Promise<T>, what: string): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    throw new GanportError(`${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** What a path that is neither a file nor a directory is, as the refusals of reading or writing one say. */
export const NOT_A_REGULAR_FILE = 'not a regular file (a pipe, socket or device)';

/**
 * Refuses, in one line, a path (or the file a link names) that is a pipe or a device, before anything reads
 * it: a read waits on a pipe forever, or never ends (/dev/zero). What is absent or a directory is left to the
 * reader to say; `hint` ends the line.
 */
export function refuseSpecialFile(path: string, hint = ''): void {
  let kind: Stats | undefined;
  try {
    kind = statSync(path, { throwIfNoEntry: false });
  } catch {
    return; // unreadable: the reader says why
  }
  if (kind && !kind.isFile() && !kind.isDirectory())
    throw new GanportError(`${path} cannot be read: it is ${NOT_A_REGULAR_FILE}${hint}`);
}

/** The bytes of a file the input names; a directory in its place, an unreadable file or a pipe is one line. */
export async function readInputFile(path: string): Promise<Buffer> {
  refuseSpecialFile(path);
  return orRefused(readFile(path), `${path} cannot be read`);
}

/** Flushes a directory's entries (a file renamed into it) to disk; nothing where it cannot be opened for that (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  try {
    await handle?.sync();
  } catch {
    // a file system that cannot flush a directory has nothing more to give
  } finally {
    await handle?.close();
  }
}

/** Renames, then flushes the directories involved, so that the new name survives a power loss too. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDirectory(dirname(to));
  if (dirname(resolve(from)) !== dirname(resolve(to))) await syncDirectory(dirname(from));
}

/**
 * Writes to a temporary file beside `path`, flushes it to disk, then renames it into place, so a
 * crash, a power loss or a failed write never leaves a partial file under the final name.
 * A link is written through (the file it names is replaced, the link stays); a path
 * that names a directory, a pipe or a device is refused, since the rename would replace it.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const refuse = (why: string) => new GanportError(`cannot write ${path}: ${why}; name a file`);
  if (path.endsWith('/') || path.endsWith(sep)) throw refuse('it names a directory (a trailing separator)');
  let target = resolve(path);
  // ENOTDIR (a file stands in the path) is left to mkdir below to say
  const statOr = (read: () => Stats | undefined) => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  if (statOr(() => lstatSync(target, { throwIfNoEntry: false }))?.isSymbolicLink()) {
    try {
      target = realpathSync(target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw refuse(code === 'ELOOP' ? 'it is a loop of links' : 'it is a link to nothing');
    }
  }
  const kind = statOr(() => statSync(target, { throwIfNoEntry: false }));
  if (kind?.isDirectory()) throw refuse('it is a directory');
  if (kind && !kind.isFile()) throw refuse(`it is ${NOT_A_REGULAR_FILE}`);
  try {
    await mkdir(dirname(target), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // mkdir says EEXIST where a file stands in the path, or ENOTDIR below one
    const why =
      code === 'EEXIST' || code === 'ENOTDIR' ? 'a file stands in its path' : (code ?? (err as Error).message);
    throw new GanportError(`cannot write ${path}: cannot create directory ${dirname(target)}: ${why}`);
  }
  const tmp = temporaryPath(target);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await renameDurably(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {}); // the write's error is the one to report
    throw new GanportError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Longest file name in bytes (NAME_MAX on Linux and macOS, NTFS's 255 UTF-16 units at least as long). */
const NAME_MAX = 255;

/**
 * writeFileAtomic's temporary file beside `target`, NAME.PID.TIME.tmp, its NAME cut short where the suffix
 * would take it past NAME_MAX (a 240-byte name, legal itself, could not be written).
 */
function temporaryPath(target: string): string {
  const suffix = `.${process.pid}.${Date.now()}.tmp`;
  const name = Array.from(basename(target)); // by code points: a cut never splits a character
  while (Buffer.byteLength(name.join('') + suffix) > NAME_MAX) name.pop();
  return join(dirname(target), name.join('') + suffix);
}

/** The pid in a name writeFileAtomic leaves when killed mid-write, NAME.PID.TIME.tmp; undefined for any other name. */
export const writeLeftoverPid = (name: string): string | undefined => /\.(\d+)\.\d+\.tmp$/.exec(name)?.[1];

/**
 * Removes the entries of `dir` (and of its folders, with `recursive`) that `pidOf` says a process made
 * as temporary (it returns that process's pid), where that process no longer runs; returns their paths.
 */
export async function removeLeftovers(
  dir: string,
  pidOf: (name: string) => string | undefined,
  recursive = false,
): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const pid = pidOf(entry.name);
    if (pid !== undefined && !isRunning(Number(pid))) {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } else if (recursive && entry.isDirectory()) removed.push(...(await removeLeftovers(path, pidOf, true)));
  }
  return removed;
}

/** Where a directory's new contents are written before they move in (one per process). */
const stagingDir = (dir: string, pid: number | string = process.pid): string => `${resolve(dir)}.${pid}.tmp`;

/**
 * Makes this process's staging for `dir` (stagingDir), empty, after removing what processes killed
 * midway left beside `dir`; one line naming `what` (the flag) where it cannot be made.
 */
export const makeStaging = (dir: string, what: string): Promise<string> =>
  orRefused(
    (async () => {
      const staging = stagingDir(dir);
      await rm(staging, { recursive: true, force: true });
      await removeLeftovers(dirname(staging), (name) => {
        const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
        return pid !== undefined && name === basename(stagingDir(dir, pid)) ? pid : undefined;
      });
      await mkdir(staging, { recursive: true });
      return staging;
    })(),
    `cannot create ${what} ${dir}`,
  );

const temporaryDirs: string[] = [];

/**
 * A new dir under the OS's temp dir, removed when the process exits (a fresh app's install is about
 * 1 GB: left behind, a few test runs fill a disk).
 */
export function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (temporaryDirs.push(dir) === 1)
    process.on('exit', () => {
      for (const d of temporaryDirs) {
        try {
          rmSync(d, { recursive: true, force: true });
        } catch {
          // one left behind must not change how the process ends
        }
      }
    });
  return dir;
}

let root: string | undefined;

/** The directory holding ganport's package.json (works from src and from dist/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'ganport') {
      root = dir;
      return root;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ganport package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

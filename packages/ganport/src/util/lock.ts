/**
 * A lock file that keeps two processes from writing one directory. It names its owner (pid and
 * host); a lock whose owner is a dead process on this host is taken over, any other is refused.
 */
import { mkdir, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { GanportError } from '@ganport/runtime';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
}

export interface HeldLock {
  /** Removes the lock (if still ours), and the directory too when taking the lock created it and it stayed empty. */
  release(): Promise<void>;
}

/** Whether `pid` names a running process on this host (EPERM: it runs, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How long a lock file may stay without a readable owner before it counts as left by a dead process. */
export const UNWRITTEN_LOCK_MS = 10_000;

/**
 * The owner a lock file names; undefined when it is gone, or empty or damaged but recent (its owner may be
 * between creating and writing it); 'abandoned' when it has had no readable owner for UNWRITTEN_LOCK_MS.
 */
async function readOwner(path: string): Promise<LockOwner | 'abandoned' | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (Number.isSafeInteger(owner.pid) && typeof owner.host === 'string') return owner as LockOwner;
  } catch {}
  const written = await stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );
  return written !== undefined && Date.now() - written > UNWRITTEN_LOCK_MS ? 'abandoned' : undefined;
}

/** Creates `path` only if it does not exist; false when it does. */
async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new GanportError(`cannot create the lock file ${path}: ${code ?? (err as Error).message}`);
  }
  try {
    await handle.writeFile(`${JSON.stringify(owner)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

const isStale = (owner: LockOwner | 'abandoned' | undefined, me: LockOwner) =>
  owner === 'abandoned' || (owner !== undefined && owner.host === me.host && !isRunning(owner.pid));

/**
 * Replaces a lock left by a dead process with ours. Two processes may find the same stale lock;
 * the takeover itself is serialized by a second exclusive file, `path.takeover`, so that one of
 * them cannot delete the lock the other has just taken (a takeover file left by a process killed
 * in those few milliseconds is itself cleared as stale).
 */
async function takeOverStale(path: string, what: string, me: LockOwner, log: (line: string) => void): Promise<boolean> {
  if (!isStale(await readOwner(path), me)) return false;
  const takeover = `${path}.takeover`;
  if (!(await createExclusive(takeover, me))) {
    if (!isStale(await readOwner(takeover), me)) return false; // another process is taking it over now
    await rm(takeover, { force: true });
    if (!(await createExclusive(takeover, me))) return false;
  }
  try {
    const holder = await readOwner(path); // read again: it may have been taken over meanwhile
    if (!isStale(holder, me)) return false;
    log(
      holder === 'abandoned'
        ? `taking over the lock of ${what}, left empty by a process that died while taking it`
        : `taking over the lock of ${what} from process ${holder!.pid}, which is no longer running`,
    );
    await rm(path, { force: true });
    return await createExclusive(path, me);
  } finally {
    await rm(takeover, { force: true });
  }
}

/**
 * Takes the lock file `path` for `what` (e.g. "the run in runs/x"), creating its directory if
 * needed. A lock left by a process no longer running on this host is taken over, with one line
 * to `log`; a live or foreign owner makes it throw a GanportError naming that owner.
 */
export async function acquireLock(
  path: string,
  what: string,
  log: (line: string) => void = () => {},
): Promise<HeldLock> {
  const dir = dirname(path);
  let firstCreated: string | undefined; // the outermost directory mkdir made (all under it too)
  try {
    firstCreated = await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new GanportError(`cannot create directory ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const taken = (await createExclusive(path, me)) || (await takeOverStale(path, what, me, log));
  if (!taken) {
    const holder = await readOwner(path);
    const who =
      typeof holder === 'object'
        ? `process ${holder.pid} on ${holder.host} (since ${holder.since})`
        : 'another process';
    throw new GanportError(
      `${what} is being written by ${who}; wait for it to finish, or delete ${path} if that process is gone`,
      'unavailable',
    );
  }
  return {
    async release() {
      const holder = await readOwner(path);
      if (typeof holder === 'object' && holder.pid === me.pid && holder.host === me.host)
        await rm(path, { force: true });
      // each directory made for the lock goes again, innermost first; one anything was written in stays, and those above it
      for (let made = dir; firstCreated !== undefined; made = dirname(made)) {
        const removed = await rmdir(made).then(
          () => true,
          () => false,
        );
        if (!removed || made === firstCreated) break;
      }
    },
  };
}

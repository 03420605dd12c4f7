/**
 * A lock file that keeps two processes from writing one directory. It names its owner (pid, host and,
 * on Linux, the process's start); a lock whose owner is a dead process on this host is taken over,
 * any other is refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GanportError } from '@ganport/runtime';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The owner's start as `bootId:ticks` (Linux), so that a later process given the same pid is not taken for it. */
  start?: string;
}

export interface HeldLock {
  /** Removes the lock (if still ours), and the directory too when taking the lock created it and it stayed empty. */
  release(): Promise<void>;
}

/**
 * When process `pid` started, as `bootId:ticks` from /proc (ticks since boot; the boot's id, since a
 * reboot may start the same pid at the same tick); undefined where there is no /proc or no such process.
 */
export function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields from the third on follow the command's name in parentheses, which may hold spaces and ')'
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return ticks === undefined ? undefined : `${bootId}:${ticks}`;
  } catch {
    return undefined;
  }
}

/** Whether a process runs under `pid` on this host (EPERM: one does, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the lock's owner still runs on this host: a process under its pid that started at another
 * time is a later one, given the pid again.
 */
function ownerRunning(owner: LockOwner): boolean {
  if (!isRunning(owner.pid)) return false;
  const start = owner.start === undefined ? undefined : processStart(owner.pid);
  return start === undefined || start === owner.start;
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
  owner === 'abandoned' || (owner !== undefined && owner.host === me.host && !ownerRunning(owner));

/**
 * Runs `takeOver` (checking a stale lock again, removing it, creating ours) with no other process
 * of this host doing the same for `path`, so that one of two processes which found one stale lock
 * cannot delete the lock the other has just taken; false when another one held it for long.
 */
export type TakeoverGuard = (path: string, me: LockOwner, takeOver: () => Promise<boolean>) => Promise<boolean>;

/** How long a process waits for another's takeover of the same lock (a few milliseconds of file work). */
const TAKEOVER_WAIT_MS = 5_000;

/** Listens on `name`, resolving to the server, or to undefined when another socket has that name. */
const bindSocket = (name: string) =>
  new Promise<Server | undefined>((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen({ path: name, exclusive: true }, () => resolve(server.unref()));
  });

/**
 * Linux: a socket in the abstract namespace, named from the lock file's real path, is the mutex.
 * The kernel frees it when its process dies, so a process killed mid-takeover leaves nothing stale.
 */
export const socketGuard: TakeoverGuard = async (path, me, takeOver) => {
  const real = join(await realpath(dirname(path)), basename(path));
  const name = `\0ganport-lock-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
  for (const started = Date.now(); ; await sleep(10)) {
    const server = await bindSocket(name).catch(() => null); // null: no such sockets here (a sandbox)
    if (server === null) return fileGuard(path, me, takeOver);
    if (server !== undefined) {
      try {
        return await takeOver();
      } finally {
        server.close();
      }
    }
    if (Date.now() - started > TAKEOVER_WAIT_MS) return false;
  }
};

/**
 * Elsewhere: a second exclusive file, `path.takeover`. One left by a process killed in those few
 * milliseconds is cleared as stale, which two processes may still both do at once.
 */
export const fileGuard: TakeoverGuard = async (path, me, takeOver) => {
  const takeover = `${path}.takeover`;
  if (!(await createExclusive(takeover, me))) {
    if (!isStale(await readOwner(takeover), me)) return false; // another process is taking it over now
    await rm(takeover, { force: true });
    if (!(await createExclusive(takeover, me))) return false;
  }
  try {
    return await takeOver();
  } finally {
    await rm(takeover, { force: true });
  }
};

const defaultGuard = process.platform === 'linux' ? socketGuard : fileGuard;

/** Replaces a lock left by a dead process with ours, under `guard`. */
async function takeOverStale(
  path: string,
  what: string,
  me: LockOwner,
  log: (line: string) => void,
  guard: TakeoverGuard,
): Promise<boolean> {
  if (!isStale(await readOwner(path), me)) return false;
  return guard(path, me, async () => {
    const holder = await readOwner(path); // read again: it may have been taken over meanwhile
    if (!isStale(holder, me)) return false;
    log(
      holder === 'abandoned'
        ? `taking over the lock of ${what}, left empty by a process that died while taking it`
        : `taking over the lock of ${what} from process ${holder!.pid}, which is no longer running`,
    );
    await rm(path, { force: true });
    return await createExclusive(path, me);
  });
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
  guard: TakeoverGuard = defaultGuard,
): Promise<HeldLock> {
  const dir = dirname(path);
  let firstCreated: string | undefined; // the outermost directory mkdir made (all under it too)
  try {
    firstCreated = await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new GanportError(`cannot create directory ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    start: processStart('self'),
  };
  const taken = (await createExclusive(path, me)) || (await takeOverStale(path, what, me, log, guard));
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

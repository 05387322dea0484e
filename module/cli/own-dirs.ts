// The folders the root daemon keeps its state in (dataDir, runDir), and what it trusts there.
//
// Every folder on the way to them must belong to root (or to the daemon's own user) and be writable by nobody
// else, except a sticky folder like /tmp on the way (there nobody but its owner can move or replace an entry,
// and the entry is checked in turn). Otherwise another user could swap a folder or plant a symbolic link and
// have the daemon write where they choose. Folders the daemon creates are 0700 and carry a marker file naming
// them: uninstall removes a whole folder only when it finds that marker (doctor.ts, uninstallCleanup).
import fs from 'node:fs';
import path from 'node:path';

/** In every folder the package creates: its own path, one line. */
export const MARKER = '.sipa-owned';

export class UntrustedPathError extends Error {
  override readonly name = 'UntrustedPathError';
  readonly code = 'untrusted_path';
  constructor(readonly path: string, reason: string) {
    super(`${path} ${reason}; the service keeps its state only where no user but root can change it`);
  }
}

const MAX_LINKS = 40;

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.getuid?.();
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function checkFolder(p: string, st: fs.Stats, onTheWay: boolean): void {
  if (!trustedOwner(st.uid)) throw new UntrustedPathError(p, `belongs to uid ${st.uid}, not root`);
  const othersWrite = (st.mode & 0o022) !== 0;
  const sticky = (st.mode & 0o1000) !== 0;
  if (othersWrite && !(onTheWay && sticky)) {
    throw new UntrustedPathError(p, `can be written by users other than root (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  }
}

/** Writes the marker into a folder just made: exclusive, never through a link. */
function mark(dir: string): void {
  const fd = fs.openSync(path.join(dir, MARKER), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${dir}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when the folder carries the package's marker naming this very folder. */
export function isMarked(dir: string): boolean {
  const file = path.join(dir, MARKER);
  const st = lstatOrNull(file);
  if (!st || !st.isFile() || !trustedOwner(st.uid)) return false;
  try {
    return fs.readFileSync(file, 'utf8').trim() === fs.realpathSync(dir);
  } catch {
    return false;
  }
}

/**
 * Checks every folder from / to dir (following root's own symbolic links), creating the missing ones 0700 with
 * a marker when `create`; returns the folder's real path. Throws UntrustedPathError naming the first path at
 * fault; errors of creating (a read-only or full partition) are thrown as they are.
 */
export function ownFolder(dir: string, create = true): string {
  let pending = path.resolve(dir).split('/').filter(Boolean);
  let cur = '/';
  let links = 0;
  checkFolder('/', fs.lstatSync('/'), pending.length > 0);
  while (pending.length > 0) {
    const next = path.join(cur, pending.shift() as string);
    let st = lstatOrNull(next);
    if (!st) {
      if (!create) throw new UntrustedPathError(next, 'does not exist');
      try {
        fs.mkdirSync(next, { mode: 0o700 });
        mark(next);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      st = fs.lstatSync(next);
    }
    if (st.isSymbolicLink()) {
      if (!trustedOwner(st.uid)) throw new UntrustedPathError(next, `is a symbolic link that belongs to uid ${st.uid}, not root`);
      if (++links > MAX_LINKS) throw new UntrustedPathError(next, 'leads through too many symbolic links');
      pending = [...path.resolve(cur, fs.readlinkSync(next)).split('/').filter(Boolean), ...pending];
      cur = '/';
      continue;
    }
    if (!st.isDirectory()) throw new UntrustedPathError(next, 'is not a folder');
    checkFolder(next, st, pending.length > 0);
    cur = next;
  }
  // A folder of our own is kept 0700 whatever made it wider (an older version made them 0750).
  if (isMarked(cur) && (fs.lstatSync(cur).mode & 0o077) !== 0) fs.chmodSync(cur, 0o700);
  return cur;
}

/**
 * The files the daemon opens in a folder it owns: none may be a symbolic link or belong to another user; those
 * there are made 0600 (older versions created the store 0644, and it holds the portal binding's private key).
 */
export function ownFiles(dir: string, names: (name: string) => boolean): void {
  for (const name of fs.readdirSync(dir)) {
    if (!names(name)) continue;
    const file = path.join(dir, name);
    const st = fs.lstatSync(file);
    if (st.isSymbolicLink()) throw new UntrustedPathError(file, 'is a symbolic link; the service opens only regular files of its own there');
    if (!st.isFile()) throw new UntrustedPathError(file, 'is not a regular file');
    if (!trustedOwner(st.uid)) throw new UntrustedPathError(file, `belongs to uid ${st.uid}, not root`);
    if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  }
}

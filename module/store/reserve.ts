import fs from 'node:fs';
import path from 'node:path';

// The flash partition is a few MiB shared with QTS's own settings, and it does fill up. A revocation, a
// disable or the booking of an expiry must still be written then: a small file of zeros is kept beside
// sipa.db and given up (deleted) the first time such a write finds no room, which frees its blocks for it.
// It is made again once the partition has room for it twice over.

export const RESERVE_FILE_NAME = 'sipa.reserve';
export const RESERVE_BYTES = 64 * 1024;

export class SpaceReserve {
  readonly file: string;

  constructor(dataDir: string, private readonly bytes = RESERVE_BYTES) {
    this.file = path.join(dataDir, RESERVE_FILE_NAME);
  }

  /** True while the reserve is in place. */
  held(): boolean {
    try {
      return fs.statSync(this.file).size >= this.bytes;
    } catch {
      return false;
    }
  }

  /** Makes the reserve if it is missing and the partition has room for it twice over; never throws. */
  ensure(): boolean {
    if (this.held()) return true;
    try {
      const st = fs.statfsSync(path.dirname(this.file));
      if (st.bavail * st.bsize < 2 * this.bytes) return false;
      const fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
      try {
        // Real blocks, not a sparse file: a hole frees nothing when it is deleted.
        fs.writeSync(fd, Buffer.alloc(this.bytes));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return true;
    } catch {
      fs.rmSync(this.file, { force: true });
      return false;
    }
  }

  /** Gives the reserve up; true if there was one to give. */
  release(): boolean {
    if (!this.held()) return false;
    fs.rmSync(this.file, { force: true });
    return true;
  }
}

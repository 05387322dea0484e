import fs from 'node:fs';
import path from 'node:path';
import { storeErrorFrom } from './errors';
import type { SpaceReserve } from './reserve';

// Whether enforcement is on lives in a file of its own beside sipa.db, written atomically (temp file, fsync,
// rename, fsync of the folder). Damage to the database, or moving it aside, cannot take the on/off state with
// it; a damaged or half-written switch file reads as 'damaged', which the engine treats as on.

export const SWITCH_FILE_NAME = 'sipa.enforce';

export type SwitchReading =
  | { state: 'on' | 'off'; at: number; by: string }
  | { state: 'absent' }
  | { state: 'damaged'; reason: string };

export class SwitchFile {
  readonly file: string;

  constructor(dataDir: string, private readonly reserve: SpaceReserve | null = null) {
    this.file = path.join(dataDir, SWITCH_FILE_NAME);
  }

  read(): SwitchReading {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
      return { state: 'damaged', reason: `cannot read ${this.file}: ${(err as Error).message}` };
    }
    try {
      const v = JSON.parse(text) as { enforce?: unknown; at?: unknown; by?: unknown };
      if (typeof v.enforce === 'boolean' && Number.isSafeInteger(v.at) && typeof v.by === 'string') {
        return { state: v.enforce ? 'on' : 'off', at: v.at as number, by: v.by };
      }
    } catch {
      // falls through: not JSON
    }
    return { state: 'damaged', reason: `${this.file} does not hold a valid on/off record` };
  }

  /**
   * Durable when it returns. On a full partition the space reserve is given up once and the write tried again:
   * switching must work when nothing else can be written.
   */
  write(enforce: boolean, by: string, at: number): void {
    const text = `${JSON.stringify({ enforce, at, by })}\n`;
    try {
      this.writeOnce(text);
    } catch (err) {
      if (!isNoSpace(err) || !this.reserve?.release()) throw storeErrorFrom(err, 'store_write_failed', `store: cannot write ${this.file}`);
      try {
        this.writeOnce(text);
      } catch (again) {
        throw storeErrorFrom(again, 'store_write_failed', `store: cannot write ${this.file}`);
      }
    }
  }

  private writeOnce(text: string): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    const dir = fs.openSync(path.dirname(this.file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  }
}

export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown; reason?: unknown })?.code;
  const reason = (err as { reason?: unknown })?.reason;
  return code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT' || reason === 'ENOSPC' || reason === 'SQLITE_FULL' || code === 'store_full';
}

// Set lifecycle, batch apply, listing, and the atomic full replace, on top of the netlink helper.
import { Family, KernelEntry, KernelError, NetlinkHandle, SetMember } from './native';

export interface SetSpec {
  name: string;
  family: Family;
  /** Sized for the set's maximum up front: a small table keeps rehashing while it fills (and stalls adds). */
  hashsize: number;
  maxelem: number;
  timeout: boolean;
}

export interface BatchFailure {
  index: number;
  entry: KernelEntry;
  code: number;
  reason: string;
}

export interface BatchResult {
  applied: number;
  failed: BatchFailure[];
}

/** The kernel rounds hashsize up to a power of two; ask for one that holds maxelem without resizing. */
export function hashsizeFor(maxelem: number): number {
  let size = 1024;
  while (size < maxelem && size < 1 << 20) size *= 2;
  return size;
}

export class IpsetManager {
  constructor(
    private readonly nl: NetlinkHandle,
    private readonly describe: (code: number) => string,
  ) {}

  /** Creates the set unless one of that name with the same parameters exists. */
  ensure(spec: SetSpec): void {
    this.nl.setCreate(spec.name, spec.family, spec);
  }

  exists(name: string): boolean {
    return this.nl.setInfo(name) !== null;
  }

  info(name: string) {
    return this.nl.setInfo(name);
  }

  /** Destroys the set; a set that is already gone is fine. */
  destroy(name: string): void {
    try {
      this.nl.setDestroy(name);
    } catch (e) {
      if (!(e instanceof KernelError && e.is('ENOENT'))) throw e;
    }
  }

  list(name: string): SetMember[] {
    return this.nl.setList(name);
  }

  /** Applies adds and deletes in order; a bad entry is reported alone and the others still apply. */
  apply(name: string, entries: readonly KernelEntry[]): BatchResult {
    const codes = this.nl.batchApply(name, entries);
    const failed: BatchFailure[] = [];
    codes.forEach((code, index) => {
      if (code !== 0) failed.push({ index, entry: entries[index], code, reason: this.describe(code) });
    });
    return { applied: entries.length - failed.length, failed };
  }

  /**
   * Replaces the whole contents: fills a temporary set, swaps it with the live one (the kernel exchanges them
   * atomically, so a rule matching the set never sees it empty) and destroys the old contents.
   */
  replace(spec: SetSpec, entries: readonly KernelEntry[]): BatchResult {
    const tmp = temporaryName(spec.name);
    this.destroy(tmp);
    this.ensure(spec);
    this.ensure({ ...spec, name: tmp });
    try {
      const result = this.apply(tmp, entries);
      this.nl.setSwap(tmp, spec.name);
      return result;
    } finally {
      this.destroy(tmp);
    }
  }
}

export function temporaryName(name: string): string {
  const tmp = `${name}_t`;
  return tmp.length <= 31 ? tmp : `${name.slice(0, 29)}_t`;
}

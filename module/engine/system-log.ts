// The NAS's own event log (QuLog Center, and Notification Center alerts fed from it) through QTS's `log_tool`.
// Admins read that, not the daemon's log file. Where log_tool is absent (dev machines, tests) the same line goes
// to the daemon's log, marked `systemLog`, so both paths are visible and testable.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { Logger } from './log';

export type SystemLogLevel = 'info' | 'warn' | 'error';
export type SystemLog = (level: SystemLogLevel, message: string) => void;

/** QTS's event-log writer; its -t levels are 0 info, 1 warning, 2 error. */
export const LOG_TOOL = '/sbin/log_tool';
const LEVEL: Record<SystemLogLevel, string> = { info: '0', warn: '1', error: '2' };
/** The same sentence is sent at most once in this long: a repeating failure must not flood the event log. */
const REPEAT_MS = 10 * 60 * 1000;

export function systemLog(log: () => Logger, opts: { tool?: string; now?: () => number } = {}): SystemLog {
  const tool = opts.tool ?? LOG_TOOL;
  const now = opts.now ?? Date.now;
  const lastSent = new Map<string, number>();
  return (level, message) => {
    const t = now();
    const last = lastSent.get(message);
    if (last !== undefined && t - last < REPEAT_MS) return;
    lastSent.set(message, t);
    const text = `[Secure IP Access] ${message}`;
    log()(level, message, { systemLog: true });
    if (!fs.existsSync(tool)) return;
    execFile(tool, ['-t', LEVEL[level], '-uSystem', '-p127.0.0.1', '-mlocalhost', '-a', text], err => {
      if (err) log()('warn', 'log_tool failed', { error: err.message });
    });
  };
}

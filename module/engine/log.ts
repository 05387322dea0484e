// Structured log lines: one JSON object per line on stderr (the service script sends them to its log file).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function jsonLogger(min: LogLevel = 'info', out: (line: string) => void = l => process.stderr.write(l)): Logger {
  return (level, msg, fields) => {
    if (ORDER[level] < ORDER[min]) return;
    out(`${JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}

export const silentLogger: Logger = () => undefined;

/** The same logger as an object with one method per level (the portal link's shape). */
export function levelMethods(log: () => Logger, scope: string) {
  const at = (level: LogLevel) => (message: string) => log()(level, message, { scope });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

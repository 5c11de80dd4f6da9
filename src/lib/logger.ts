import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets or personal data. Values under them are replaced by "[redacted]"
 * wherever they appear in a log line, as a safety net: code should not log such values at all.
 */
const redactPaths = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'token',
  '*.token',
  'email',
  '*.email',
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
}

export function createLogger({ level = 'info', pretty = false }: LoggerOptions = {}): Logger {
  return pino({
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
          },
        }
      : {}),
  });
}

/** A logger that writes nothing, for tests and tools that have no logger of their own. */
export const silentLogger: Logger = pino({ level: 'silent' });

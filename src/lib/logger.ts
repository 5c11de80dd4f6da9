import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

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

/** Errors whose message and properties carry the values that failed (a name, an address…). */
const VALUE_ERRORS = new Set(['ValidationError', 'ValidatorError', 'CastError']);

function carriesValues(error: Error): boolean {
  return VALUE_ERRORS.has(error.name) || (error as { code?: unknown }).code === 11000;
}

/** The stack's frames only (its first lines repeat the message). */
const framesOf = (stack: string | undefined) =>
  (stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .join('\n');

/**
 * The error as it may be logged. Mongoose validation and cast errors and duplicate-key errors
 * put the rejected values in their message and properties: they are replaced by an error that
 * names only the fields (paths) and the kinds of failure. Causes are cleaned the same way, since
 * pino prints them within the message and stack.
 */
export function loggableError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 5) return error;
  if (carriesValues(error)) {
    const details = error as {
      errors?: Record<string, { kind?: string }>;
      path?: string;
      kind?: string;
      keyPattern?: Record<string, unknown>;
    };
    const fields = details.errors
      ? Object.entries(details.errors).map(([path, failure]) => `${path} (${failure.kind})`)
      : details.path
        ? [`${details.path} (${details.kind})`]
        : Object.keys(details.keyPattern ?? {}).map((path) => `${path} (duplicate)`);
    const safe = new Error(
      `${error.name} at ${fields.join(', ') || 'unknown fields'}; values not logged`,
    );
    safe.name = error.name;
    safe.stack = `${safe.name}: ${safe.message}\n${framesOf(error.stack)}`;
    return safe;
  }
  if (!(error.cause instanceof Error)) return error;
  const cause = loggableError(error.cause, depth + 1);
  if (cause === error.cause) return error;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(error) as object) as Error, error);
  copy.message = error.message;
  copy.stack = error.stack;
  copy.cause = cause;
  return copy;
}

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  /** Where lines go (standard output by default; tests pass a stream to read them). */
  destination?: DestinationStream;
}

export function createLogger({
  level = 'info',
  pretty = false,
  destination,
}: LoggerOptions = {}): Logger {
  const options = {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: { err: (error: unknown) => stdSerializers.err(loggableError(error) as Error) },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
          },
        }
      : {}),
  };
  return destination && !pretty ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing, for tests and tools that have no logger of their own. */
export const silentLogger: Logger = pino({ level: 'silent' });

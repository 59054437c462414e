// Structured logs with pino. `json` writes pino's JSON lines; `text` writes one readable line per
// record ("12:00:00.123 INFO advertising 10.96.0.10/32 ... key=value"), without extra dependencies.
import { pino, type DestinationStream } from 'pino';
import type { Logger } from '../logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';

const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function textLine(record: Record<string, unknown>): string {
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = String(record.level).toUpperCase();
  const fields = Object.entries(record)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[\x21-\x7e]*$/.test(v) ? v : JSON.stringify(v)}`);
  // A value from the cluster (a Service IP with a newline) must never forge a second log line.
  const msg = typeof record.msg === 'string' ? escapeControls(record.msg) : '';
  return [time, level.padEnd(5), msg, ...fields].filter((s) => s !== '').join(' ') + '\n';
}

function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function textDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        try {
          out.write(textLine(JSON.parse(line) as Record<string, unknown>));
        } catch {
          out.write(line + '\n');
        }
      }
    },
  };
}

/**
 * The `err` field as log pipelines expect it ({type, message, stack, code...}): pino's serializer
 * for errors, and the same shape for a message string or any other thrown value.
 */
export function serializeErr(value: unknown): unknown {
  if (value instanceof Error) return pino.stdSerializers.err(value);
  return { type: typeof value === 'string' ? 'Error' : typeof value, message: String(value) };
}

/** Options every cosmolet logger shares: the level as its name ("level":"info"), errors serialized. */
const COMMON = {
  base: undefined,
  formatters: { level: (label: string) => ({ level: label }) },
  serializers: { err: serializeErr },
};

export function createLogger(
  level: LogLevel = 'info',
  format: LogFormat = 'json',
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const options = { ...COMMON, level, timestamp: pino.stdTimeFunctions.epochTime };
  if (format === 'text') return pino(options, textDestination(out));
  return pino({ ...options, timestamp: pino.stdTimeFunctions.isoTime }, out as DestinationStream);
}

/** A logger that drops everything: for tests and library callers that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Structured logs: one JSON object a line, with ts, level, module, msg and any fields (camera,
 * error...). Loggers are values passed in, never module globals; `child()` adds fixed fields.
 */
/** Lowest level written (config `log.level`). */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, unknown>>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** Writes a record made elsewhere (e.g. by a worker process) as it is, if its level passes. */
  forward(record: Readonly<Record<string, unknown>>): void;
}

export interface LoggerOptions {
  /** Lowest level written. Default "info". */
  readonly level?: LogLevel;
  /** Where lines go. Default: stdout. */
  readonly sink?: LogSink;
  /** Fields on every line, e.g. { module: "recorder" }. */
  readonly fields?: LogFields;
  /** Clock for the ts field. Default Date.now. */
  readonly now?: () => number;
}

const encoder = new TextEncoder();
const stdoutSink: LogSink = (line) => {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const sink = options.sink ?? stdoutSink;
  const now = options.now ?? Date.now;
  const base = options.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const record: Record<string, unknown> = {
      ts: new Date(now()).toISOString(),
      level,
      ...base,
      msg,
    };
    for (const [k, v] of Object.entries(fields ?? {})) record[k] = serialise(v);
    sink(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
    forward: (record) => {
      const level = RANK[record.level as LogLevel] ?? RANK.info;
      if (level >= min) sink(JSON.stringify(record));
    },
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(
  level: LogLevel = "debug",
): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, sink: (line) => lines.push(JSON.parse(line)) });
  return Object.assign(logger, { lines });
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return value.cause === undefined
      ? { name: value.name, message: value.message }
      : { name: value.name, message: value.message, cause: serialise(value.cause) };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

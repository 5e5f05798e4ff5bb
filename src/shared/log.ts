/**
 * log writes one line to stderr: `time level component message key=value ...`.
 * Never pass secrets (tokens, passwords, grants) as fields.
 */
export type Level = "debug" | "info" | "warn" | "error";

const quiet = () => process.env.SPROUT_LOG === "quiet";

export function log(level: Level, component: string, message: string, fields: Record<string, unknown> = {}) {
  if (level === "debug" && !process.env.SPROUT_DEBUG) return;
  if (quiet() && level !== "error") return;
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${component}: ${message}${kv ? " " + kv : ""}\n`);
}

/** logger binds a component name. */
export function logger(component: string) {
  return {
    debug: (m: string, f?: Record<string, unknown>) => log("debug", component, m, f),
    info: (m: string, f?: Record<string, unknown>) => log("info", component, m, f),
    warn: (m: string, f?: Record<string, unknown>) => log("warn", component, m, f),
    error: (m: string, f?: Record<string, unknown>) => log("error", component, m, f),
  };
}

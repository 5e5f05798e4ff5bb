import { SproutError } from "../shared/errors";

const tty = () => Boolean(process.stderr.isTTY) && !process.env.CI;
const color = () => tty() && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (color() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const dim = paint("2");
export const green = paint("32");
export const red = paint("31");
export const yellow = paint("33");
export const bold = paint("1");

/** info writes a progress/status line to stderr (data goes to stdout). */
export function info(line: string) {
  process.stderr.write(`${line}\n`);
}

/** printError prints an error with its hint, the way every command reports failure. */
export function printError(e: unknown) {
  if (e instanceof SproutError) {
    process.stderr.write(`${red("error:")} ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ""}`);
  } else {
    process.stderr.write(`${red("error:")} ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/** bytes formats a byte count for people. */
export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/**
 * Progress shows a running count on stderr: one rewritten line on a terminal, a plain line at most
 * once a second otherwise (CI logs stay readable).
 */
export class Progress {
  private last = 0;
  private t0 = performance.now();
  constructor(private label: string) {}

  update(text: (elapsedSec: number) => string, force = false) {
    const now = performance.now();
    if (!force && now - this.last < (tty() ? 100 : 1000)) return;
    this.last = now;
    const line = `${this.label} ${text((now - this.t0) / 1000)}`;
    if (tty()) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  }

  done(text: string) {
    if (tty()) process.stderr.write(`\r\x1b[2K`);
    info(`${this.label} ${text}`);
  }

  elapsed() {
    return (performance.now() - this.t0) / 1000;
  }
}

/** table renders rows as aligned columns. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

/** ago says how long ago an ISO time was. */
export function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** oneLine shows a user's text in a table cell: on one line, cut at `max` characters with an ellipsis. */
export function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

import { UsageError } from "./command";
import { badRequest } from "./errors";

/** parseListen reads "HOST:PORT" (or ":PORT", or "PORT") into its parts; port 0 means any free port. */
export function parseListen(value: string, flag = "--listen"): { hostname: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw badRequest("bad_flag", `${flag} must be HOST:PORT, e.g. 127.0.0.1:7000 (got "${value}").`);
  return { hostname: (m[1] || "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

/** waitForSignal resolves on the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once("SIGINT", on("SIGINT"));
    process.once("SIGTERM", on("SIGTERM"));
  });
}

/**
 * EXCLUSIVE_PORT goes into every Elysia listen(): Elysia asks Bun for SO_REUSEPORT by default, with
 * which a second master or agent started on a port already in use shares it with the first (the
 * kernel then splits connections between the two) rather than failing. `development: false`: Bun
 * never answers an error with its debugging page.
 */
export const EXCLUSIVE_PORT = { reusePort: false, development: false } as const;

/** TimedServer: what a route sees of Bun's server (Elysia's `server`), for per-request timeouts. */
export type TimedServer = { timeout(request: Request, seconds: number): void } | null | undefined;

/**
 * noIdleTimer turns Bun's idle timer off for one request whose body takes long to arrive (a large
 * upload): that timer does not restart as body bytes come, so it cuts such an upload after one to
 * two timeouts however well it progresses (measured: a body sent at 100 KB/s cut at 4 s with a 2 s
 * timeout). The route must bound a body that stops arriving some other way. It does not help a
 * file or stream answer, which Bun closes after a few timeouts regardless.
 */
export function noIdleTimer(request: Request, server: TimedServer) {
  server?.timeout(request, 0);
}

/**
 * idleTimeoutFlag reads `--idle-timeout` (master and agent alike): whole seconds from 1 to 255, the
 * range Bun's server takes; 0 (never) would let idle connections pile up until no file is left.
 */
export function idleTimeoutFlag(raw: unknown): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new UsageError("--idle-timeout must be between 1 and 255 seconds");
  return n;
}

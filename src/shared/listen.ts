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

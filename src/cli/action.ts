import { UsageError, type Values } from "./command";
import { printError } from "./output";

/**
 * action wraps a command's work: errors become a printed message with its hint and exit code 1;
 * usage errors go back to main, which prints the help and exits 2.
 */
export const action =
  (f: (v: Values, positionals: string[]) => Promise<number | void>) =>
  async (v: Values, positionals: string[]): Promise<number> => {
    try {
      return (await f(v, positionals)) ?? 0;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      printError(e);
      return 1;
    }
  };

/** out prints data on stdout: JSON with --json, else the given text. */
export function out(v: Values, data: unknown, text: () => string) {
  process.stdout.write(v.json ? `${JSON.stringify(data, null, 2)}\n` : text());
}

/** siteFlag reads --site NAME. */
export function siteFlag(v: Values): string {
  const s = v.site;
  if (typeof s !== "string" || !s) throw new UsageError("--site NAME is required");
  return s;
}

export const JSON_OPT = { json: { type: "boolean" as const, description: "Print one JSON document on stdout" } };
export const MASTER_OPT = { master: { type: "string" as const, value: "URL", description: "The master's URL", env: "SPROUT_MASTER" } };

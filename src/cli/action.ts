import { UsageError, type Values } from "../shared/command";
import { PROJECT_FILE } from "../shared/project-file";
import { printError } from "./output";
import { findProject } from "./project";

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

/**
 * siteFlag reads --site NAME (or SPROUT_SITE), else the `site` of the project's sprout.json, so a
 * linked project needs no flag.
 */
export function siteFlag(v: Values): string {
  const s = v.site;
  if (typeof s === "string" && s) return s;
  const fromProject = findProject()?.data.site;
  if (fromProject) return fromProject;
  throw new UsageError(`--site NAME is required (or run \`sprout link NAME\` to record it in ${PROJECT_FILE})`);
}

export const JSON_OPT = { json: { type: "boolean" as const, description: "Print one JSON document on stdout" } };
export const MASTER_OPT = { master: { type: "string" as const, value: "URL", description: "The master's URL", env: "SPROUT_MASTER" } };
export const PROFILE_OPT = { profile: { type: "string" as const, value: "NAME", description: "Which saved login to use (see `sprout profiles`)", env: "SPROUT_PROFILE" } };
export const SITE_OPT = { site: { type: "string" as const, short: "s", value: "NAME", description: "The site (default: sprout.json's site)", env: "SPROUT_SITE" } };
/** API_OPTS are the options of every command that talks to the master. */
export const API_OPTS = { ...PROFILE_OPT };

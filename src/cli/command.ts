import { parseArgs } from "node:util";

/** OptionSpec declares one `--flag`. `env` names the SPROUT_* variable that sets it too. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  env?: string;
  default?: string | boolean;
  /** placeholder shown in help, e.g. URL, DIR */
  value?: string;
}

export type Values = Record<string, string | boolean | undefined>;

/** Command is one verb of `sprout`, declared as data so `--help` is generated from it. */
export interface Command {
  name: string;
  summary: string;
  /** usage after `sprout `, e.g. "deploy [DIR] --site NAME [--prod] [--json]" */
  usage: string;
  group: "modes" | "sites" | "account" | "cluster";
  options: Record<string, OptionSpec>;
  examples: string[];
  /** run does the work and answers the process exit code: 0 ok, 1 failure, 2 usage error. */
  run(values: Values, positionals: string[]): Promise<number>;
}

/** UsageError is a mistake on the command line; main prints it with the command's help and exits 2. */
export class UsageError extends Error {}

/**
 * parseCommand reads argv for `cmd`: flags (with `--no-x` not supported on purpose: booleans are
 * off by default), then SPROUT_* environment variables, then defaults.
 */
export function parseCommand(cmd: Command, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [k, o] of Object.entries(cmd.options)) options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^.*?:\s*/, "").split("\n")[0] ?? String(e));
  }
  const values: Values = { ...(parsed.values as Values) };
  for (const [k, o] of Object.entries(cmd.options)) {
    if (values[k] !== undefined) continue;
    const fromEnv = o.env ? process.env[o.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "") values[k] = o.type === "boolean" ? /^(1|true|yes)$/i.test(fromEnv) : fromEnv;
    else if (o.default !== undefined) values[k] = o.default;
  }
  return { values, positionals: parsed.positionals };
}

/** requireString returns a string flag or throws a UsageError naming it. */
export function requireString(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

/** renderHelp is the generated `sprout <command> --help`. */
export function renderHelp(cmd: Command): string {
  const lines = [`sprout ${cmd.name}: ${cmd.summary}`, "", `Usage: sprout ${cmd.usage}`];
  const opts = Object.entries(cmd.options);
  if (opts.length) {
    lines.push("", "Options:");
    const left = opts.map(([k, o]) => `  ${o.short ? `-${o.short}, ` : ""}--${k}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`);
    const w = Math.max(...left.map((l) => l.length)) + 2;
    opts.forEach(([, o], i) => {
      const extra = [o.env ? `env ${o.env}` : "", o.default !== undefined && o.default !== false ? `default ${o.default}` : ""].filter(Boolean).join(", ");
      lines.push(`${left[i]!.padEnd(w)}${o.description}${extra ? ` (${extra})` : ""}`);
    });
  }
  lines.push(`  ${"-h, --help".padEnd(0)}  Show this help`);
  if (cmd.examples.length) lines.push("", "Examples:", ...cmd.examples.map((e) => `  ${e}`));
  return lines.join("\n") + "\n";
}

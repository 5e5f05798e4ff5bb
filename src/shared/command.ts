// The command framework of every mode (master, agent, up and the CLI verbs): commands are declared as
// data, parsed here, and their help and shell completion are generated from the same data.
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
  /** choices: the values a string flag takes, offered by shell completion (e.g. bash|zsh|fish). */
  choices?: string[];
}

export type Values = Record<string, string | boolean | undefined>;

/** Command is one verb of `sprout`, declared as data so `--help` and completion are generated from it. */
export interface Command {
  name: string;
  summary: string;
  /** usage after `sprout `, e.g. "deploy [DIR] --site NAME [--prod] [--json]" */
  usage: string;
  group: "modes" | "sites" | "account" | "cluster" | "shell";
  options: Record<string, OptionSpec>;
  /** subcommands: the words the first argument takes (`sites create`), for completion and suggestions. */
  subcommands?: string[];
  /** args: what the positional arguments complete to: directories, or nothing in particular. */
  args?: "dir";
  examples: string[];
  /** run does the work and answers the process exit code: 0 ok, 1 failure, 2 usage error. */
  run(values: Values, positionals: string[]): Promise<number>;
}

/** UsageError is a mistake on the command line; main prints it with the command's help and exits 2. */
export class UsageError extends Error {}

/**
 * parseCommand reads argv for `cmd`: flags (with `--no-x` not supported on purpose: booleans are
 * off by default), then SPROUT_* environment variables, then defaults. An unknown flag is a
 * UsageError that names the closest one the command has.
 */
export function parseCommand(cmd: Command, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [k, o] of Object.entries(cmd.options)) options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'(-{1,2}[^'=\s]+)/.exec(err.message)?.[1] : undefined;
    if (unknown) {
      const near = closest(unknown.replace(/^-+/, ""), Object.keys(options));
      throw new UsageError(`unknown option ${unknown}${near ? `. Did you mean --${near}?` : ""}`);
    }
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const flag = /(--[\w-]+)/.exec(err.message)?.[1];
      if (flag && options[flag.slice(2)]?.type === "string") throw new UsageError(`${flag} needs a value`);
      if (flag) throw new UsageError(`${flag} takes no value`);
    }
    throw new UsageError(err.message.replace(/^.*?:\s*/, "").split("\n")[0] ?? String(e));
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

/** unknownSubcommand is the UsageError for `sprout CMD WORD` when WORD is none of the command's subcommands. */
export function unknownSubcommand(cmd: Pick<Command, "name" | "subcommands">, word: string): UsageError {
  const near = closest(word, cmd.subcommands ?? []);
  return new UsageError(`unknown subcommand "${word}"${near ? `. Did you mean \`sprout ${cmd.name} ${near}\`?` : ""}`);
}

/**
 * levenshtein is the edit distance between two words: insertions, deletions, substitutions, and
 * (Damerau's addition) swapping two neighbouring letters, the commonest typo ("prdo" for "prod").
 */
export function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * closest answers the candidate nearest to `word`, when it is near enough to be what was meant (at
 * most a third of the word's letters wrong, or the word a prefix of it), else undefined.
 */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : levenshtein(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
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

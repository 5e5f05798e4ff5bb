import { createHash } from "node:crypto";
import { SproutError } from "../../../shared/errors";
import { htpasswd, PREFILTER_FROM, resourceRegex, ruleRegex, rulesDigest, targetWithQuery, type CompiledSite, type RulesInput, type Slots } from "./compile";
import { literalPrefix } from "./literal-prefix";
import { readRules } from "./read";
import type { RedirectOptions } from "./redirects";

/** RulesData is one deployment's rules as data for the Lua rules engine (lua/sprout.lua). */
export interface RulesData extends Pick<CompiledSite, "files" | "warnings"> {
  /** text: a Lua chunk `return { ... }` of string literals, numbers and booleans only. */
  text: string;
  /** name: the file's name (rulesDataName): a changed text is a new file, never an edited one. */
  name: string;
}

/**
 * RULES_DATA_VERSION changes with the data's form (and what lua/sprout.lua expects of it), or when
 * the files written beside it must be written again ("3": htpasswd files no longer keep a crypt
 * hash of more than MAX_CRYPT_ROUNDS rounds; "4": path values captured by position, ${x_<n>} for an
 * encoded one, and a path may hold any byte).
 */
const RULES_DATA_VERSION = "4";

/** MAX_RULES_DATA: the largest compiled rules a deployment may have (every nginx worker reads them). */
export const MAX_RULES_DATA = 2 * 1024 * 1024;

type DataOptions = { filesDir: string; secret: Uint8Array; site: string } & RedirectOptions;

/**
 * rulesDataName names a deployment's compiled rules from all that goes into them, so the agent
 * knows a deployment's file is in place without compiling its rules again.
 */
export function rulesDataName(input: RulesInput, opts: DataOptions): string {
  const id = JSON.stringify([RULES_DATA_VERSION, opts.site, rulesDigest(input), opts.allowPrivateProxy ?? false, opts.geoip ?? false]);
  return `${createHash("sha256").update(id).digest("hex").slice(0, 32)}.lua`;
}

/**
 * renderRulesData turns one deployment's rules into data for the node's Lua rules engine: the same
 * regexes and targets compile.ts gives nginx's maps, read by nginx at request time, so a deploy of
 * rules writes a file and reloads nothing, and a node's cost per request does not grow with the
 * number of sites that have rules.
 *
 * - `rules`: the redirect rules in file order, each the regex over the key
 *   "<uri>#<exists>|<params>|<cookies>|<language>|<country>" (compile.ts ruleRegex) and its answer
 *   "<status or proxy>|<target>", where `${s_<n>}` and `${q_<name>}` are captures, `${x_<n>}` the
 *   capture s_<n> encoded (lua/sprout.lua expand) and `${__args}` the visitor's query,
 *   and the regex's literal prefix (literal-prefix.ts: a key that does not start with it is not tried).
 * - `headers`: every `_headers` block in file order: the regex of its resource, its Cache-Control,
 *   its htpasswd file, its other header lines (all blocks that match a resource apply) and the
 *   regex's literal prefix.
 *
 * Every string is a literal no value can end early (see `lua`); the engine runs the chunk as text
 * with no globals at all.
 */
export function renderRulesData(input: RulesInput, opts: DataOptions): RulesData {
  const name = rulesDataName(input, opts);
  const prefix = `sprout_${opts.site.replace(/-/g, "_")}_${name.slice(0, 10)}`;
  const read = readRules(input, opts);
  const files: RulesData["files"] = [];
  const fields: string[] = [];
  const rules = read.rules;
  if (rules.length) {
    const params = [...new Set(rules.flatMap((r) => r.query.map((q) => q.key)))];
    const cookies = [...new Set(rules.flatMap((r) => (r.cookie ? [r.cookie] : [])))];
    const slots: Slots = { params, cookies, language: rules.some((r) => r.languages.length > 0), country: rules.some((r) => r.countries.length > 0) };
    fields.push(`unforced = ${rules.some((r) => !r.force)}`, `params = ${list(params)}`, `cookies = ${list(cookies)}`, `language = ${slots.language}`, `country = ${slots.country}`);
    // The engine builds the combined test from the rules' own regexes (lua/sprout.lua prefilters).
    if (rules.length > PREFILTER_FROM) fields.push("prefilter = true");
    const entry = (re: string, answer: string) => `    { ${lua(re)}, ${lua(answer)}, ${lua(literalPrefix(re))} },`;
    fields.push(`rules = {\n${rules.map((r) => entry(ruleRegex(r, slots), `${r.proxy ? "proxy" : r.status}|${targetWithQuery(r).replace("$is_args$args", "${__args}")}`)).join("\n")}\n  }`);
  }
  const blocks = read.blocks;
  if (blocks.length) {
    let auth = 0;
    const entries = blocks.map((b) => {
      const cc = b.headers.find((h) => h.name.toLowerCase() === "cache-control")?.value ?? "";
      let file = "";
      if (b.basicAuth.length) {
        file = `${opts.filesDir}/${prefix}_auth${auth++}.htpasswd`;
        files.push({ path: file, content: htpasswd(b, opts.secret) });
      }
      const lines = b.headers.filter((h) => h.name.toLowerCase() !== "cache-control").flatMap((h) => [h.name, h.value]);
      const re = `^${resourceRegex(b.path)}$`;
      return `    { ${lua(re)}, ${lua(cc)}, ${lua(file)}, ${list(lines)}, ${lua(literalPrefix(re))} },`;
    });
    fields.push(`auth = ${auth > 0}`, `headers = {\n${entries.join("\n")}\n  }`);
  }
  if (input.spa) fields.push("spa = true");
  const text = `-- Generated by sprout agent; edits are overwritten.\nreturn {\n  ${fields.join(",\n  ")}\n}\n`;
  if (text.length > MAX_RULES_DATA)
    throw new SproutError(422, "rules_too_large", `This deployment's rules compile to ${(text.length / 1048576).toFixed(1)} MB, over the ${MAX_RULES_DATA / 1048576} MB a site's rules may take.`, "Use fewer or shorter _redirects rules and _headers blocks (splats like /blog/* cover many paths at once).");
  return { text, name, files, warnings: read.warnings };
}

/** SAFE: the bytes a quoted literal holds as they are; every other byte is a decimal escape. */
const SAFE = new Set(Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-/.:,;=+*()|?^$#!~%@&<>[]{}'"));
const ESCAPES = Array.from({ length: 256 }, (_, b) => (SAFE.has(b) ? String.fromCharCode(b) : `\\${String(b).padStart(3, "0")}`));

/**
 * lua writes a Lua string literal that reads back as `s`, whatever it holds: a long bracket
 * `[==[...]==]` whose level no `]==]` in `s` can close (so regexes keep their backslashes, no
 * escaping), or, for a string that starts with a line break (a long bracket drops it), a quoted
 * literal of safe bytes and decimal escapes.
 */
export function lua(s: string): string {
  if (!/^[\r\n]/.test(s)) {
    let level = 0;
    while (s.includes(`]${"=".repeat(level)}]`) || s.endsWith(`]${"=".repeat(level)}`)) level++;
    const eq = "=".repeat(level);
    return `[${eq}[${s}]${eq}]`;
  }
  let out = '"';
  for (const b of Buffer.from(s, "utf8")) out += ESCAPES[b];
  return `${out}"`;
}

const list = (items: string[]) => `{ ${items.map(lua).join(", ")} }`;

import { parse, TomlError } from "smol-toml";
import { isPasswordHash } from "../../../shared/htpasswd";
import { MAX_RULES_FILE, type HeaderRules } from "./headers";
import type { RedirectRules } from "./redirects";
import type { RuleWarning } from "./types";

/**
 * netlify.toml's `[[redirects]]` and `[[headers]]` (Netlify's file-based configuration), read into
 * the same rules `_redirects` and `_headers` give: each redirect entry becomes the tokens of a
 * `_redirects` line and each header entry a block, so every check, cap and compilation is theirs.
 * smol-toml parses the file: it is the parser Netlify's own `@netlify/redirect-parser` and
 * `@netlify/headers-parser` use, so a file means here what it means there.
 */

const FILE = "netlify.toml";

/** Keys of a `[[redirects]]` entry (with the older names Netlify still reads), and of `[[headers]]`. */
const REDIRECT_KEYS = new Set(["from", "origin", "to", "destination", "status", "force", "query", "params", "parameters", "conditions", "headers", "signed", "signing", "sign", "rate_limit"]);
const HEADER_KEYS = new Set(["for", "values"]);

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * readNetlifyToml adds the rules of a netlify.toml to those already read (from `_redirects` and
 * `_headers`: theirs come first, as on Netlify) and answers the file's own warnings. A file that is
 * not valid TOML fails the deployment (it may hold access rules that cannot be read); unknown keys
 * are warnings; everything else is judged as the same rule in `_redirects`/`_headers` would be.
 */
export function readNetlifyToml(text: string, redirects: RedirectRules, headers: HeaderRules): RuleWarning[] {
  const warnings: RuleWarning[] = [];
  const warn = (line: number, message: string, fatal = false) => warnings.push({ file: FILE, line, message, ...(fatal ? { fatal } : {}) });
  const note = (line: number, message: string) => warnings.push({ file: FILE, line, message, note: true });
  if (text.length > MAX_RULES_FILE) {
    // Unlike a line-based file, a cut TOML file means nothing: none of it is read.
    warn(1, `the file is over ${MAX_RULES_FILE} bytes and is not read`, /basic-auth|role/i.test(text));
    return warnings;
  }
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (e) {
    const line = e instanceof TomlError ? e.line : 1;
    const why = (e as Error).message.split("\n")[0]!.replace(/^Invalid TOML document:\s*/i, "");
    warn(line, `not valid TOML (${why}); fix the file, since the rules it holds cannot be read`, true);
    return warnings;
  }
  const entries = (key: string): Table[] => {
    const v = doc[key];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every(isTable)) return v;
    warn(1, `${key} must be a list of [[${key}]] tables; it is ignored`, /basic-auth|role/i.test(JSON.stringify(v)));
    return [];
  };
  const redirectList = entries("redirects");
  const headerList = entries("headers");
  const redirectLines = tableLines(text, "redirects", redirectList.length);
  const headerLines = tableLines(text, "headers", headerList.length);

  redirectList.forEach((entry, k) => {
    const line = redirectLines[k] ?? 1;
    const where = redirectLines[k] ? "" : `[[redirects]] entry ${k + 1}: `;
    const bad = (message: string, fatal = false) => warn(line, `${where}${message}`, fatal);
    const aside = (message: string) => note(line, `${where}${message}`);
    for (const key of Object.keys(entry)) if (!REDIRECT_KEYS.has(key)) aside(`unknown key ${JSON.stringify(key)} in [[redirects]] is ignored`);
    const conditions = entry.conditions ?? {};
    // Checked before anything else: whatever else is wrong with it, a role-gated rule is never
    // dropped quietly (its fallback rules would then serve the gated content).
    const role = isTable(conditions) ? Object.keys(conditions).some((c) => c.toLowerCase() === "role") : /role/i.test(JSON.stringify(conditions));
    const skip = (message: string) => (role ? bad("role-gated rules are not supported; they would leave content public. Protect the paths with Basic-Auth instead", true) : bad(message));
    if (!isTable(conditions)) return skip("conditions must be a table, e.g. conditions = {Language = [\"en\"]}; the rule is skipped");
    const from = entry.from ?? entry.origin;
    if (typeof from !== "string" || !from) return skip("a rule needs from = \"/path\"; it is skipped");
    const tokens = [from];
    const query = entry.query ?? entry.params ?? entry.parameters ?? {};
    if (!isTable(query)) return skip("query must be a table, e.g. query = {id = \":id\"}; the rule is skipped");
    for (const [key, value] of Object.entries(query)) {
      if (typeof value !== "string") return skip(`the query value of ${key} must be a string; the rule is skipped`);
      tokens.push(`${key}=${value}`);
    }
    let status: number | undefined;
    if (entry.status !== undefined) {
      // As Netlify reads it: a number, or a string that starts with one.
      status = typeof entry.status === "number" ? entry.status : Number.parseInt(String(entry.status), 10);
      if (!Number.isInteger(status)) return skip(`status must be a number like 301 (got ${JSON.stringify(entry.status)}); the rule is skipped`);
    }
    let to = entry.to ?? entry.destination;
    // A forward rule (`from = "/app/*"`, `status = 200`, no `to`) keeps the path, as on Netlify.
    if (to === undefined && from.endsWith("/*") && status !== undefined && status >= 200 && status < 300) to = from.replace(/\/\*$/, "/:splat");
    if (typeof to !== "string" || !to) return skip("a rule needs to = \"/target\"; it is skipped");
    tokens.push(to);
    const force = entry.force === true;
    if (entry.force !== undefined && typeof entry.force !== "boolean") return skip("force must be true or false; the rule is skipped");
    if (status !== undefined || force) tokens.push(`${status ?? 301}${force ? "!" : ""}`);
    for (const [key, value] of Object.entries(conditions)) {
      const values = typeof value === "string" ? value.split(/\s*,\s*/) : Array.isArray(value) && value.every((x) => typeof x === "string") ? (value as string[]) : null;
      if (values === null) return skip(`the condition ${key} must be a list of strings; the rule is skipped`);
      tokens.push(`${key}=${values.join(",")}`);
    }
    const signed = entry.signed ?? entry.signing ?? entry.sign;
    if (signed !== undefined) tokens.push(`Sign=${String(signed)}`);
    if (entry.headers !== undefined && (!isTable(entry.headers) || Object.keys(entry.headers).length))
      aside("headers on a redirect rule (sent to the proxied site) are not supported; the rule applies without them");
    if (entry.rate_limit !== undefined) aside("rate_limit is not supported; the rule applies without it");
    // Each value is one token here, whatever it holds: white space inside one is refused as in `_redirects`.
    const spaced = tokens.find((t) => /\s/.test(t));
    if (spaced !== undefined && !role) return bad(`${JSON.stringify(spaced)} contains white space; the rule is skipped`);
    labelled(redirects.warnings, where, () => redirects.add(FILE, line, tokens));
  });

  headerList.forEach((entry, k) => {
    const line = headerLines[k] ?? 1;
    const where = headerLines[k] ? "" : `[[headers]] entry ${k + 1}: `;
    const values = entry.values;
    const guards = isTable(values) && Object.keys(values).some((n) => n.trim().toLowerCase() === "basic-auth");
    const bad = (message: string, fatal = false) => warn(line, `${where}${message}`, fatal);
    for (const key of Object.keys(entry)) if (!HEADER_KEYS.has(key)) note(line, `${where}unknown key ${JSON.stringify(key)} in [[headers]] is ignored`);
    if (typeof entry.for !== "string" || !entry.for.trim().startsWith("/"))
      return bad(`a [[headers]] entry needs for = "/path"${guards ? "; the deploy stops rather than publish what its Basic-Auth protects" : "; it is skipped"}`, guards);
    if (values === undefined) return;
    if (!isTable(values)) return bad("values must be a table of header names and values; the entry is skipped", /basic-auth/i.test(JSON.stringify(values)));
    const path = entry.for.trim();
    const block = labelled(headers.warnings, where, () => headers.block(FILE, line, path));
    if (!block) return guards ? bad("Basic-Auth under a path that cannot be used; the deploy stops rather than publish what it protects", true) : undefined;
    for (const [rawName, raw] of Object.entries(values)) {
      const name = rawName.trim();
      const isAuth = name.toLowerCase() === "basic-auth";
      if (!/^[A-Za-z0-9-]+$/.test(name)) {
        bad(`the header name ${JSON.stringify(rawName)} is not supported (letters, digits and - only)`);
        continue;
      }
      // As Netlify normalizes them: a list is joined with ", ", and so are the lines of a
      // multi-line string around its commas.
      // (Basic-Auth's user:password pairs are separated by spaces, in a list too.)
      let value: string;
      if (typeof raw === "string") value = isAuth ? raw.trim() : raw.trim().split(/\s*,\s*/).join(", ");
      else if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) value = (raw as string[]).map((x) => x.trim()).join(isAuth ? " " : ", ");
      else {
        bad(`the value of ${name} must be a string or a list of strings`, isAuth);
        continue;
      }
      if (isAuth) {
        // Nodes never keep a plain password: `sprout deploy` hashes them before the file leaves the machine.
        const plain = value.split(/\s+/).some((pair) => pair.includes(":") && !isPasswordHash(pair.slice(pair.indexOf(":") + 1)));
        if (plain) {
          bad("Basic-Auth holds a password in plain text; deploy with `sprout deploy`, which hashes it before upload", true);
          continue;
        }
      }
      labelled(headers.warnings, where, () => headers.header(FILE, line, block, name, value));
    }
  });
  return warnings;
}

/** labelled runs `fn` and puts `where` (the entry's number, when its line is unknown) before the warnings it adds. */
function labelled<T>(warnings: RuleWarning[], where: string, fn: () => T): T {
  const before = warnings.length;
  const out = fn();
  if (where) for (const w of warnings.slice(before)) w.message = `${where}${w.message}`;
  return out;
}

/**
 * tableLines answers the line of each `[[name]]` header of the file, in order, when there is one
 * per entry (else an empty list: the entries came from another TOML form, such as an inline array,
 * and warnings name the entry's number instead). Lines inside multi-line strings are skipped.
 */
export function tableLines(text: string, name: string, count: number): number[] {
  const out: number[] = [];
  const header = new RegExp(`^\\s*\\[\\[\\s*${name}\\s*\\]\\]\\s*(?:#.*)?$`);
  let open: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!open && header.test(raw)) out.push(i + 1);
    for (const m of raw.matchAll(/"""|'''/g)) open = open === null ? m[0] : open === m[0] ? null : open;
  });
  return out.length === count ? out : [];
}


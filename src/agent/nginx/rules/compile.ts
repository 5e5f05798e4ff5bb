import { createHash } from "node:crypto";
import { ssha } from "../../../shared/htpasswd";
import { siteLocations } from "../config";
import { parseHeaders, type HeaderBlock } from "./headers";
import { compilePattern, escapeRegex } from "./patterns";
import { parseRedirects, type RedirectRule } from "./redirects";
import type { RuleWarning } from "./types";

/** RulesInput is what decides how one deployment of a site is served. */
export interface RulesInput {
  redirects: string | null;
  headers: string | null;
  spa: boolean;
}

/** CompiledSite is nginx configuration for one RulesInput. */
export interface CompiledSite {
  /** http-level directives (maps); every name starts with the prefix given. */
  http: string;
  /** directives inside a server{} that has `listen`, `server_name` and `root` already. */
  server: string;
  /** files to write (htpasswd), by absolute path. */
  files: { path: string; content: string }[];
  warnings: RuleWarning[];
}

const COMPILER_VERSION = "1";

/** rulesDigest identifies a RulesInput: equal digests compile to equal configuration. */
export function rulesDigest(input: RulesInput): string {
  return createHash("sha256").update(JSON.stringify([COMPILER_VERSION, input.redirects ?? "", input.headers ?? "", input.spa])).digest("hex");
}

/** hasRules tells whether a RulesInput needs a server of its own (else the wildcard servers do). */
export function hasRules(input: RulesInput): boolean {
  return input.spa || Boolean(input.redirects?.trim()) || Boolean(input.headers?.trim());
}

/**
 * compileSite turns `_redirects`, `_headers` and the SPA setting into nginx configuration, with no
 * Sprout process on the visitor path:
 * - Redirects run at server level in file order (first match wins) against one key
 *   "<exists>:<args>#<uri>", so shadowing (a file exists: only forced `!` rules apply) and query
 *   parameters are parts of a single regex per rule; one combined regex first tells whether any
 *   rule can match, so other requests skip the rules at the cost of one character each.
 * - Each header of each `_headers` block is a map on $uri, sent with add_header (an empty value is
 *   not sent), so every matching block applies; Cache-Control from `_headers` replaces the default.
 * - Basic-Auth uses auth_basic with variables and htpasswd files of salted SHA-1 ({SSHA}).
 * `secret` keys the htpasswd salts, so the same input compiles to the same files on this node.
 */
export function compileSite(input: RulesInput, opts: { prefix: string; filesDir: string; secret: Uint8Array }): CompiledSite {
  const p = opts.prefix;
  const warnings: RuleWarning[] = [];
  const redirects = input.redirects ? parseRedirects(input.redirects) : { rules: [], warnings: [] };
  const headers = input.headers ? parseHeaders(input.headers) : { blocks: [], warnings: [] };
  warnings.push(...redirects.warnings, ...headers.warnings);

  const http: string[] = [];
  const server: string[] = [];
  const files: CompiledSite["files"] = [];

  // --- headers and Basic-Auth
  let cacheControl = "$sprout_cache_control";
  const ccBlocks = headers.blocks.filter((b) => b.headers.some((h) => h.name.toLowerCase() === "cache-control"));
  if (ccBlocks.length) {
    http.push(
      `map $uri $${p}_cc_custom {\n${ccBlocks.map((b) => `  "~^${compilePattern(b.path).regex}$" "${b.headers.find((h) => h.name.toLowerCase() === "cache-control")!.value}";`).join("\n")}\n  default "";\n}`,
      `map "$${p}_cc_custom|$sent_http_content_type" $${p}_cc {\n  "~^([^|]+)\\|" $1;\n  "~^\\|text/html" "public, max-age=0, must-revalidate";\n  default "";\n}`,
    );
    cacheControl = `$${p}_cc`;
  }
  headers.blocks.forEach((b, bi) => {
    b.headers
      .filter((h) => h.name.toLowerCase() !== "cache-control")
      .forEach((h, hi) => {
        const v = `${p}_b${bi}_h${hi}`;
        http.push(`map $uri $${v} {\n  "~^${compilePattern(b.path).regex}$" "${h.value}";\n  default "";\n}`);
        server.push(`add_header ${h.name} $${v};`);
      });
  });
  const authBlocks = headers.blocks.filter((b) => b.basicAuth.length);
  if (authBlocks.length) {
    const entries = authBlocks.map((b, i) => {
      const path = `${opts.filesDir}/${p}_auth${i}.htpasswd`;
      files.push({ path, content: htpasswd(b, opts.secret) });
      return { regex: compilePattern(b.path).regex, path };
    });
    http.push(`map $uri $${p}_realm {\n${entries.map((e) => `  "~^${e.regex}$" "Restricted";`).join("\n")}\n  default off;\n}`);
    http.push(`map $uri $${p}_htpasswd {\n${entries.map((e) => `  "~^${e.regex}$" "${e.path}";`).join("\n")}\n  default "";\n}`);
    server.push(`auth_basic $${p}_realm;`, `auth_basic_user_file $${p}_htpasswd;`);
  }

  // --- redirects
  const rules = redirects.rules;
  if (rules.length) {
    if (rules.some((r) => !r.force)) {
      // Shadowing: a file (or its clean-URL .html) at the path wins over unforced rules.
      server.push(`set $${p}_e "";`, `if (-e $request_filename) { set $${p}_e 1; }`, `if (-f $request_filename.html) { set $${p}_e 1; }`);
    } else server.push(`set $${p}_e "";`);
    // One combined test first: a request no rule can match (most of them) sets "0" in front of the
    // key, and every rule's regex, which starts with "1", then fails on its first character.
    const any = rules.map((r) => ruleRegex(r).slice(1).replace(/\(\?<[a-z]_[A-Za-z0-9_]+>/g, "(?:")).join("|");
    server.push(`set $${p}_b "$${p}_e:$args#$uri";`, `set $${p}_m 0;`, `if ($${p}_b ~ "^(?:${any})") { set $${p}_m 1; }`);
    server.push(`set $${p}_k "$${p}_m$${p}_b";`);
    const statuses = new Set<number>();
    for (const r of rules) {
      server.push(`# _redirects line ${r.line}`, `if ($${p}_k ~ "^1${ruleRegex(r).slice(1)}") { ${action(r, p, statuses)} }`);
    }
    for (const s of statuses) server.push(`location = /__sprout_status_${s} { internal; error_page ${s} $${p}_status_target; return ${s}; }`);
  }

  server.push(siteLocations({ cacheControl, spa: input.spa }));
  return { http: http.join("\n"), server: server.join("\n    "), files, warnings };
}

/** ruleRegex matches the key "<exists>:<args>#<uri>" for one rule. */
function ruleRegex(r: RedirectRule): string {
  const flag = r.force ? "1?" : "";
  const query = r.query
    .map((q) =>
      q.bind
        ? `(?=(?:[^#]*&)?${escapeRegex(q.key)}=(?<q_${q.bind}>[^&#]*))`
        : `(?=(?:[^#]*&)?${escapeRegex(q.key)}=${escapeRegex(q.literal ?? "")}(?:&|#))`,
    )
    .join("");
  return `^${flag}:${query}[^#]*#${compilePattern(r.from).regex}$`;
}

/** target rewrites `:name` placeholders into the captures ${s_name} (path) or ${q_name} (query). */
function target(r: RedirectRule): string {
  const queryBinds = new Set(r.query.flatMap((q) => (q.bind ? [q.bind] : [])));
  const names = new Set(compilePattern(r.from).names);
  return r.to.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string, offset: number) => {
    const before = r.to[offset - 1];
    if (before && !"/=-.?&_".includes(before)) return m;
    if (names.has(name)) return `\${s_${name}}`;
    if (queryBinds.has(name)) return `\${q_${name}}`;
    return m;
  });
}

function action(r: RedirectRule, p: string, statuses: Set<number>): string {
  const to = target(r);
  // The visitor's query string goes along, unless the rule matched on it or sets its own.
  const passQuery = !r.query.length && !to.includes("?");
  // A trailing "?" keeps nginx from appending the visitor's query string (nginx's documented way).
  if (r.status === 200) return `rewrite ^ "${to}${passQuery ? "" : "?"}" last;`;
  if (r.status >= 300 && r.status < 400) return `return ${r.status} "${to}${passQuery ? "$is_args$args" : ""}";`;
  statuses.add(r.status);
  return `set $${p}_status_target "${to}"; rewrite ^ /__sprout_status_${r.status}? last;`;
}

/** htpasswd writes `user:{SSHA}...` lines (already-hashed passwords of a redacted file stay as they are). */
function htpasswd(b: HeaderBlock, secret: Uint8Array): string {
  return b.basicAuth.map(({ user, password }) => `${user}:${ssha(user, password, secret)}`).join("\n") + "\n";
}

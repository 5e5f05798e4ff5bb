import { createHash } from "node:crypto";
import { htpasswdHash } from "../../../shared/htpasswd";
import { siteLocations } from "../config";
import { headerSets } from "./header-sets";
import type { HeaderBlock } from "./headers";
import { compilePattern, escapeRegex, resourcePattern } from "./patterns";
import { readRules } from "./read";
import type { RedirectOptions, RedirectRule } from "./redirects";
import type { RuleWarning } from "./types";

/** RulesInput is what decides how one deployment of a site is served. */
export interface RulesInput {
  redirects: string | null;
  headers: string | null;
  /** netlifyToml: the deployment's netlify.toml; its `[[redirects]]` and `[[headers]]` come after the files'. */
  netlifyToml?: string | null;
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

// "4": path placeholders captured by position, and encoded in redirect and proxy targets.
const COMPILER_VERSION = "4";

/** PREFILTER_FROM: with more rules than this, one combined test spares most requests the map's rules one by one. */
export const PREFILTER_FROM = 32;

/** rulesDigest identifies a RulesInput: equal digests compile to equal configuration. */
export function rulesDigest(input: RulesInput): string {
  return createHash("sha256").update(JSON.stringify([COMPILER_VERSION, input.redirects ?? "", input.headers ?? "", input.spa, ...(input.netlifyToml ? [input.netlifyToml] : [])])).digest("hex");
}

/** fatalProblems lists the lines that make a deployment unservable as written (see RuleWarning.fatal). */
export function fatalProblems(input: RulesInput): RuleWarning[] {
  return readRules(input).warnings.filter((w) => w.fatal);
}

/** hasRules tells whether a RulesInput needs a server of its own (else the wildcard servers do). */
export function hasRules(input: RulesInput): boolean {
  return input.spa || Boolean(input.redirects?.trim()) || Boolean(input.headers?.trim()) || Boolean(input.netlifyToml?.trim());
}

/**
 * compileSite turns `_redirects`, `_headers` and the SPA setting into nginx configuration, with no
 * Sprout process on the visitor path:
 * - Redirects are one map over the key "<uri>#<exists>|<query values>" with the rules in file order
 *   (first match wins), so shadowing (a file exists: only forced `!` rules apply) and query
 *   parameters are parts of a single regex per rule, and the target is built from its captures.
 *   Targets are confined twice: at parse time (patterns.ts targetProblem) and, once a visitor's
 *   values are in, by UNSAFE_TARGET at request time.
 * - Each header of each `_headers` block is a map on the resource served ($sprout_resource: the
 *   file a clean URL, folder index or `.gz` sibling resolves to), sent with add_header (an empty
 *   value is not sent), so every matching block applies; Cache-Control replaces the default.
 * - Basic-Auth uses auth_basic with variables, matched on that same resource, so `/secret`,
 *   `/secret.html.gz` and a rewrite to `/secret.html` are all protected by `/secret.html`.
 *   htpasswd files hold SHA-512 crypt (`$6$`; `{SSHA}` of older deploys too).
 * `secret` keys the htpasswd salts, so the same input compiles to the same files on this node.
 */
export function compileSite(input: RulesInput, opts: { prefix: string; filesDir: string; secret: Uint8Array } & RedirectOptions): CompiledSite {
  const p = opts.prefix;
  const warnings: RuleWarning[] = [];
  const read = readRules(input, opts);
  const redirects = { rules: read.rules };
  const headers = { blocks: read.blocks };
  warnings.push(...read.warnings);

  const http: string[] = [];
  const server: string[] = [];
  const files: CompiledSite["files"] = [];

  // --- headers and Basic-Auth, matched on the resource served (RESOURCE), not the URL asked. The
  // maps are volatile, and the header sets' value is copied into $sprout_hs again in every
  // location: a rewrite or fallback (clean URL, SPA, a 200 rule) changes the resource mid-request.
  const authBlocks = headers.blocks.filter((b) => b.basicAuth.length);
  const authFiles = new Map(
    authBlocks.map((b, i) => {
      const path = `${opts.filesDir}/${p}_auth${i}.htpasswd`;
      files.push({ path, content: htpasswd(b, opts.secret) });
      return [b, path] as const;
    }),
  );
  let cacheControl = "$sprout_cache_control";
  let prelude = "";
  const sets = headers.blocks.length ? headerSets(headers.blocks, (b) => authFiles.get(b)!) : null;
  if (sets) {
    http.push(`map ${RESOURCE} $${p}_hs {\n  volatile;\n${sets.entries.map((e) => `  "~${e.regex}" "${e.value}"; # ${e.comment}`).join("\n")}\n  default "";\n}`);
    prelude = `set $sprout_hs $${p}_hs;`;
    server.push(prelude);
    sets.slots.forEach((name, k) => server.push(`add_header ${name} $sprout_h${k};`));
    if (sets.hasCacheControl) cacheControl = "$sprout_hcc";
    if (sets.hasAuth) server.push(`auth_basic $sprout_realm;`, `auth_basic_user_file $sprout_htpasswd;`);
  } else if (headers.blocks.length) cacheControl = headerMaps(headers.blocks, authFiles, p, http, server);

  // --- redirects
  const rules = redirects.rules;
  if (rules.length) {
    // Query parameters are read with $arg_<name> (one bounded lookup each, at most MAX_QUERY_PARAMS
    // names), never by a regex over the whole query string: a 7 KB query costs what a short one does.
    // Cookie conditions only ask whether the cookie is there; Language= reads $sprout_lang (nginx.conf);
    // Country= reads the geoip module's $geoip_country_code (the shard's nginx.conf, --geoip-country).
    const params = [...new Set(rules.flatMap((r) => r.query.map((q) => q.key)))];
    const cookies = [...new Set(rules.flatMap((r) => (r.cookie ? [r.cookie] : [])))];
    const slots: Slots = { params, cookies, language: rules.some((r) => r.languages.length > 0), country: rules.some((r) => r.countries.length > 0) };
    params.forEach((name, j) =>
      http.push(`map $arg_${name} $${p}_a${j} {\n  volatile;\n  "~^[^|#]{0,256}$" $arg_${name};\n  default "//"; # over 256 bytes: no rule matches\n}`),
    );
    cookies.forEach((name, j) => http.push(`map $cookie_${name} $${p}_c${j} {\n  volatile;\n  "" "";\n  default 1; # the cookie ${name} is present\n}`));
    // Per-request scratch variables ($sprout_e, $sprout_b, $sprout_k, $sprout_rv) have the same names
    // in every site's server: nginx looks a variable up by name in a list of all of them at start-up,
    // so names per site would make a reload quadratic in the number of sites.
    if (rules.some((r) => !r.force)) {
      // Shadowing: a file, its clean-URL .html or a folder's index.html at the path wins over
      // unforced rules. A folder without index.html is no page: the rules apply to it, as Netlify
      // applies them to any path that matches nothing (`/* /index.html 200` answers `/images`).
      server.push(`set $sprout_e "";`, `if (-f $request_filename) { set $sprout_e 1; }`, `if (-f $request_filename.html) { set $sprout_e 1; }`, `if (-f $request_filename/index.html) { set $sprout_e 1; }`);
    } else server.push(`set $sprout_e "";`);
    // The key is "<uri>#<exists>|<param 1>|<param 2>...|<cookie 1>...|<language>|<country>". With many rules it
    // stays empty unless one combined test (in chunks: nginx takes 4 KB per parameter) says a rule can
    // match; an empty key is an exact hit in the map below, so most requests run no rule's regex at
    // all. Otherwise the map tries the rules in file order: first match wins, and answers
    // "<status or proxy>|<target>", which nginx.conf's maps split into $sprout_st, $sprout_to...
    const key = `${RULES_URI}#$sprout_e${params.map((_, j) => `|$${p}_a${j}`).join("")}${cookies.map((_, j) => `|$${p}_c${j}`).join("")}${slots.language ? "|$sprout_lang" : ""}${slots.country ? "|$geoip_country_code" : ""}`;
    if (rules.length > PREFILTER_FROM) {
      server.push(`set $sprout_b "${key}";`, `set $sprout_k "";`);
      for (const re of prefilterRegexes(rules, slots)) server.push(`if ($sprout_b ~ "${re}") { set $sprout_k $sprout_b; }`);
    } else server.push(`set $sprout_k "${key}";`);
    const comment = (r: RedirectRule) => (r.denied ? `# ${r.file} line ${r.line}: Role= cannot be enforced, so its paths answer 404` : `# ${r.file} line ${r.line}`);
    http.push(
      `map $sprout_k $${p}_r {\n  volatile;\n  "" "";\n${rules.map((r) => `  "~${ruleRegex(r, slots)}" "${r.proxy ? "proxy" : r.status}|${nginxTarget(r)}"; ${comment(r)}`).join("\n")}\n  default "";\n}`,
    );
    // Placeholder values come from the visitor: the target they make is checked again here
    // ($sprout_unsafe, nginx.conf), so that no value can add a "..", an encoded slash or a second
    // leading "/" (another host). An internal rewrite takes a variable's value whole as the new path,
    // "?" included (nginx splits off a query only when "?" is written in the configuration): so the
    // file looked up is $sprout_path, the part before "?" that the check covered, and a 200 rule's
    // own query replaces the visitor's.
    server.push(`set $sprout_rv $${p}_r;`, `if ($sprout_unsafe) { return 400; }`, `if ($sprout_args_from_rule) { set $args $sprout_qs; }`);
    for (const status of new Set(rules.filter((r) => !r.proxy).map((r) => r.status))) {
      if (status === 200) server.push(`if ($sprout_st = 200) { rewrite ^ $sprout_path last; }`);
      else if (status < 400) server.push(`if ($sprout_st = ${status}) { return ${status} $sprout_to; }`);
      else {
        // The target's content goes out with the rule's status. A named location serves it: an
        // error_page to a URI would run these server-level rules again and loop.
        server.push(`if ($sprout_st = ${status}) { rewrite ^ /__sprout_status_${status}? last; }`);
        server.push(`location = /__sprout_status_${status} { internal; error_page ${status} @${p}_status_body_${status}; return ${status}; }`);
      }
    }
    // The body of a 4xx rule: its target as a file, a clean URL or a folder's index, else the
    // site's 404.html, all with the rule's status (an error page keeps it). The rewrite comes first
    // so that Basic-Auth and _headers see the target, not the internal location; `break` only after
    // the header set (a `rewrite ... break` would end the rewrite directives before it). No rule's
    // target (a visitor asked for the internal location itself): the status alone, not a 500.
    for (const status of new Set(rules.filter((r) => r.status >= 400).map((r) => r.status)))
      server.push(`location @${p}_status_body_${status} { if ($sprout_path = "") { return ${status}; } rewrite ^ $sprout_path; ${prelude} break; try_files $uri $uri.html $uri/index.html /404.html =${status}; }`);
    if (rules.some((r) => r.proxy)) {
      // Proxy rules: nginx fetches the target (timeouts, resolver and TLS settings in nginx.conf).
      // The request keeps its own URI on the way (599 is only a hand-over to the named location),
      // so Basic-Auth and _headers apply to the proxied path as to a file. A site's Basic-Auth
      // password is never passed on to the other site.
      server.push(`error_page 599 = @${p}_proxy;`, `if ($sprout_st = proxy) { return 599; }`);
      const auth = authBlocks.length ? `\n      proxy_set_header Authorization "";` : "";
      server.push(`location @${p}_proxy {${prelude ? `\n      ${prelude}` : ""}
      proxy_pass $sprout_to;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header Connection "";${auth}
    }`);
    }
  }

  server.push(siteLocations({ cacheControl, spa: input.spa, guard: rules.length > 0, prelude }));
  return { http: http.join("\n"), server: server.join("\n    "), files, warnings };
}

/**
 * headerMaps is the general form of `_headers` (paths with placeholders, or very many headers): a
 * map per header name and group of blocks that can never match the same path (at most one of them
 * applies, so first match is every match); blocks that may overlap get maps of their own and each
 * sends its line. Answers the variable holding Cache-Control.
 */
function headerMaps(blocks: HeaderBlock[], authFiles: Map<HeaderBlock, string>, p: string, http: string[], server: string[]): string {
  let cacheControl = "$sprout_cache_control";
  const ccBlocks = blocks.filter((b) => b.headers.some((h) => h.name.toLowerCase() === "cache-control"));
  if (ccBlocks.length) {
    http.push(
      `map ${RESOURCE} $${p}_cc {\n  volatile;\n${ccBlocks.map((b) => `  "~^${resourceRegex(b.path)}$" "${b.headers.find((h) => h.name.toLowerCase() === "cache-control")!.value}"; # ${b.file} line ${b.line}`).join("\n")}\n  default $sprout_cache_control;\n}`,
    );
    cacheControl = `$${p}_cc`;
  }
  const byName = new Map<string, { path: string; value: string; file: string; line: number }[]>();
  for (const b of blocks)
    for (const h of b.headers)
      if (h.name.toLowerCase() !== "cache-control") {
        const list = byName.get(h.name) ?? [];
        list.push({ path: b.path, value: h.value, file: b.file, line: b.line });
        byName.set(h.name, list);
      }
  let n = 0;
  for (const [name, entries] of byName) {
    for (const group of disjointGroups(entries)) {
      const v = `${p}_h${n++}`;
      http.push(`map ${RESOURCE} $${v} {\n  volatile;\n${group.map((e) => `  "~^${resourceRegex(e.path)}$" "${e.value}"; # ${e.file} line ${e.line}`).join("\n")}\n  default "";\n}`);
      server.push(`add_header ${name} $${v};`);
    }
  }
  const entries = [...authFiles].map(([b, path]) => ({ regex: resourceRegex(b.path), path, file: b.file, line: b.line }));
  if (entries.length) {
    http.push(`map ${RESOURCE} $${p}_realm {\n  volatile;\n${entries.map((e) => `  "~^${e.regex}$" "Restricted"; # ${e.file} line ${e.line}`).join("\n")}\n  default off;\n}`);
    http.push(`map ${RESOURCE} $${p}_htpasswd {\n  volatile;\n${entries.map((e) => `  "~^${e.regex}$" "${e.path}";`).join("\n")}\n  default "";\n}`);
    server.push(`auth_basic $${p}_realm;`, `auth_basic_user_file $${p}_htpasswd;`);
  }
  return cacheControl;
}

/** RESOURCE and RULES_URI are variables of nginx.conf (see config.ts) that every site's rules use. */
const RESOURCE = "$sprout_resource";
const RULES_URI = "$sprout_rules_uri";

/**
 * prefilterRegexes: regexes that together match every key some rule of `rules` matches (no
 * captures), in chunks: PCRE refuses a compiled pattern over 64 KB.
 */
function prefilterRegexes(rules: RedirectRule[], slots: Slots): string[] {
  const alternatives = rules.map((r) => ruleRegex(r, slots).slice(1).replace(/\(\?<[a-z]_[A-Za-z0-9_]+>/g, "(?:"));
  return chunks(alternatives, 3000).map((chunk) => `^(?:${chunk.join("|")})`);
}

/** resourceRegex is the regex a `_headers` path matches on `$sprout_resource`. */
export function resourceRegex(path: string): string {
  return compilePattern(resourcePattern(path)).regex;
}

/** Slots are the parts of a site's rules key after "<uri>#<exists>", in order. */
export interface Slots {
  params: string[];
  cookies: string[];
  language: boolean;
  country: boolean;
}

/**
 * ruleRegex matches the key "<uri>#<exists>|<params>|<cookies>|<language>|<country>" for one rule. A query
 * placeholder takes one segment's worth of a value: no `/`, no backslash, never `.` or `..`. A
 * language `en` takes `en` and `en-GB`; `pt-br` takes only itself (case aside). The path's
 * placeholders are captured by position, `s_1`, `s_2`... (see target).
 *
 * The path may hold any byte, "#" and "|" included, and still meets a rule exactly as its own
 * pattern says: what follows it in the key holds exactly one "#" (its first byte) and as many "|"
 * as the site has slots, and none of its values holds either (a query value that does is "//",
 * the others are "1", a language tag or a country code). After its path pattern, this regex
 * requires "#", then "1" at most, then exactly one "|" per slot, and no piece between them matches
 * a "|" (a literal that holds one never matches). Were its "#" to meet a "#" inside the path, the
 * rest of the key would hold more "|" than the regex takes, or no more, and then a "#" where only
 * "1" or "|" may stand: no match. So the regex's "#" is always the key's separator, and the path
 * pattern matches the whole path or nothing.
 */
export function ruleRegex(r: RedirectRule, slots: Slots): string {
  const params = slots.params
    .map((name) => {
      const q = r.query.find((x) => x.key === name);
      if (!q) return "\\|[^|]*";
      if (q.bind) return `\\|(?<q_${q.bind}>(?!\\.\\.?(?:\\||$))[^|/\\x5c]+)`;
      // A visitor's value never holds "|" or "#" (the key's "//" stands for it): no match.
      if (/[|#]/.test(q.literal ?? "")) return "\\|(?!)";
      return `\\|${escapeRegex(q.literal ?? "")}`;
    })
    .join("");
  const cookies = slots.cookies.map((name) => (r.cookie === name ? "\\|1" : "\\|[^|]*")).join("");
  const langs = r.languages.map((l) => (l.includes("-") ? escapeRegex(l) : `${l}(?:-[a-z0-9]+)?`));
  const language = !slots.language ? "" : langs.length ? `\\|(?i:${langs.join("|")})` : "\\|[^|]*";
  const country = !slots.country ? "" : r.countries.length ? `\\|(?:${r.countries.join("|")})` : "\\|[^|]*";
  return `^${pathRegex(r.from)}#${r.force ? "1?" : ""}${params}${cookies}${language}${country}$`;
}

/** pathRegex is a rule path's regex with its placeholders captured by position: `s_1`, `s_2`... */
function pathRegex(from: string): string {
  const { regex, names } = compilePattern(from);
  return names.reduce((re, name, i) => re.replace(`(?<s_${name}>`, `(?<s_${i + 1}>`), regex);
}

/**
 * target rewrites `:name` placeholders into the captures: a path value as it is, ${s_<position>},
 * for a rewrite or a 4xx body (nginx looks the file up by the decoded path), and encoded,
 * ${x_<position>}, in a redirect's Location or a proxied URL, so that a "#", "?", "%" or space of
 * the visitor's path stays part of the path there (not a fragment, a query or an escape); a query
 * value, ${q_name}, is the visitor's own encoding already.
 */
function target(r: RedirectRule): string {
  const queryBinds = new Set(r.query.flatMap((q) => (q.bind ? [q.bind] : [])));
  const names = compilePattern(r.from).names;
  const encoded = r.proxy || (r.status >= 300 && r.status < 400);
  return r.to.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string, offset: number) => {
    const before = r.to[offset - 1];
    if (before && !"/=-.?&_".includes(before)) return m;
    const i = names.indexOf(name);
    if (i >= 0) return `\${${encoded ? "x" : "s"}_${i + 1}}`;
    if (queryBinds.has(name)) return `\${q_${name}}`;
    return m;
  });
}

/**
 * targetWithQuery is a rule's target as nginx writes it: the visitor's query string goes along on
 * redirects and proxied requests, unless the rule matched on it or the target sets its own; a 200 rewrite keeps it as
 * nginx's rewrite does.
 */
export function targetWithQuery(r: RedirectRule): string {
  const to = target(r);
  const passQuery = !r.query.length && !to.includes("?");
  if ((r.status >= 300 && r.status < 400) || r.proxy) return passQuery ? `${to}$is_args$args` : to;
  return to;
}

/** nginxTarget is targetWithQuery with an encoded value read from nginx.conf's maps ($sprout_x<position>). */
function nginxTarget(r: RedirectRule): string {
  return targetWithQuery(r).replace(/\$\{x_(\d+)\}/g, "$${sprout_x$1}");
}

/** htpasswd writes `user:$6$...` lines (hashes of a redacted file, `{SSHA}` of older deploys included, stay as they are). */
export function htpasswd(b: HeaderBlock, secret: Uint8Array): string {
  return b.basicAuth.map(({ user, password }) => `${user}:${htpasswdHash(user, password, secret)}`).join("\n") + "\n";
}

/** chunks groups strings so that each group joined with "|" stays under `max` characters. */
function chunks(items: string[], max: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let len = 0;
  for (const it of items) {
    if (cur.length && len + it.length + 1 > max) {
      out.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(it);
    len += it.length + 1;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** literalPrefix is the part of a pattern before its first placeholder or splat, without a final "/". */
function literalPrefix(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/").slice(1)) {
    if (seg === "*" || seg.startsWith(":")) break;
    out.push(seg);
  }
  return out.length ? `/${out.join("/")}` : "";
}

/**
 * disjointGroups puts patterns into groups whose members can never match the same path: their
 * literal prefixes differ and neither is a folder of the other (a conservative test).
 */
function disjointGroups<T extends { path: string }>(entries: T[]): T[][] {
  const groups: { items: T[]; prefixes: string[] }[] = [];
  const apart = (a: string, b: string) => a !== b && !a.startsWith(`${b}/`) && !b.startsWith(`${a}/`);
  for (const e of entries) {
    const pre = literalPrefix(e.path);
    const g = groups.find((x) => x.prefixes.every((q) => apart(pre, q)));
    if (g) {
      g.items.push(e);
      g.prefixes.push(pre);
    } else groups.push({ items: [e], prefixes: [pre] });
  }
  return groups.map((g) => g.items);
}

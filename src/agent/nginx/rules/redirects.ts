import { MAX_RULES_FILE } from "./headers";
import { compilePattern, decodePath, targetProblem, unsafe } from "./patterns";
import type { RuleWarning, RulesFile } from "./types";
import { MAX_PATH_VALUES } from "./value-encoding";

/** RedirectRule is one valid line of `_redirects`. */
export interface RedirectRule {
  /** file and line: where the rule was written (for messages and the generated configuration's comments). */
  file: RulesFile;
  line: number;
  from: string;
  /** query: required query parameters and the placeholder each one's value binds to ("" for a literal match of any value). */
  query: { key: string; bind: string | null; literal: string | null }[];
  to: string;
  status: number;
  force: boolean;
  /** proxy: `to` is another site's URL that nginx fetches and answers with (a 200 rule). */
  proxy: boolean;
  /** languages: the `Language=` condition, lower-case tags (`en`, `pt-br`); empty for any language. */
  languages: string[];
  /** cookie: the `Cookie=` condition, a cookie that must be present; null for none. */
  cookie: string | null;
  /** countries: the `Country=` condition, upper-case ISO 3166 codes (`AU`); empty for any country. */
  countries: string[];
  /**
   * denied: the rule carried a `Role=` condition, which nginx cannot check. Its deployment fails
   * (see RuleWarning.fatal); were it ever compiled, its paths answer 404 instead of the content.
   */
  denied: boolean;
}

/** RedirectOptions are the node's settings that change what a `_redirects` file may do. */
export interface RedirectOptions {
  /** allowPrivateProxy: proxy rules may target loopback and private addresses (`--allow-private-proxy`). */
  allowPrivateProxy?: boolean;
  /** geoip: the node knows visitors' countries (`--geoip-country`): `Country=` rules apply. */
  geoip?: boolean;
}

export const MAX_REDIRECTS = 1000;
/** MAX_RULE_LINE bounds one rule (its regex is compiled by nginx and run on requests). */
export const MAX_RULE_LINE = 2000;
/**
 * MAX_QUERY_PARAMS caps the distinct query parameters a site's rules may test: each is one lookup of
 * `$arg_<name>` per request, so the cost of a request stays bounded whatever the query string holds.
 * Cookie conditions count too (one `$cookie_<name>` lookup each).
 */
export const MAX_QUERY_PARAMS = 8;
const STATUSES = new Set([200, 301, 302, 303, 307, 308, 401, 403, 404, 410, 451]);
const LANGUAGE = /^[a-z]{1,8}(?:-[a-z0-9]{1,8})?$/;

/**
 * parseRedirects reads Netlify's `_redirects`: `from [key=value ...] [to] [status][!] [Condition=value ...]`
 * per line, `#` comments. Each invalid line becomes a warning with its line number and is skipped;
 * a line that would restrict access and cannot be enforced (a `Role=` condition) is a fatal one.
 */
export function parseRedirects(text: string, opts: RedirectOptions = {}): { rules: RedirectRule[]; warnings: RuleWarning[] } {
  const r = new RedirectRules(opts);
  r.readText(text);
  return { rules: r.rules, warnings: r.warnings };
}

/**
 * RedirectRules collects a site's rules in order from its rules files (`_redirects`, then
 * netlify.toml's `[[redirects]]`, as Netlify merges them), so the caps hold for the site as a whole.
 */
export class RedirectRules {
  readonly rules: RedirectRule[] = [];
  readonly warnings: RuleWarning[] = [];
  constructor(private opts: RedirectOptions = {}) {}

  /** readText reads a `_redirects` file, one rule per line. */
  readText(text: string) {
    if (text.length > MAX_RULES_FILE) {
      this.warnings.push({ file: "_redirects", line: 1, message: `the file is over ${MAX_RULES_FILE} bytes; only the first ${MAX_RULES_FILE} are read` });
      text = text.slice(0, MAX_RULES_FILE);
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const content = raw.replace(/(^|\s)#.*$/, "").trim();
      if (content) this.add("_redirects", i + 1, content.split(/\s+/));
    });
  }

  /**
   * add reads one rule given as the tokens of a `_redirects` line (netlify.toml's entries are
   * given the same way, each value one token), keeping it or warning why not.
   */
  add(file: RulesFile, line: number, tokens: string[]) {
    const { rules, warnings, opts } = this;
    const warn = (line: number, message: string) => warnings.push({ file, line, message });
    tokens = [...tokens];
    if (rules.length >= MAX_REDIRECTS) return warn(line, `more than ${MAX_REDIRECTS} rules; the rest are ignored`);
    if (tokens.join(" ").length > MAX_RULE_LINE) return warn(line, `the line is over ${MAX_RULE_LINE} characters`);
    let from = tokens.shift()!;
    // Checked before anything else on the line: whatever else is wrong with it, a role-gated rule
    // must never be dropped quietly (its fallback rules would then serve the gated content).
    const denied = tokens.some((t) => /^role=/i.test(t));
    if (denied)
      warnings.push({ file, line, fatal: true, message: "role-gated rules are not supported; they would leave content public. Protect the paths with Basic-Auth in _headers instead" });
    if (/^https?:\/\//.test(from)) return warn(line, "rules for other domains are not supported; use a path that starts with /");
    if (/^\/\.netlify(\/|$)/.test(from)) return warn(line, "paths under /.netlify are Netlify's own and cannot be redirected");
    // As Netlify reads a line: the target is the first token that starts with / or http(s)://, and
    // the `key=value` tokens before it are query conditions.
    const toIndex = tokens.findIndex((t) => t.startsWith("/") || /^https?:\/\//.test(t));
    const query: RedirectRule["query"] = [];
    for (const pair of toIndex >= 0 ? tokens.splice(0, toIndex) : []) {
      if (!pair.includes("=")) return warn(line, `expected key=value query conditions before the target (got ${JSON.stringify(pair)})`);
      // Only the first "=" separates: `q=a=b` tests for the value "a=b".
      const key = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      if (!/^[A-Za-z0-9_]+$/.test(key)) return warn(line, `the query parameter name ${JSON.stringify(key)} is not supported (letters, digits and _ only)`);
      const bind = /^:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value)?.[1] ?? null;
      if (!bind && unsafe(value)) return warn(line, `the query value of ${key} ${unsafe(value)}`);
      query.push({ key, bind, literal: bind ? null : value });
    }
    let to = toIndex >= 0 ? tokens.shift()! : undefined;
    if (!to) {
      // A forward rule (`/app/* 200`) keeps the path: its target is the path itself.
      if (from.endsWith("/*") && tokens[0] && /^2\d\d!?$/.test(tokens[0])) to = from.replace(/\/\*$/, "/:splat");
      else return warn(line, "a rule needs a target that starts with / or http(s):// after the path");
    }
    let status = 301;
    let force = false;
    if (tokens.length && /^\d{3}!?$/.test(tokens[0]!)) {
      const m = /^(\d{3})(!?)$/.exec(tokens.shift()!)!;
      status = Number(m[1]);
      force = m[2] === "!";
      if (!STATUSES.has(status)) return warn(line, `status ${status} is not supported (use 200, 301, 302, 303, 307, 308, 401, 403, 404, 410 or 451)`);
    }
    let languages: string[] = [];
    let countries: string[] = [];
    let cookie: string | null = null;
    for (const cond of tokens) {
      const eq = cond.indexOf("=");
      const key = eq > 0 ? cond.slice(0, eq).toLowerCase() : "";
      const values = cond.slice(eq + 1).split(",").filter(Boolean);
      if (key === "role") continue;
      if (key === "language") {
        languages = values.map((v) => v.toLowerCase());
        const bad = languages.find((l) => !LANGUAGE.test(l));
        if (bad !== undefined || !languages.length) return warn(line, `the language ${JSON.stringify(bad ?? "")} is not a language tag like en or pt-BR`);
      } else if (key === "cookie") {
        if (values.length !== 1 || !/^[A-Za-z0-9_]{1,64}$/.test(values[0]!)) return warn(line, "a Cookie condition names one cookie (letters, digits and _ only)");
        cookie = values[0]!;
      } else if (key === "country") {
        if (!opts.geoip) return warn(line, "Country conditions are not supported (this node has no GeoIP database); the rule is skipped");
        countries = values.map((v) => v.toUpperCase());
        const bad = countries.find((c) => !/^[A-Z]{2}$/.test(c));
        if (bad !== undefined || !countries.length) return warn(line, `the country ${JSON.stringify(bad ?? "")} is not a two-letter code like AU or US`);
      }
      else if (key === "sign" || key === "signed") return warn(line, "signed proxy rules (Sign=) are not supported");
      else if (key) return warn(line, `the condition ${JSON.stringify(cond.slice(0, eq))} is not supported (Language, Country and Cookie are)`);
      else if (/^\d/.test(cond)) return warn(line, `the status must be a number like 301 or 200! (got ${JSON.stringify(cond)})`);
      else return warn(line, `unsupported options ${JSON.stringify(tokens.join(" "))}`);
    }
    const external = /^https?:\/\//.test(to);
    if (!external && !to.startsWith("/")) return warn(line, `the target must start with / or http(s):// (got ${JSON.stringify(to)})`);
    if (external && status >= 400) return warn(line, `an address on another site can be redirected to (301, 302...) or proxied (200), not answered with ${status}`);
    const proxy = external && status === 200;
    const badTo = unsafe(to) ?? targetProblem(to) ?? (proxy ? proxyProblem(to, opts.allowPrivateProxy ?? false) : null);
    if (badTo) return warn(line, `the target ${badTo}`);
    let names: string[];
    try {
      from = decodePath(from);
      names = compilePattern(from).names;
      if (names.length > MAX_PATH_VALUES) throw new Error(`the path holds more than ${MAX_PATH_VALUES} placeholders`);
    } catch (e) {
      return warn(line, (e as Error).message);
    }
    const bound = new Set([...names, ...query.flatMap((q) => (q.bind ? [q.bind] : []))]);
    for (const m of to.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)) {
      // `https://x` has a colon too; only :name after a `/`, `=`, `-`, `.` or `?` is a placeholder.
      const before = to[m.index! - 1];
      if (before && !"/=-.?&_".includes(before)) continue;
      if (!bound.has(m[1]!)) return warn(line, `the target uses :${m[1]}, which the path does not define`);
    }
    const params = new Set(rules.flatMap((r) => [...r.query.map((q) => q.key), ...(r.cookie ? [`cookie ${r.cookie}`] : [])]));
    for (const q of query) params.add(q.key);
    if (cookie) params.add(`cookie ${cookie}`);
    if (params.size > MAX_QUERY_PARAMS) return warn(line, `the rules test more than ${MAX_QUERY_PARAMS} different query parameters and cookies; this one is skipped`);
    if (denied) rules.push({ file, line, from, query: [], to: "/404.html", status: 404, force: true, proxy: false, languages: [], countries: [], cookie: null, denied });
    else rules.push({ file, line, from, query, to, status, force, proxy, languages, countries, cookie, denied });
  }
}

/**
 * proxyProblem says why a proxy target may not be fetched by the node, or null. Its host must be
 * written plainly (as the URL standard writes it, so `2130706433` or `0x7f.1` cannot hide
 * 127.0.0.1) and, unless the node allows it, be neither `localhost` nor a loopback, private,
 * link-local or otherwise internal address. A name that resolves to such an address is not caught
 * here: DNS can point anywhere (see the README).
 */
export function proxyProblem(to: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    return "is not a valid URL";
  }
  const written = /^https?:\/\/([^/?#]*)/i.exec(to)![1]!;
  if (written.includes("@")) return "names a user or password; proxy targets may not carry credentials";
  if (written.toLowerCase() !== url.host) return `host ${JSON.stringify(written)} must be written plainly (${JSON.stringify(url.host)})`;
  // nginx takes a proxy_pass host that names one of its upstream blocks (sprout_self: the socket
  // whose requests are trusted for the visitor's address; sprout_shard_<n>) as that block, never
  // as a name to resolve; those names hold "_", which no host name does.
  if (url.hostname.includes("_")) return `host ${JSON.stringify(url.hostname)} is not a host name (it holds "_")`;
  if (allowPrivate) return null;
  // "localhost." is localhost: a final dot only says the name is complete.
  const host = url.hostname.replace(/\.+$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "is localhost; proxy rules may not reach the node itself";
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    const internal = a === 0 || a === 10 || a === 127 || a >= 224 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
    if (internal) return `is the internal address ${host}; proxy rules may not reach private networks`;
  }
  if (/^\[(?:::|f[cd]|fe[89ab])/i.test(host)) return `is the internal address ${host}; proxy rules may not reach private networks`;
  return null;
}

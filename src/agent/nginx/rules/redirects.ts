import { MAX_RULES_FILE } from "./headers";
import { compilePattern, decodePath, targetProblem, unsafe } from "./patterns";
import type { RuleWarning } from "./types";

/** RedirectRule is one valid line of `_redirects`. */
export interface RedirectRule {
  line: number;
  from: string;
  /** query: required query parameters and the placeholder each one's value binds to ("" for a literal match of any value). */
  query: { key: string; bind: string | null; literal: string | null }[];
  to: string;
  status: number;
  force: boolean;
}

export const MAX_REDIRECTS = 1000;
/** MAX_RULE_LINE bounds one rule (its regex is compiled by nginx and run on requests). */
export const MAX_RULE_LINE = 2000;
/**
 * MAX_QUERY_PARAMS caps the distinct query parameters a site's rules may test: each is one lookup of
 * `$arg_<name>` per request, so the cost of a request stays bounded whatever the query string holds.
 */
export const MAX_QUERY_PARAMS = 8;
const STATUSES = new Set([200, 301, 302, 303, 307, 308, 404, 410, 451]);

/**
 * parseRedirects reads Netlify's `_redirects`: `from [key=:value ...] to [status][!]` per line, `#`
 * comments. Each invalid line becomes a warning with its line number and is skipped.
 */
export function parseRedirects(text: string): { rules: RedirectRule[]; warnings: RuleWarning[] } {
  const rules: RedirectRule[] = [];
  const warnings: RuleWarning[] = [];
  const warn = (line: number, message: string) => warnings.push({ file: "_redirects", line, message });
  if (text.length > MAX_RULES_FILE) {
    warn(1, `the file is over ${MAX_RULES_FILE} bytes; only the first ${MAX_RULES_FILE} are read`);
    text = text.slice(0, MAX_RULES_FILE);
  }
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!content) return;
    if (rules.length >= MAX_REDIRECTS) return warn(line, `more than ${MAX_REDIRECTS} rules; the rest are ignored`);
    if (content.length > MAX_RULE_LINE) return warn(line, `the line is over ${MAX_RULE_LINE} characters`);
    const tokens = content.split(/\s+/);
    let from = tokens.shift()!;
    if (/^https?:\/\//.test(from)) return warn(line, "rules for other domains are not supported; use a path that starts with /");
    const query: RedirectRule["query"] = [];
    while (tokens.length && tokens[0]!.includes("=") && !tokens[0]!.startsWith("/") && !/^https?:\/\//.test(tokens[0]!)) {
      const pair = tokens.shift()!;
      // Only the first "=" separates: `q=a=b` tests for the value "a=b".
      const key = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      if (!/^[A-Za-z0-9_]+$/.test(key)) return warn(line, `the query parameter name ${JSON.stringify(key)} is not supported (letters, digits and _ only)`);
      const bind = /^:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value)?.[1] ?? null;
      if (!bind && unsafe(value)) return warn(line, `the query value of ${key} ${unsafe(value)}`);
      query.push({ key, bind, literal: bind ? null : value });
    }
    const to = tokens.shift();
    if (!to) return warn(line, "a rule needs a target after the path");
    let status = 301;
    let force = false;
    if (tokens.length) {
      const m = /^(\d{3})(!?)$/.exec(tokens.shift()!);
      if (!m) return warn(line, `the status must be a number like 301 or 200! (got ${JSON.stringify(content.split(/\s+/).slice(-1)[0])})`);
      status = Number(m[1]);
      force = m[2] === "!";
      if (!STATUSES.has(status)) return warn(line, `status ${status} is not supported (use 200, 301, 302, 303, 307, 308, 404, 410 or 451)`);
    }
    if (tokens.length) return warn(line, `unsupported options ${JSON.stringify(tokens.join(" "))} (country, language and role conditions are not supported)`);
    const external = /^https?:\/\//.test(to);
    if (!external && !to.startsWith("/")) return warn(line, `the target must start with / or http(s):// (got ${JSON.stringify(to)})`);
    if (external && status === 200) return warn(line, "proxying to another site (status 200 with an absolute URL) is not supported");
    const badTo = unsafe(to) ?? targetProblem(to);
    if (badTo) return warn(line, `the target ${badTo}`);
    let names: string[];
    try {
      from = decodePath(from);
      names = compilePattern(from).names;
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
    const params = new Set(rules.flatMap((r) => r.query.map((q) => q.key)));
    for (const q of query) params.add(q.key);
    if (params.size > MAX_QUERY_PARAMS) return warn(line, `the rules test more than ${MAX_QUERY_PARAMS} different query parameters; this one is skipped`);
    rules.push({ line, from, query, to, status, force });
  });
  return { rules, warnings };
}

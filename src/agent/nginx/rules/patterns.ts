/**
 * Path patterns of `_redirects` and `_headers` (Netlify syntax): literal segments, `:name`
 * placeholders (one segment) and a trailing `*` splat (the rest, slashes included). They become
 * PCRE with named captures `s_<name>` for nginx. Anything that could break out of a quoted nginx
 * string or a regex is refused by `unsafe`.
 */

/** unsafe says why a token cannot enter nginx configuration, or null when it can. */
export function unsafe(token: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(token)) return "it contains a control character";
  if (/["'`\\{};$]/.test(token)) return "it contains one of \" ' ` \\ { } ; $";
  if (/\s/.test(token)) return "it contains white space";
  return null;
}

const PLACEHOLDER = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

export interface CompiledPattern {
  /** regex source matching $uri, without anchors */
  regex: string;
  /** placeholder names, in order; "splat" for `*` */
  names: string[];
}

/**
 * decodePath percent-decodes a rule's path as nginx decodes `$uri` before matching, so that a rule
 * written `/authors/c%C3%A9line` matches the request for that name. Throws on a broken encoding.
 */
export function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new Error(`the path ${JSON.stringify(path)} has a broken %-encoding`);
  }
}

/**
 * resourcePattern is the pattern of the resource of the resource a pattern protects, in the form nginx's `$sprout_resource`
 * gives every request (see nginx/config.ts): without a trailing `/`, `.gz`/`.br`, `.html` or final
 * `/index`, so `/secret.html`, `/secret` and `/secret.html.gz` are one resource. Patterns that end
 * in a placeholder or splat are kept as they are.
 */
export function resourcePattern(path: string): string {
  const segs = path.split("/");
  const last = segs[segs.length - 1]!;
  if (last === "*" || last.startsWith(":")) return path;
  const r = path.replace(/\/+$/, "").replace(/\.(gz|br)$/, "").replace(/\.html?$/, "").replace(/\/index$/, "");
  return r === "" ? "/" : r;
}

/** compilePattern turns `/blog/:year/*` into a regex, or throws an Error saying what is wrong. */
export function compilePattern(path: string): CompiledPattern {
  if (!path.startsWith("/")) throw new Error(`the path must start with "/" (got ${JSON.stringify(path)})`);
  const why = unsafe(path);
  if (why) throw new Error(`the path ${why}`);
  // The root also matches the empty resource path ("/" and "/index.html" are one resource).
  if (path === "/") return { regex: "/?", names: [] };
  const segments = path.split("/").slice(1);
  const names: string[] = [];
  let regex = "";
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === "*") {
      if (!last) throw new Error("a `*` splat may only end a path");
      names.push("splat");
      // `/news/*` also matches `/news` itself, as on Netlify. Any byte, a line break (%0A) too:
      // PCRE's `.` would leave a path holding one outside every splat rule, forced ones included.
      regex += "(?:/(?<s_splat>[\\s\\S]*))?";
      return;
    }
    const ph = PLACEHOLDER.exec(seg);
    if (ph) {
      if (names.includes(ph[1]!)) throw new Error(`the placeholder :${ph[1]} appears twice`);
      names.push(ph[1]!);
      // One segment, never `.` or `..` (nginx's $uri has none, but a rule must not rely on it).
      regex += `/(?<s_${ph[1]}>(?!\\.\\.?(?:/|$))[^/]+)`;
      return;
    }
    if (seg.includes("*")) throw new Error("a `*` must be a whole segment");
    regex += "/" + escapeRegex(seg);
  });
  if (!names.includes("splat")) regex = `${regex}/?`;
  return { regex, names };
}

/**
 * targetProblem says why a rule's target could name something outside its own deployment, or null.
 * Refused in a path: `.` and `..` segments, their encoded forms (`%2e`), encoded slashes and
 * backslashes (`%2f`, `%5c`, `\`) and a leading `//` (another host). An external target may only
 * use placeholders after its host, so a visitor's value never picks the host.
 */
export function targetProblem(to: string): string | null {
  const external = /^https?:\/\//i.exec(to);
  const rest = external ? to.slice(external[0].length) : "";
  const host = external ? /^[^/?#]*/.exec(rest)![0] : "";
  const path = external ? rest.slice(host.length) : to;
  if (/:[A-Za-z_]/.test(host)) return "uses a placeholder in the host name";
  const pathOnly = path.split("?")[0]!;
  if (!external && /^\/[/\\]/.test(pathOnly)) return "starts with // (another host)";
  if (pathOnly.split("/").some((s) => s === "." || s === "..")) return "has a . or .. segment";
  // Internal targets: a ".." anywhere (after a "?" too) is refused, whatever nginx makes of it.
  if (!external && to.split(/[/?]/).some((s) => s === "." || s === "..")) return "has a . or .. segment";
  if (/%2e|%2f|%5c|\\/i.test(pathOnly)) return "has an encoded dot, slash or a backslash";
  return null;
}

/** escapeRegex quotes PCRE metacharacters of a literal. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^()|[\]\\/]/g, (c) => (c === "/" ? "/" : `\\${c}`));
}

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

/** compilePattern turns `/blog/:year/*` into a regex, or throws an Error saying what is wrong. */
export function compilePattern(path: string): CompiledPattern {
  if (!path.startsWith("/")) throw new Error(`the path must start with "/" (got ${JSON.stringify(path)})`);
  const why = unsafe(path);
  if (why) throw new Error(`the path ${why}`);
  const segments = path.split("/").slice(1);
  const names: string[] = [];
  let regex = "";
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === "*") {
      if (!last) throw new Error("a `*` splat may only end a path");
      names.push("splat");
      // `/news/*` also matches `/news` itself, as on Netlify.
      regex += "(?:/(?<s_splat>.*))?";
      return;
    }
    const ph = PLACEHOLDER.exec(seg);
    if (ph) {
      if (names.includes(ph[1]!)) throw new Error(`the placeholder :${ph[1]} appears twice`);
      names.push(ph[1]!);
      regex += `/(?<s_${ph[1]}>[^/]+)`;
      return;
    }
    if (seg.includes("*")) throw new Error("a `*` must be a whole segment");
    regex += "/" + escapeRegex(seg);
  });
  if (!names.includes("splat")) regex = regex === "" ? "/" : `${regex}/?`;
  return { regex, names };
}

/** escapeRegex quotes PCRE metacharacters of a literal. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^()|[\]\\/]/g, (c) => (c === "/" ? "/" : `\\${c}`));
}

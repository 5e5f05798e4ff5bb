/**
 * literalPrefix answers text that every string the regex `re` matches starts with: the literal
 * characters right after its leading "^" (escaped punctuation included), up to the first other
 * construct, and never a character a quantifier after it makes optional or repeatable. "" when
 * there is none, or when `re` is not anchored, has an alternative at its top level, or uses extended
 * mode or quoting (where "#", "|" and parentheses may be comments or text).
 *
 * The rules engine (lua/sprout.lua) compares a request with this prefix, a plain string comparison,
 * before it runs the rule's regex: a site's 50 rules and 10 `_headers` blocks cost a few
 * comparisons per request and one or two regexes, not 60 regexes. It must never be longer than
 * what the regex requires (a rule would stop matching), so anything not plainly literal ends it.
 */
export function literalPrefix(re: string): string {
  if (!re.startsWith("^") || /\\[QE]/.test(re) || /\(\?[a-zA-Z-]*x[a-zA-Z-]*[:)]/.test(re)) return "";
  if (hasTopLevelAlternative(re)) return "";
  let out = "";
  for (let i = 1; i < re.length; ) {
    let ch: string;
    let next: number;
    const c = re[i]!;
    if (c === "\\") {
      const d = re[i + 1];
      // \d, \w, \b, \1, \x..: a class, an assertion or a code; only escaped punctuation is itself.
      if (d === undefined || !/[^A-Za-z0-9]/.test(d)) break;
      ch = d;
      next = i + 2;
    } else if (/[A-Za-z0-9/\-_~%!,;=@&'":<> ]/.test(c)) {
      ch = c;
      next = i + 1;
    } else break;
    if (/[?*+{]/.test(re[next] ?? "")) break;
    out += ch;
    i = next;
  }
  return out;
}

/** hasTopLevelAlternative: whether `re` has a "|" outside every group and character class. */
function hasTopLevelAlternative(re: string): boolean {
  let depth = 0;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === "\\") i++;
    else if (c === "[") {
      // A class: "]" right after "[" or "[^" is one of its characters, not its end.
      i++;
      if (re[i] === "^") i++;
      if (re[i] === "]") i++;
      while (i < re.length && re[i] !== "]") i += re[i] === "\\" ? 2 : 1;
    } else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth <= 0) return true;
  }
  return false;
}

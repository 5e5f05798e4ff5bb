/**
 * A visitor's path value in a redirect's Location or a proxied URL (a rule `/old/* /new/:splat 301`)
 * is encoded: nginx's $uri is decoded, so `/old/a%23b` gives the value `a#b`, which written as it is
 * would end the path (the browser takes `#b` for a fragment; a `?` starts a query; a `%` would be
 * decoded once more). The bytes encoded, by both rules engines alike:
 */
export const VALUE_SPECIALS = ["%", "#", "?", " "];

/**
 * MAX_PATH_VALUES: the most placeholders a rule's path may hold (nginx.conf has an encoding map per
 * position). MAX_VALUE_SPECIALS: the most bytes to encode that one value may hold with the include
 * engine, which has no loop: a longer one makes the target unusable (400). The Lua engine has no
 * such limit.
 */
export const MAX_PATH_VALUES = 16;
export const MAX_VALUE_SPECIALS = 16;

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * valueEncodingMaps is nginx.conf's encoding for the include engine: $sprout_x<i> is the path value
 * captured as s_<i> (rules/compile.ts ruleRegex) with VALUE_SPECIALS encoded. One regex (possessive,
 * so linear) splits the value at its first MAX_VALUE_SPECIALS such bytes; a map per position turns
 * each byte found into its escape. Read only when a redirect or proxy target uses the value.
 */
export function valueEncodingMaps(): string {
  const cls = `[${VALUE_SPECIALS.map((c) => (c === " " ? " " : `\\${c}`)).join("")}]`;
  const not = `[^${cls.slice(1)}`;
  let re = `^(?<sprout_xa0>${not}*+)`;
  let value = "$sprout_xa0";
  const lookups: string[] = [];
  for (let j = 1; j <= MAX_VALUE_SPECIALS; j++) {
    re += `(?:(?<sprout_xc${j}>${cls})(?<sprout_xa${j}>${not}*+))?+`;
    value += `\${sprout_xe${j}}\${sprout_xa${j}}`;
    lookups.push(`  map $sprout_xc${j} $sprout_xe${j} {\n    volatile;\n${VALUE_SPECIALS.map((c) => `    "${c}" "${hex(c)}";`).join("\n")}\n    default "";\n  }`);
  }
  re += "$";
  const maps = Array.from(
    { length: MAX_PATH_VALUES },
    (_, k) => `  map $s_${k + 1} $sprout_x${k + 1} {\n    volatile;\n    "" "";\n    "~^${not}*$" $s_${k + 1};\n    "~${re}" "${value}";\n    default "\\n"; # over ${MAX_VALUE_SPECIALS} bytes to encode: a line break, which $sprout_unsafe refuses\n  }`,
  );
  // The captures s_<i> are variables once a regex names them; nginx.conf names them here for the
  // maps above, before any site's rules do (this map is never read).
  const names = `  map "" $sprout_value_names {\n    "~${Array.from({ length: MAX_PATH_VALUES }, (_, k) => `(?<s_${k + 1}>)`).join("")}" "";\n  }`;
  return [names, ...lookups, ...maps].join("\n");
}

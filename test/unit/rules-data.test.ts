// The rules engine's data files hold tenants' strings in Lua string literals (rules-data.ts): no
// value may end its literal or reach Lua as code, whatever bytes it holds.
import { expect, test } from "bun:test";
import { lua, renderRulesData } from "../../src/agent/nginx/rules/rules-data";

/** decode reads a literal as Lua would: a long bracket as it is, a quoted one with its decimal escapes. */
function decode(literal: string): string {
  const long = /^\[(=*)\[([\s\S]*)\]\1\]$/.exec(literal);
  if (long) {
    // The literal ends at the first closing bracket of its level: none may be inside.
    expect(long[2]!.includes(`]${long[1]}]`)).toBe(false);
    expect(/^[\r\n]/.test(long[2]!)).toBe(false);
    return long[2]!;
  }
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  const body = literal.slice(1, -1);
  expect(body).toMatch(/^(?:[A-Za-z0-9 _\-/.:,;=+*()|?^$#!~%@&<>[\]{}']|\\\d{3})*$/);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "\\") {
      bytes.push(Number(body.slice(i + 1, i + 4)));
      i += 3;
    } else bytes.push(body.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

test("every string is one literal that no value can close early, and reads back as written", () => {
  for (const s of ['"; os.exit(1) --', "a\\b", "line\nbreak", "\nleading break", "]]..x..[[", "x]", "x]=", "]=]]==]", "\u0000\u001f\u007f", "céline 中文 🎉", "${__args}|$is_args"]) expect(decode(lua(s))).toBe(s);
});

test("a deployment's rules compile to data only: a return of literals, booleans and tables", () => {
  const r = renderRulesData(
    { redirects: "/a/:x /b/:x 301\n/search q=:q /find/:q 302\n/old /new 301!", headers: "/*\n  X-Frame-Options: DENY\n/admin/*\n  Cache-Control: no-store\n", netlifyToml: null, spa: true },
    { filesDir: "/tmp/x", secret: new Uint8Array(8), site: "s" },
  );
  const code = r.text.replace(/^--.*\n/, "").replace(/\[(=*)\[[\s\S]*?\]\1\]/g, '""').replace(/"(?:[^"\\]|\\\d{3})*"/g, '""');
  expect(code).toMatch(/^return \{[\s{}",=a-z_0-9]*\}\s*$/);
  expect(r.name).toMatch(/^[0-9a-f]{32}\.lua$/);
  expect(r.text).toContain("spa = true");
});

// netlify.toml's [[redirects]] and [[headers]] read into the rules _redirects and _headers give:
// order, line numbers, caps and the cases that must fail a deployment.
import { describe, expect, test } from "bun:test";
import { readRules } from "../../src/agent/nginx/rules";
import { MAX_HEADER_BLOCKS } from "../../src/agent/nginx/rules/headers";
import { MAX_REDIRECTS } from "../../src/agent/nginx/rules/redirects";
import { hasPlainTomlPassword } from "../../src/shared/netlify-toml";

const read = (netlifyToml: string, redirects: string | null = null, headers: string | null = null) => readRules({ redirects, headers, netlifyToml, spa: false });
const HASH = `{SHA512-CRYPT}rounds=5000~abcdefghijklmnop~${"a".repeat(86)}`;

describe("netlify.toml", () => {
  test("its rules come after _redirects' and name the line of their [[redirects]] table", () => {
    const r = read(`# comment\n[build]\ncommand = "x"\n\n[[redirects]]\nfrom = "/a"\nto = "/toml"\n`, "/a /file 301\n");
    expect(r.warnings).toEqual([]);
    expect(r.rules.map((x) => [x.file, x.line, x.to])).toEqual([["_redirects", 1, "/file"], ["netlify.toml", 5, "/toml"]]);
  });

  test("a warning names the entry's line, or its number when the entries are an inline array", () => {
    expect(read(`\n\n[[redirects]]\nfrom = "/a"\nto = "/b"\nstatus = 999\n`).warnings[0]).toMatchObject({ file: "netlify.toml", line: 3 });
    const inline = read(`redirects = [{from = "/a", to = "/b"}, {from = "/c", to = "/d", status = 999}]\n`).warnings[0]!;
    expect(inline.line).toBe(1);
    expect(inline.message).toStartWith("[[redirects]] entry 2: ");
  });

  test("a [[redirects]] header inside a multi-line string is not taken for a table", () => {
    const r = read(`[build]\ncommand = """\n[[redirects]]\n"""\n\n[[redirects]]\nfrom = "/a"\nto = "/b"\nstatus = 999\n`);
    expect(r.warnings[0]!.line).toBe(6);
  });

  test("a file that is not TOML fails the deployment at its line", () => {
    const w = read(`[[redirects]]\nfrom = "/a"\nto = /b\n`).warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ file: "netlify.toml", line: 3, fatal: true });
  });

  test("Basic-Auth: hashed values protect, plain ones fail the deployment, and a list is a list of users", () => {
    const ok = read(`[[headers]]\nfor = "/admin/*"\n[headers.values]\nBasic-Auth = ["a:${HASH}", "b:${HASH}"]\n`);
    expect(ok.warnings).toEqual([]);
    expect(ok.blocks[0]!.basicAuth.map((u) => u.user)).toEqual(["a", "b"]);
    const plain = read(`[[headers]]\nfor = "/admin/*"\n[headers.values]\nBasic-Auth = "a:secret"\n`);
    expect(plain.warnings[0]!.fatal).toBe(true);
    expect(plain.blocks).toEqual([]);
    expect(hasPlainTomlPassword(`[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "a:secret"\n`)).toBe(true);
    expect(hasPlainTomlPassword(`[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "a:${HASH}"\n`)).toBe(false);
    // Under a path that cannot be used, Basic-Auth fails the deployment instead of being dropped.
    expect(read(`[[headers]]\nfor = "/*.css"\n[headers.values]\nBasic-Auth = "a:${HASH}"\n`).warnings.some((w) => w.fatal)).toBe(true);
    expect(read(`[[headers]]\n[headers.values]\nBasic-Auth = "a:${HASH}"\n`).warnings.some((w) => w.fatal)).toBe(true);
  });

  test("the caps hold for the site as a whole: _redirects and netlify.toml share 1,000 rules, _headers and [[headers]] 500 blocks", () => {
    const lines = Array.from({ length: MAX_REDIRECTS - 1 }, (_, i) => `/r${i} /t 301`).join("\n");
    const toml = Array.from({ length: 3 }, (_, i) => `[[redirects]]\nfrom = "/x${i}"\nto = "/y"\n`).join("\n");
    const r = read(toml, lines);
    expect(r.rules).toHaveLength(MAX_REDIRECTS);
    expect(r.warnings.filter((w) => w.file === "netlify.toml" && w.message.includes(`more than ${MAX_REDIRECTS} rules`))).toHaveLength(2);
    const blocks = Array.from({ length: MAX_HEADER_BLOCKS }, (_, i) => `/p${i}\n  X-A: b`).join("\n");
    const h = read(`[[headers]]\nfor = "/q"\n[headers.values]\nX-B = "c"\n`, null, blocks);
    expect(h.blocks).toHaveLength(MAX_HEADER_BLOCKS);
    expect(h.warnings[0]!.message).toContain(`more than ${MAX_HEADER_BLOCKS} blocks`);
  });

  test("a file over 1 MB is not read, and fails the deployment if it may hold access rules", () => {
    const big = `[[redirects]]\nfrom = "/a"\nto = "/b"\n# ${"x".repeat(1024 * 1024)}\n`;
    expect(read(big).rules).toEqual([]);
    expect(read(big).warnings[0]!.fatal).toBeUndefined();
    expect(read(`${big}[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "a:${HASH}"\n`).warnings[0]!.fatal).toBe(true);
  });

  test("a Role condition fails the deployment whatever else is wrong with its entry", () => {
    for (const rest of [`from = "/m/*"\nto = "/x"`, `to = "/x"`, `from = "/m/*"`, `from = "/m/*"\nto = "/x"\nstatus = "moved"`, `from = "/m/*"\nto = "/x"\nforce = "yes"`, `from = "/m/*"\nto = "/x"\nquery = "q"`, `from = "/m /*"\nto = "/x"`]) {
      for (const cond of [`conditions = {Role = ["admin"]}`, `conditions = {role = "admin"}`, `conditions = {Role = 1}`, `conditions = "Role=admin"`]) {
        const w = read(`[[redirects]]\n${rest}\n${cond}\n`).warnings;
        expect(w.some((x) => x.fatal && x.line === 1), `${rest} ${cond}`).toBe(true);
      }
    }
    expect(read(`redirects = "Role=admin"\n`).warnings[0]!.fatal).toBe(true);
  });
});

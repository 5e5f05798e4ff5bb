import { describe, expect, test } from "bun:test";
import { parseHeaders, parseRedirects, compileSite } from "../../src/agent/nginx/rules";

describe("parseRedirects", () => {
  test("reads rules, statuses, force, placeholders, splats and query conditions; skips comments", () => {
    const { rules, warnings } = parseRedirects(`# comment
/old /new
/news/*   /blog/:splat  302
/blog/:year/:slug  /posts/:year-:slug  301!   # trailing comment
/store id=:id  /items/:id  301
/spa/*  /index.html  200
/gone  /404.html  404
/ext  https://example.com/x  307
`);
    expect(warnings).toEqual([]);
    expect(rules.map((r) => [r.line, r.from, r.to, r.status, r.force])).toEqual([
      [2, "/old", "/new", 301, false],
      [3, "/news/*", "/blog/:splat", 302, false],
      [4, "/blog/:year/:slug", "/posts/:year-:slug", 301, true],
      [5, "/store", "/items/:id", 301, false],
      [6, "/spa/*", "/index.html", 200, false],
      [7, "/gone", "/404.html", 404, false],
      [8, "/ext", "https://example.com/x", 307, false],
    ]);
    expect(rules[3]!.query).toEqual([{ key: "id", bind: "id", literal: null }]);
  });

  test("reports each malformed line with its number and keeps the good ones", () => {
    const { rules, warnings } = parseRedirects(`/ok /fine
nopath /x
/a
/b /c abc
/d /e 999
/f /g 301 Country=us
/h /:missing
/i/*/j /k
/l "/m;"
/n http://127.0.0.1/x 200
/o /p\${inject}
https://other.example.com/* /x
`);
    expect(rules.map((r) => r.from)).toEqual(["/ok"]);
    expect(warnings.map((w) => w.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(warnings.every((w) => w.file === "_redirects" && w.message.length > 10)).toBe(true);
    expect(warnings.find((w) => w.line === 7)!.message).toContain(":missing");
  });

  test("nothing a _redirects or _headers file says can inject nginx directives", () => {
    const redirects = `/a /b; return 200 "pwned" 301
/x /y } server { listen 80; 301
/q /r
return 200;
/$host /z`;
    const headers = "/*\n  X-A: ok\" ; return 200 pwned\n  X-B: {}; } server {\n";
    const { rules, warnings } = parseRedirects(redirects);
    expect(rules.map((r) => r.from)).toEqual(["/q"]);
    expect(warnings.map((w) => w.line)).toEqual([1, 2, 4, 5]);
    const c = compileSite({ redirects, headers, spa: false }, { prefix: "t", filesDir: "/tmp", secret: new Uint8Array(8) });
    const conf = c.http + c.server;
    expect(conf).not.toContain("pwned");
    expect(conf).not.toContain("listen 80");
    // The one header value with braces stays inside its quoted map value.
    expect(conf).toMatch(/"[^"\n]*\{\}; \} server \{"; #/);
  });
});

describe("parseHeaders", () => {
  test("reads blocks with indented headers and Basic-Auth users", () => {
    const { blocks, warnings } = parseHeaders(`# headers
/*
  X-Frame-Options: DENY
  Content-Security-Policy: default-src 'self'; img-src *

/private/*
  Basic-Auth: alice:s3cret bob:hunter2
  Cache-Control: no-store
`);
    expect(warnings).toEqual([]);
    expect(blocks).toEqual([
      { file: "_headers", line: 2, path: "/*", headers: [{ name: "X-Frame-Options", value: "DENY" }, { name: "Content-Security-Policy", value: "default-src 'self'; img-src *" }], basicAuth: [] },
      { file: "_headers", line: 6, path: "/private/*", headers: [{ name: "Cache-Control", value: "no-store" }], basicAuth: [{ user: "alice", password: "s3cret" }, { user: "bob", password: "hunter2" }] },
    ]);
  });

  test("reports malformed lines by number and skips them", () => {
    const { blocks, warnings } = parseHeaders(`  X-Orphan: 1
/ok
  no colon here
  X-Quote: say "hi"
  X-Dollar: $host
  Basic-Auth: nopassword
  X-Good: yes
relative/path
  X-In-Skipped-Block: 1
`);
    expect(blocks.map((b) => b.headers.map((h) => h.name))).toEqual([["X-Good"]]);
    expect(warnings.map((w) => w.line)).toEqual([1, 3, 4, 5, 6, 8]);
  });

  test("Basic-Auth passwords never appear in the compiled configuration or files in plain text", () => {
    const c = compileSite({ redirects: null, headers: "/admin/*\n  Basic-Auth: alice:plaintextpw\n", spa: false }, { prefix: "t", filesDir: "/x", secret: new Uint8Array([1, 2, 3]) });
    const all = c.http + c.server + c.files.map((f) => f.content).join("");
    expect(all).not.toContain("plaintextpw");
    expect(c.files[0]!.content).toMatch(/^alice:\$6\$rounds=\d+\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}\n$/);
    const again = compileSite({ redirects: null, headers: "/admin/*\n  Basic-Auth: alice:plaintextpw\n", spa: false }, { prefix: "t", filesDir: "/x", secret: new Uint8Array([1, 2, 3]) });
    expect(again.files[0]!.content).toBe(c.files[0]!.content);
  });
});

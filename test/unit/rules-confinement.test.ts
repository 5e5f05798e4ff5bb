import { describe, expect, test } from "bun:test";
import { parseHeaders, parseRedirects } from "../../src/agent/nginx/rules";
import { resourcePattern, targetProblem } from "../../src/agent/nginx/rules/patterns";

describe("rule targets are confined at parse time", () => {
  test("dot segments, encoded dots and slashes, backslashes and another host are refused", () => {
    for (const to of ["/../etc/passwd", "/a/./b", "/a/..", "/%2e%2e/x", "/%2E%2e/x", "/a%2fb", "/a%5cb", "/a\\b", "//evil.com/x", "/\\evil.com"])
      expect(targetProblem(to)).not.toBeNull();
    expect(targetProblem("https://:splat.example.com/")).not.toBeNull();
    for (const to of ["/index.html", "/blog/:splat", "/a/b.c/d?x=../y", "https://example.com/a/:splat", "https://example.com:8443/x"])
      expect(targetProblem(to)).toBeNull();
  });

  test("a refused target is a warning with its line; the other lines are kept", () => {
    const { rules, warnings } = parseRedirects("/a /b\n/x /../../etc/passwd 200\n/c /d\n");
    expect(rules.map((r) => r.line)).toEqual([1, 3]);
    expect(warnings.map((w) => w.line)).toEqual([2]);
  });

  test("a query literal keeps everything after the first =, and rules test at most 8 parameters", () => {
    const { rules } = parseRedirects("/q q=a=b /hit\n");
    expect(rules[0]!.query).toEqual([{ key: "q", bind: null, literal: "a=b" }]);
    const many = Array.from({ length: 10 }, (_, i) => `/p${i} k${i}=:v /t/:v`).join("\n");
    const r = parseRedirects(many);
    expect(r.rules.length).toBe(8);
    expect(r.warnings.map((w) => w.line)).toEqual([9, 10]);
  });

  test("percent-encoded paths are matched decoded, as nginx decodes the request", () => {
    expect(parseRedirects("/authors/c%C3%A9line /a 301\n").rules[0]!.from).toBe("/authors/céline");
  });
});

describe("access control and headers match the resource served", () => {
  test("a pattern names one resource whatever the suffix it was written with", () => {
    expect(resourcePattern("/secret.html")).toBe("/secret");
    expect(resourcePattern("/docs/index.html")).toBe("/docs");
    expect(resourcePattern("/docs/")).toBe("/docs");
    expect(resourcePattern("/index.html")).toBe("/");
    expect(resourcePattern("/a.html.gz")).toBe("/a");
    expect(resourcePattern("/blog/*")).toBe("/blog/*");
    expect(resourcePattern("/u/:id")).toBe("/u/:id");
  });

  test("framing headers and cookies for other domains are refused with their line; names given twice are joined", () => {
    const { blocks, warnings } = parseHeaders(
      "/*\n  Transfer-Encoding: chunked\n  Set-Cookie: a=b; Domain=example.com\n  Cache-Control: public\n  Cache-Control: max-age=60\nX-Unindented: yes\n",
    );
    expect(warnings.map((w) => w.line)).toEqual([2, 3]);
    expect(blocks[0]!.headers).toEqual([
      { name: "Cache-Control", value: "public, max-age=60" },
      { name: "X-Unindented", value: "yes" },
    ]);
  });
});

describe("one tenant's rules files cost a bounded amount to read", () => {
  test("300,000 header lines, 4 KB values and 5,000 long rules parse quickly into bounded output", async () => {
    const { compileSite } = await import("../../src/agent/nginx/rules");
    const many = "/*\n" + Array.from({ length: 300_000 }, (_, i) => `  X-${i.toString(36)}: v`).join("\n") + "\n";
    const long = Array.from({ length: 5000 }, (_, i) => `/${"a".repeat(1900)}${i} /b 301`).join("\n");
    const t0 = performance.now();
    const c = compileSite({ redirects: long, headers: many, spa: false }, { prefix: "p", filesDir: "/tmp/x", secret: new Uint8Array(32) });
    // Before the caps, a block's repeated-name lookup made this quadratic (minutes).
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(c.http.length + c.server.length).toBeLessThan(4_000_000);
    expect(parseHeaders(many).blocks[0]!.headers.length).toBe(100);
  });
});

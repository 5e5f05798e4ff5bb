import { describe, expect, test } from "bun:test";
import { charsetTypes, gzipTypes, nginxTypes, typeOf } from "../../src/agent/nginx/mime";
import { isCompressible } from "../../src/agent/compressible";
import { compileSite, parseRedirects } from "../../src/agent/nginx/rules";
import { proxyProblem } from "../../src/agent/nginx/rules/redirects";

describe("content types come from one table", () => {
  test("nginx's types name module scripts, manifests, maps, fonts, CSV, Markdown, wasm and AVIF", () => {
    const types = nginxTypes();
    for (const line of ["text/javascript js mjs;", "application/manifest+json webmanifest;", "font/ttf ttf;", "text/csv csv;", "application/wasm wasm;", "image/avif avif;"])
      expect(types).toContain(line);
    expect(types).toMatch(/\n\s+text\/markdown [a-z ]*\bmd\b/);
    expect(types).toMatch(/\n\s+application\/json [a-z ]*\bmap\b/);
    // Each extension appears once: nginx would warn and pick one on its own.
    const exts = [...types.matchAll(/^\s+[a-z0-9.+-]+\/\S+ (.+);$/gm)].flatMap((m) => m[1]!.split(" "));
    expect(exts.length).toBeGreaterThan(900);
    expect(new Set(exts).size).toBe(exts.length);
  });

  test("text types carry utf-8, images and fonts do not; compression follows the same table", () => {
    expect(charsetTypes()).toEqual(expect.arrayContaining(["text/css", "text/javascript", "application/json", "text/markdown", "text/csv"]));
    expect(charsetTypes()).not.toContain("image/png");
    expect(gzipTypes()).toEqual(expect.arrayContaining(["text/css", "text/javascript", "image/svg+xml", "application/wasm"]));
    expect(gzipTypes()).not.toContain("image/avif");
    expect(typeOf("a/b.mjs")).toBe("text/javascript");
    expect(isCompressible("app.mjs", 4000)).toBe(true);
    expect(isCompressible("img.avif", 4000)).toBe(false);
  });
});

describe("_redirects conditions", () => {
  test("a Role= condition is a fatal line, whatever else the line says; its rule answers 404", () => {
    const r = parseRedirects("/members/*  200!  Role=admin\n/members/*  /login  401!\n/x /y 999 role=editor\n");
    expect(r.warnings.filter((w) => w.fatal).map((w) => w.line)).toEqual([1, 3]);
    expect(r.warnings.find((w) => w.line === 1)!.message).toContain("role-gated rules are not supported; they would leave content public");
    expect(r.rules[0]).toMatchObject({ from: "/members/*", status: 404, force: true, denied: true });
    expect(r.rules[1]).toMatchObject({ from: "/members/*", to: "/login", status: 401, force: true, denied: false });
  });

  test("Language= takes tags, Cookie= one name; Country= without a GeoIP database and unknown conditions are skipped with a warning", () => {
    const r = parseRedirects("/a /fr 302 Language=fr,pt-BR\n/b /c 302 Cookie=beta\n/d /e 302 Country=au\n/f /g 302 Flavour=x\n/h /i 302 Cookie=a,b\n");
    expect(r.rules.map((x) => [x.line, x.languages, x.cookie])).toEqual([
      [1, ["fr", "pt-br"], null],
      [2, [], "beta"],
    ]);
    expect(r.warnings.map((w) => w.line)).toEqual([3, 4, 5]);
    expect(r.warnings.some((w) => w.fatal)).toBe(false);
  });

  test("with a GeoIP database, Country= takes two-letter codes (any case); anything else is skipped with a warning", () => {
    const r = parseRedirects("/d /e 302 Country=au,NZ\n/x /y 302 Country=Australia\n/z /w 302 Country=\n", { geoip: true });
    expect(r.rules.map((x) => [x.line, x.countries])).toEqual([[1, ["AU", "NZ"]]]);
    expect(r.warnings.map((w) => [w.line, w.fatal ?? false])).toEqual([
      [2, false],
      [3, false],
    ]);
  });

  test("a forward rule keeps its path as the target", () => {
    expect(parseRedirects("/app/*  200\n").rules[0]).toMatchObject({ from: "/app/*", to: "/app/:splat", status: 200 });
  });

  test("Language= rules add the visitor's language to the rules key, matched case-insensitively by prefix", () => {
    const c = compileSite({ redirects: "/w /fr 302 Language=fr\n/w /en 302\n", headers: null, spa: false }, { prefix: "t", filesDir: "/x", secret: new Uint8Array(8) });
    expect(c.server).toContain("|$sprout_lang");
    expect(c.http).toContain("(?i:fr(?:-[a-z0-9]+)?)$");
  });
});

describe("proxy rules", () => {
  test("localhost, loopback, private, link-local and disguised addresses are refused unless the node allows them", () => {
    for (const to of [
      "http://localhost/x",
      "http://api.localhost/x",
      "http://127.0.0.1:8080/",
      "http://10.1.2.3/",
      "http://172.20.0.1/",
      "http://192.168.1.1/",
      "http://169.254.169.254/latest/meta-data",
      "http://100.64.0.1/",
      "http://0.0.0.0/",
      "http://[::1]/",
      "http://[fd00::1]/",
      "http://[fe80::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://2130706433/",
      "http://0x7f.1/",
      "https://user:pw@example.com/",
      // A final dot is the same name; an upstream block's name is not a host to resolve.
      "http://localhost./",
      "http://LOCALHOST.:7000/",
      "http://api.localhost./",
      "http://sprout_self/",
      "http://sprout_shard_1/x",
    ])
      expect([to, proxyProblem(to, false)]).not.toEqual([to, null]);
    for (const to of ["https://api.example.com/:splat", "http://93.184.216.34:8080/x", "https://[2606:4700::1111]/"]) expect(proxyProblem(to, false)).toBeNull();
    expect(proxyProblem("http://127.0.0.1:8080/", true)).toBeNull();
    expect(proxyProblem("http://2130706433/", true)).not.toBeNull();
    expect(proxyProblem("http://sprout_self/", true)).not.toBeNull();
    expect(proxyProblem("http://localhost:8080/", true)).toBeNull();
  });

  test("a proxy rule compiles to proxy_pass in a named location that keeps the request's URI", () => {
    const { rules, warnings } = parseRedirects("/api/* https://api.example.com/v1/:splat 200\n");
    expect(warnings).toEqual([]);
    expect(rules[0]!.proxy).toBe(true);
    const c = compileSite({ redirects: "/api/* https://api.example.com/v1/:splat 200\n", headers: "/a\n  Basic-Auth: u:p\n", spa: false }, { prefix: "t", filesDir: "/x", secret: new Uint8Array(8) });
    expect(c.http).toContain('"proxy|https://api.example.com/v1/${sprout_x1}$is_args$args"');
    expect(c.server).toContain("error_page 599 = @t_proxy;");
    expect(c.server).toContain("proxy_pass $sprout_to;");
    expect(c.server).toContain('proxy_set_header Authorization "";');
  });
});

// The Lua rules engine answers what a site's own nginx configuration (the include engine) answers:
// it tries a rule's regex only on requests that start with the rule's literal prefix, and finds a
// request's _headers (Basic-Auth included) once, for the resource the answer comes from. The same
// deployments on a node of each engine, probed with paths full of regex-special characters,
// encodings, placeholders, splats, query, language and cookie conditions, with and without
// passwords: every answer (status, Location, body, header lines) must be the same.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanup, cluster, site, type Cluster } from "../helpers/cluster";

let lua: Cluster;
let include: Cluster;
beforeAll(async () => {
  lua = await cluster({ agentArgs: ["--rules-engine", "lua"] });
  include = await cluster({ agentArgs: ["--rules-engine", "nginx"] });
});
afterAll(cleanup);

/** guarded: files behind Basic-Auth reached by 200 and 4xx rules, folders' indexes and clean URLs. */
const guarded: Record<string, string> = {
  "index.html": "HOME",
  "secret.html": "SECRET",
  "admin/index.html": "ADMIN",
  "admin/panel.html": "PANEL",
  "docs/index.html": "DOCS",
  "docs/a.html": "DOCSA",
  "pub.html": "PUB",
  "404.html": "NOTFOUND",
  "a.b/c.html": "ABC",
  "café/x.html": "CAFE",
  "old-page-2.html": "OP2",
  _redirects: `${[
    "/go /secret 200", "/go2 /admin/ 200", "/go3 /admin/panel 200", "/gone /secret 410", "/nf /admin/panel 404",
    "/old /pub 301", "/old-page /pub 302", "/old-page-2 /pub 302", "/p/:id /admin/:id 200", "/q q=:v /admin/:v 200",
    "/lang/* /admin/:splat 200 Language=de", "/ck/* /admin/:splat 200 Cookie=beta", "/sp/* /docs/:splat 200",
    "/a.b/* /secret 200", "/caf%C3%A9/* /secret 200", "/shadow /pub 200", "/x/* /nonexistent 200",
  ].join("\n")}\n`,
  _headers: `${[
    "/secret", "  Basic-Auth: alice:pw", "  X-S: s", "/admin/*", "  Basic-Auth: bob:pw", "  X-A: a",
    "/docs/", "  X-D: d", "  Cache-Control: max-age=5", "/", "  X-Root: r", "/a.b/*", "  X-AB: ab",
    "/caf%C3%A9/*", "  X-C: c", "/old-page", "  X-OP: op",
  ].join("\n")}\n`,
};
const guardedPaths = ["/", "/index.html", "/secret", "/secret.html", "/secret/", "/go", "/go2", "/go3", "/gone", "/nf", "/old", "/old-page", "/old-page-2", "/old-page-2/", "/p/panel", "/p/index.html", "/q?q=panel", "/q?q=..", "/lang/panel", "/ck/panel", "/sp/a", "/sp/", "/a.b/c", "/a.b/zz", "/caf%C3%A9/x", "/café/x", "/shadow", "/x/y", "/admin", "/admin/", "/admin/panel", "/docs", "/docs/", "/docs/a", "/nothing", "/SECRET", "/Secret.html", "/secret.html.gz", "/admin/index", "/pub", "/pub.html", "/__sprout_status_404", "/__sprout_status_410"];

/** tricky: over 32 rules (the engine's combined test), literal prefixes that share beginnings, every punctuation a path may hold. */
const tricky: Record<string, string> = {
  "index.html": "HOME",
  "pub.html": "PUB",
  "p/7.html": "P7",
  _redirects: `${[
    "/old-page /r1 301", "/old-page-2 /r2 301", "/old-page-29 /r3 301", "/old-page/ /r4 301",
    "/blog/* /posts/:splat 301", "/blog /bloghome 302", "/p/:id /items/:id 301", "/p/:id/edit /items/:id/e 302!",
    "/authors/c%C3%A9line /authors/celine 301", "/search q=:q /find/:q 302", "/search /find 302", "/shop id=:id /product/:id 301",
    "/lang/* /en/:splat 302 Language=en,de", "/beta/* /beta-on 302 Cookie=beta", "/:year/:month/:slug /posts/:slug 301",
    "/a.b/c+d /dots 301", "/spaces%20here /s 301", "/x(y) /paren 301", "/br[a] /brk 301", "/pipe|x /pipe 301", "/caret^ /caret 301",
    "/hash#x /hash 301", "/pct%25 /pct 301", "/plus+ /plus 301", "/star* /star 301", "/q? /q 301", "/UPPER /upper 301",
    "/tilde~ /tilde 301", "/at@x /at 301", "/amp&x /amp 301", "/eq=x /eq 301", "/col:x /col 301", "/com,x /com 301", "/semi;x /semi 301",
    "/dash-x /dash 301", "/under_x /under 301", "/bang! /bang 301", "/quote'x /q2 301", "/lt<x> /lt 301",
    ...Array.from({ length: 8 }, (_, k) => `/f${k + 1} /g${k + 1} 301`),
    "/index.html /idx 301", "/pub.html /pubh 301", "/pub /pubx 301",
  ].join("\n")}\n`,
};
const trickyPaths = ["/old-page", "/old-page/", "/old-page-2", "/old-page-29", "/old-page-2/", "/old-page-3", "/blog", "/blog/", "/blog/a/b", "/bloggy", "/p/7", "/p/7/", "/p/7/edit", "/p//edit", "/authors/c%C3%A9line", "/authors/C%C3%A9line", "/search?q=abc", "/search?q=a%7Cb", "/search", "/shop?id=1", "/lang/x", "/beta/z", "/2024/05/hello", "/a.b/c+d", "/aXb/c+d", "/spaces%20here", "/x(y)", "/x%28y%29", "/br[a]", "/bra", "/pipe%7Cx", "/caret%5E", "/hash%23x", "/pct%25", "/plus+", "/star*", "/star", "/q%3F", "/UPPER", "/upper", "/tilde~", "/at@x", "/amp&x", "/eq=x", "/col:x", "/com,x", "/semi;x", "/dash-x", "/under_x", "/bang!", "/quote'x", "/lt%3Cx%3E", "/f8", "/f9", "/index.html", "/", "/pub.html", "/pub", "/pub/", "/blog/a%23b", "/blog/%3F%25%20x", "/blog/%23%7C%231", "/p/x%23y/edit", "/2024/%7C/a%23b", "/hash%23x%7C", "/search%23%7Cabc", "/blog/a%0Ab"];

const visitors: [string, Record<string, string>][] = [
  ["anonymous", {}],
  ["alice", { authorization: `Basic ${btoa("alice:pw")}` }],
  ["bob", { authorization: `Basic ${btoa("bob:pw")}` }],
  ["a German visitor with the beta cookie", { "accept-language": "de", cookie: "beta=1" }],
];
const SHOWN = ["location", "cache-control", "www-authenticate", "x-s", "x-a", "x-d", "x-root", "x-ab", "x-c", "x-op"];

async function answer(c: Cluster, host: string, path: string, headers: Record<string, string>): Promise<string> {
  const r = await c.get(`${host}.${c.domain}`, path, undefined, { headers, redirect: "manual" });
  return `${r.status} ${JSON.stringify((await r.text()).slice(0, 12))} ${SHOWN.map((k) => `${k}=${r.headers.get(k)}`).join(" ")}`;
}

test("the Lua engine answers every probe as a site's own nginx configuration does: rules by literal prefix, _headers and Basic-Auth of the resource served", async () => {
  for (const c of [lua, include]) {
    expect((await c.sprout(["sites", "create", "parityspa", "--spa", "true"])).code).toBe(0);
    for (const [name, files] of [["parity", guarded], ["parityspa", guarded], ["paritytricky", tricky]] as const) {
      const r = await c.sprout(["deploy", site(files), "--site", name, "--prod", "--json"]);
      if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}`);
    }
  }
  const differences: string[] = [];
  const probes = [...["parity", "parityspa"].flatMap((host) => guardedPaths.map((path) => [host, path] as const)), ...trickyPaths.map((path) => ["paritytricky", path] as const)];
  for (const [host, path] of probes)
    for (const [who, headers] of visitors) {
      const [a, b] = [await answer(lua, host, path, headers), await answer(include, host, path, headers)];
      if (a !== b) differences.push(`${host} ${path} (${who})\n  lua:     ${a}\n  include: ${b}`);
    }
  expect(differences).toEqual([]);
  // The probes reach what they should: protected files answer 401 to anonymous visitors on both.
  expect(await answer(lua, "parity", "/gone", {})).toStartWith("401 ");
  expect(await answer(lua, "parityspa", "/anything", {})).toStartWith("200 ");
  expect(await answer(lua, "paritytricky", "/x(y)", {})).toContain("location=/paren");
});

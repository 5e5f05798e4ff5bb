// A site moved from Netlify behaves as it did there: content types, Cache-Control, trailing slashes,
// folders, _headers on clean URLs, 4xx rules, conditions and proxy rules, through the compiled
// binary and the agent's real nginx. The agent may proxy to 127.0.0.1 here (--allow-private-proxy):
// the upstream of the proxy tests is a server in this test process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, site, useCluster, type Cluster } from "../helpers/cluster";

const cl = useCluster({ agentArgs: ["--allow-private-proxy"] });
let c: Cluster;

/** upstream is the "other site" of the proxy rules: it echoes what it was asked. */
let upstream: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  c = cl();
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (url.pathname.startsWith("/v1/cached")) headers["cache-control"] = "private, max-age=5";
      // An upstream trying to steer nginx to another of the site's paths (an internal redirect).
      if (url.pathname === "/v1/accel") headers["x-accel-redirect"] = "/index.html";
      return new Response(JSON.stringify({ path: url.pathname, query: url.search, host: req.headers.get("host"), auth: req.headers.get("authorization"), xff: req.headers.get("x-forwarded-for") }), { status: url.pathname.endsWith("/teapot") ? 418 : 200, headers });
    },
  });
});
afterAll(() => upstream?.stop(true));

const deploy = async (name: string, files: Record<string, string | Uint8Array>) => {
  const r = await c.sprout(["deploy", site(files), "--site", name, "--prod", "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}):\n${r.stderr}\n${r.stdout}\n${c.logs()}`);
  return JSON.parse(r.stdout) as { deployment_id: string };
};
const get = (name: string, path: string, init: RequestInit = {}) => c.get(`${name}.${c.domain}`, path, undefined, init);
const REVALIDATE = "public, max-age=0, must-revalidate";

/** A built site as static-site generators emit them, served without and with rules of its own. */
const FILES: Record<string, string | Uint8Array> = {
  "index.html": "<h1>home</h1>",
  "about.html": "<h1>about</h1>",
  "docs/index.html": "<h1>docs</h1>",
  "assets/readme.txt": "a folder without index.html",
  "404.html": "<h1>custom not found</h1>",
  "store-closed.html": "<h1>the store is closed</h1>",
  "app.mjs": "export const x = 1;",
  "site.webmanifest": '{"name":"x"}',
  "app.js.map": '{"version":3}',
  "font.ttf": new Uint8Array([0, 1, 0, 0, 0, 10]),
  "data.csv": "a,b\n1,2\n",
  "notes.md": "# notes",
  "mod.wasm": new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]),
  "img.avif": new Uint8Array([0, 0, 0, 28, 102, 116, 121, 112]),
  "style.css": "body{color:red}",
  "feed.xml": "<rss/>",
};

describe("content types and Cache-Control, on a site without rules and on one with rules", () => {
  test("setup: the same files as a plain site and as a site with _redirects", async () => {
    await deploy("plain", FILES);
    await deploy("ruled", { ...FILES, _redirects: "/nothing-here /index.html 301\n" });
  });

  const TYPES: [string, string][] = [
    ["/app.mjs", "text/javascript; charset=utf-8"],
    ["/site.webmanifest", "application/manifest+json; charset=utf-8"],
    ["/app.js.map", "application/json; charset=utf-8"],
    ["/font.ttf", "font/ttf"],
    ["/data.csv", "text/csv; charset=utf-8"],
    ["/notes.md", "text/markdown; charset=utf-8"],
    ["/mod.wasm", "application/wasm"],
    ["/img.avif", "image/avif"],
    ["/style.css", "text/css; charset=utf-8"],
    ["/about.html", "text/html; charset=utf-8"],
    ["/about", "text/html; charset=utf-8"],
  ];
  for (const name of ["plain", "ruled"])
    test(`${name}: module scripts, manifests, maps, fonts, CSV, Markdown, wasm and AVIF get their types; text types say utf-8`, async () => {
      for (const [path, type] of TYPES) {
        const r = await get(name, path);
        expect([path, r.status, r.headers.get("content-type")]).toEqual([path, 200, type]);
      }
    });

  for (const name of ["plain", "ruled"])
    test(`${name}: every file and the 404 page are sent with Cache-Control: ${REVALIDATE}`, async () => {
      for (const path of ["/style.css", "/mod.wasm", "/", "/about"]) expect([path, (await get(name, path)).headers.get("cache-control")]).toEqual([path, REVALIDATE]);
      const missing = await get(name, "/no-such-page");
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe("<h1>custom not found</h1>");
      expect(missing.headers.get("cache-control")).toBe(REVALIDATE);
    });

  test("Cache-Control from _headers replaces the default on the paths it names, and only there", async () => {
    await deploy("cached", { ...FILES, _headers: "/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n" });
    expect((await get("cached", "/assets/readme.txt")).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await get("cached", "/style.css")).headers.get("cache-control")).toBe(REVALIDATE);
    expect((await get("cached", "/nope")).headers.get("cache-control")).toBe(REVALIDATE);
  });
});

describe("trailing slashes and folders", () => {
  for (const name of ["plain", "ruled"]) {
    test(`${name}: /about/ of about.html redirects to /about (keeping the query), as Netlify's pretty URLs do`, async () => {
      const r = await get(name, "/about/?x=1");
      expect([r.status, r.headers.get("location")]).toEqual([301, "/about?x=1"]);
      expect(await (await get(name, "/about")).text()).toBe("<h1>about</h1>");
    });

    test(`${name}: a folder without index.html answers the site's 404 page with 404, not nginx's 403`, async () => {
      const r = await get(name, "/assets/");
      expect(r.status).toBe(404);
      expect(await r.text()).toBe("<h1>custom not found</h1>");
      const bare = await get(name, "/assets");
      expect([bare.status, bare.headers.get("location")]).toEqual([301, "/assets/"]);
      expect(await (await get(name, "/docs/")).text()).toBe("<h1>docs</h1>");
    });
  }
});

describe("_headers on clean URLs and folders", () => {
  test("headers for /about and /docs/ apply on /about, /about.html, /docs/ and /docs/index.html", async () => {
    await deploy("hdr", { ...FILES, _headers: "/about\n  X-Page: about\n/docs/\n  X-Section: docs\n" });
    for (const path of ["/about", "/about.html"]) expect([path, (await get("hdr", path)).headers.get("x-page")]).toEqual([path, "about"]);
    for (const path of ["/docs/", "/docs/index.html"]) expect([path, (await get("hdr", path)).headers.get("x-section")]).toEqual([path, "docs"]);
    expect((await get("hdr", "/")).headers.get("x-page")).toBeNull();
  });
});

describe("404, 410 and 451 rules", () => {
  test("setup", async () => {
    await deploy("shop", {
      ...FILES,
      _redirects: ["/ecommerce /store-closed 404", "/old-shop /store-closed 410", "/legal /store-closed.html 451", "/vanished /no-such-target 410"].join("\n"),
    });
  });

  test("a target without .html serves its clean-URL file with the rule's status", async () => {
    for (const [path, status] of [["/ecommerce", 404], ["/old-shop", 410], ["/legal", 451]] as const) {
      const r = await get("shop", path);
      expect([path, r.status, await r.text()]).toEqual([path, status, "<h1>the store is closed</h1>"]);
      expect(r.headers.get("cache-control")).toBe(REVALIDATE);
    }
  });

  test("a missing target still answers the rule's status, with the site's 404 page", async () => {
    const r = await get("shop", "/vanished");
    expect([r.status, await r.text()]).toEqual([410, "<h1>custom not found</h1>"]);
  });
});

describe("rules with conditions", () => {
  test("a Role= rule fails the deploy naming its line, and the gated content is never served", async () => {
    await deploy("members", { "index.html": "members v1" });
    const r = await c.sprout([
      "deploy",
      site({ "index.html": "members v2", "members/secret.html": "gated content", "login.html": "log in", _redirects: "# gated\n/members/*  200!  Role=admin\n/members/*  /login  401!\n" }),
      "--site",
      "members",
      "--prod",
      "--json",
    ]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.error).toContain("_redirects line 2");
    expect(out.error).toContain("role-gated rules are not supported; they would leave content public");
    expect(await (await get("members", "/")).text()).toBe("members v1");
    expect(await (await get("members", "/members/secret")).text()).not.toContain("gated content");
    expect((await get("members", "/", {})).status).toBe(200);
    const preview = await c.get(`${out.deployment_id}--members.${c.domain}`, "/members/secret");
    expect(await preview.text()).not.toContain("gated content");
  });

  test("Language= rules follow the browser's first language, or the nf_lang cookie", async () => {
    await deploy("intl", { "index.html": "x", _redirects: "/welcome /fr/welcome 302 Language=fr\n/welcome /pt/welcome 302 Language=pt-br\n/welcome /en/welcome 302\n" });
    const loc = async (headers: Record<string, string>) => (await get("intl", "/welcome", { headers })).headers.get("location");
    expect(await loc({ "accept-language": "fr-CH, fr;q=0.9, en;q=0.8" })).toBe("/fr/welcome");
    expect(await loc({ "accept-language": "FR" })).toBe("/fr/welcome");
    expect(await loc({ "accept-language": "pt-BR,pt;q=0.9" })).toBe("/pt/welcome");
    expect(await loc({ "accept-language": "pt-PT" })).toBe("/en/welcome");
    expect(await loc({ "accept-language": "de-DE,fr;q=0.5" })).toBe("/en/welcome");
    expect(await loc({})).toBe("/en/welcome");
    expect(await loc({ "accept-language": "de", cookie: "nf_lang=fr" })).toBe("/fr/welcome");
  });

  test("Cookie= rules apply only when the cookie is there; unknown conditions are skipped with a warning", async () => {
    const d = await deploy("beta", { "index.html": "x", "beta-on.html": "beta on", _redirects: "/beta /beta-on.html 200 Cookie=beta_opt\n/au /anz 302 Flavour=x\n" });
    expect((await get("beta", "/beta")).status).toBe(404);
    expect(await (await get("beta", "/beta", { headers: { cookie: "other=1; beta_opt=yes" } })).text()).toBe("beta on");
    const info = await api(c.master, "GET", `/api/deployment/${d.deployment_id}`, undefined, c.admin.token);
    const log = (info.body.events as { message: string }[]).map((e) => e.message).join("\n");
    expect(log).toContain('_redirects line 2 skipped: the condition "Flavour" is not supported');
  });
});

describe("proxy rules", () => {
  test("setup", async () => {
    const up = `http://127.0.0.1:${upstream.port}`;
    await deploy("proxied", {
      "index.html": "home",
      _redirects: [`/api/*  ${up}/v1/:splat  200`, `/fixed  ${up}/v1/fixed?from=rule  200`].join("\n"),
      _headers: "/api/*\n  X-From-Headers: yes\n/api/locked/*\n  Basic-Auth: alice:wonderland\n",
    });
  });

  test("a request is answered by the other site, with the splat and the query passed on", async () => {
    const r = await get("proxied", "/api/users/42?sort=name");
    expect(r.status).toBe(200);
    const body = (await r.json()) as any;
    expect(body.path).toBe("/v1/users/42");
    expect(body.query).toBe("?sort=name");
    expect(body.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(r.headers.get("x-from-headers")).toBe("yes");
    expect(r.headers.get("cache-control")).toBe(REVALIDATE);
    expect(((await (await get("proxied", "/fixed?x=1")).json()) as any).query).toBe("?from=rule");
  });

  test("the other site sees the visitor's address in X-Forwarded-For, and cannot steer nginx with X-Accel-Redirect", async () => {
    const body = (await (await get("proxied", "/api/users/1", { headers: { "x-forwarded-for": "203.0.113.9" } })).json()) as any;
    expect(body.xff).toBe("203.0.113.9, 127.0.0.1");
    const r = await get("proxied", "/api/accel");
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).path).toBe("/v1/accel");
    expect(r.headers.get("x-accel-redirect")).toBeNull();
  });

  test("the upstream's status and Cache-Control come through unchanged", async () => {
    expect((await get("proxied", "/api/teapot")).status).toBe(418);
    expect((await get("proxied", "/api/cached/x")).headers.get("cache-control")).toBe("private, max-age=5");
  });

  test("Basic-Auth in _headers guards proxied paths, and the password is never passed on to the other site", async () => {
    const locked = await get("proxied", "/api/locked/x");
    expect(locked.status).toBe(401);
    expect(await locked.text()).not.toContain("/v1/");
    const r = await get("proxied", "/api/locked/x", { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as any;
    expect(body.path).toBe("/v1/locked/x");
    expect(body.auth).toBeNull();
  });
});

// Last in this file: it adds a second node, which later deploys would also land on.
describe("Country= rules (GeoIP: Debian's geoip-database through nginx's geoip module)", () => {
  test("follow the visitor's country; X-Forwarded-For names the visitor only when it comes from --trusted-proxies", async () => {
    const geo = await c.addAgent("geo", ["--trusted-proxies", "127.0.0.1"]);
    await deploy("regional", { "index.html": "x", _redirects: "/shop /shop/anz 302 Country=au,nz\n/shop /shop/world 302\n" });
    const from = (xff: string | null, node = geo) => c.get(`regional.${c.domain}`, "/shop", node, { headers: xff ? { "x-forwarded-for": xff } : {} }).then((r) => r.headers.get("location"));
    // Behind a trusted proxy: 1.1.1.1 is in Australia and 8.8.8.8 in the United States in the database.
    expect(await from("1.1.1.1")).toBe("/shop/anz");
    expect(await from("8.8.8.8")).toBe("/shop/world");
    expect(await from("8.8.8.8, 1.1.1.1")).toBe("/shop/anz");
    // No country for a loopback visitor.
    expect(await from(null)).toBe("/shop/world");
    // Straight to a node that trusts no proxy: a visitor cannot choose a country with the header.
    expect(await from("1.1.1.1", c.nodes[0]!)).toBe("/shop/world");
  });
});

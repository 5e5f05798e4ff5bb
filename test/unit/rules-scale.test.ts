// What keeps a node's cost flat with thousands of sites with rules (issue: serving at 10,000 sites):
// nginx reads a map in about a megabyte of zeroed memory and looks every variable name up in a list
// of all of them, so a site with rules must add a bounded, small number of maps and variable names,
// and a plain site's host must never be tried against every rules site's server names.
import { describe, expect, test } from "bun:test";
import { renderNginxConf, renderShardConf } from "../../src/agent/nginx/config";
import { compileSite } from "../../src/agent/nginx/rules";
import { headerSets, SEP } from "../../src/agent/nginx/rules/header-sets";
import { parseHeaders } from "../../src/agent/nginx/rules/headers";
import { renderSiteInclude } from "../../src/agent/nginx/site-include";
import { pickShard } from "../../src/agent/nginx/shards";
import { benchRules } from "../../scripts/bench-scale";

const opts = { prefix: "sprout_s_0123456789", filesDir: "/x/auth", secret: new Uint8Array(8) };
const SHARED = new Set(["sprout_e", "sprout_b", "sprout_k", "sprout_rv", "sprout_hs", "args"]);

describe("a site with rules costs nginx a bounded number of maps and variable names", () => {
  test("50 rules and 10 header blocks (Basic-Auth included) make two maps; every other variable it sets is shared by all sites", () => {
    for (const i of [0, 1]) {
      const c = compileSite({ ...benchRules(i), spa: false }, opts);
      const maps = [...c.http.matchAll(/^map \S+ \$(\S+) \{/gm)].map((m) => m[1]);
      // Site 0 also matches on a query parameter: one map for its bounded value.
      expect(maps.length).toBe(i === 0 ? 3 : 2);
      const set = new Set([...c.server.matchAll(/\bset \$(\w+)/g)].map((m) => m[1]!));
      for (const name of set) expect(SHARED.has(name)).toBe(true);
    }
  });

  test("the main nginx names the sites of the shards with one map line each; its own rules sites come after the plain sites' regex", () => {
    const shards = new Map([["shop", 3], ["blog", 1], ["default", 1]]);
    const conf = renderNginxConf({ dataDir: "/d", listen: "127.0.0.1:8080", domain: "example.test", workerUser: null, shards });
    // The default server and the two wildcard servers; shard 0's sites (the main nginx's own) come from the include.
    expect(conf.match(/^\s*server \{/gm)!.length).toBe(3);
    const plain = conf.indexOf("server_name ~^(?<site>[a-z0-9]+(?:-[a-z0-9]+)*)\\.example\\.test$;");
    const includes = conf.indexOf("include /d/nginx/sites/*.conf;");
    const previews = conf.indexOf("server_name ~^(?<dep>[a-z0-9]+)--(?<site>");
    expect(plain).toBeGreaterThan(0);
    expect(includes).toBeGreaterThan(plain);
    expect(previews).toBeGreaterThan(includes);
    // A site name holds no "--", so the production regex never takes a preview host.
    expect(new RegExp("^(?<site>[a-z0-9]+(?:-[a-z0-9]+)*)\\.example\\.test$").test("abc--shop.example.test")).toBe(false);
    const routes = conf.match(/map \$site \$sprout_shard \{([\s\S]*?)\}/)![1]!;
    expect(routes.trim().split("\n").map((l) => l.trim())).toEqual(['default "";', "blog sprout_shard_1;", "\\default sprout_shard_1;", "shop sprout_shard_3;"]);
    expect(conf).toContain("server unix:/d/nginx/sock/shard-3.sock;");
  });

  test("shards fill one after the other up to their size, so none holds more than that; a freed place is taken first", () => {
    expect(pickShard([], 50)).toBe(0);
    expect(pickShard([49], 50)).toBe(0);
    expect(pickShard([50], 50)).toBe(1);
    expect(pickShard([50, 50, 12], 50)).toBe(2);
    expect(pickShard([50, 49, 50], 50)).toBe(1);
    const sizes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = pickShard(sizes, 50);
      sizes[n] = (sizes[n] ?? 0) + 1;
    }
    expect(sizes.length).toBe(40);
    expect(Math.max(...sizes)).toBe(50);
  });

  test("a rules site's production host is an exact name, and one server serves it and its previews", () => {
    const r = renderSiteInclude({ site: "shop", domain: "example.test", listen: "127.0.0.1:8080", sitesDir: "/d/sites", filesDir: "/d/nginx/auth", secret: new Uint8Array(8), production: { id: "p1", rules: { ...benchRules(1), spa: false } }, deployments: [{ id: "p1", rules: { ...benchRules(1), spa: false } }] });
    expect(r.text!.match(/^server \{/gm)!.length).toBe(1);
    expect(r.text).toContain('server_name shop.example.test "~^[a-z0-9]+--shop\\.example\\.test$";');
    expect(r.text).toContain("root /d/sites/shop/$sprout_tree;");
  });

  test("regex JIT is on in the main nginx and off in the shards (1 MB per rules site per process otherwise)", () => {
    expect(renderNginxConf({ dataDir: "/d", listen: "127.0.0.1:8080", domain: "example.test", workerUser: null })).toContain("pcre_jit on;");
    expect(renderShardConf({ dataDir: "/d", domain: "example.test", workerUser: null, shard: 0 })).toContain("pcre_jit off;");
  });
});

describe("header sets: one map names every block that applies to a resource", () => {
  const sets = (text: string) => headerSets(parseHeaders(text).blocks, (b) => `/auth/${b.line}`);
  /** applied answers, for a resource, the map's fields: cache-control, htpasswd and the named headers. */
  const applied = (text: string, resource: string) => {
    const s = sets(text)!;
    const hit = s.entries.find((e) => new RegExp(e.regex).test(resource));
    const fields = hit ? hit.value.split(SEP) : ["", "", ...s.slots.map(() => "")];
    const headers: [string, string][] = s.slots.map((name, k) => [name, fields[k + 2]!] as [string, string]).filter(([, v]) => v);
    return { cc: fields[0], auth: fields[1], headers };
  };
  const TEXT = `/*
  X-Frame-Options: DENY
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Frame-Options: SAMEORIGIN
/assets/logo
  X-Logo: yes
/assets/fonts/*
  Cache-Control: no-store
/admin/*
  Basic-Auth: a:$6$x$y
/about
  X-About: yes
`;

  test("splat blocks apply at their folder and below, exact blocks at their path only; each sends its line", () => {
    expect(applied(TEXT, "/").headers).toEqual([["X-Frame-Options", "DENY"]]);
    expect(applied(TEXT, "/about").headers).toEqual([["X-Frame-Options", "DENY"], ["X-About", "yes"]]);
    expect(applied(TEXT, "/about/more").headers).toEqual([["X-Frame-Options", "DENY"]]);
    expect(applied(TEXT, "/assets").headers).toEqual([["X-Frame-Options", "DENY"], ["X-Frame-Options", "SAMEORIGIN"]]);
    expect(applied(TEXT, "/assets/logo").headers).toEqual([["X-Frame-Options", "DENY"], ["X-Frame-Options", "SAMEORIGIN"], ["X-Logo", "yes"]]);
    expect(applied(TEXT, "/assets/logos").headers).toEqual([["X-Frame-Options", "DENY"], ["X-Frame-Options", "SAMEORIGIN"]]);
    expect(applied(TEXT, "/assetsx").headers).toEqual([["X-Frame-Options", "DENY"]]);
  });

  test("Cache-Control comes from the first matching block in file order; Basic-Auth covers its folder", () => {
    expect(applied(TEXT, "/").cc).toBe("");
    expect(applied(TEXT, "/assets/app.js").cc).toBe("public, max-age=31536000, immutable");
    expect(applied(TEXT, "/assets/fonts/a.woff2").cc).toBe("public, max-age=31536000, immutable");
    expect(applied(TEXT, "/admin").auth).toBe("/auth/10");
    expect(applied(TEXT, "/admin/users").auth).toBe("/auth/10");
    expect(applied(TEXT, "/administrator").auth).toBe("");
  });

  test("paths with placeholders, or more header lines than slots, use the general form", () => {
    expect(sets("/blog/:year/*\n  X-A: 1\n")).toBeNull();
    const many = Array.from({ length: 30 }, (_, i) => `/p${i}/*\n  X-H${i}: v\n`).join("");
    expect(sets(many)).toBeNull();
    // ...which still compiles (a map per header).
    expect(compileSite({ redirects: null, headers: "/blog/:year/*\n  X-A: 1\n", spa: false }, opts).server).toContain("add_header X-A $sprout_s_0123456789_h0;");
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, cleanup, cluster, site, type Cluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

let c: Cluster;
let prod: any;
let dir: string;
const host = () => `rules.${c.domain}`;

const REDIRECTS = `# Netlify-style rules
/old-page        /about                 301
/news/*          /blog/:splat           302
/blog/:year/:slug /posts/:year/:slug.html 301
/store id=:id    /items/:id             301
/shadowed        /elsewhere             301
/forced          /elsewhere             301!
/ext             https://example.com/landing 302
/gone            /404.html              404
/app/*           /app/index.html        200
this line is wrong
`;
const HEADERS = `/*
  X-Frame-Options: DENY
/blog/*
  X-Frame-Options: SAMEORIGIN
  Cache-Control: public, max-age=3600
/private/*
  Basic-Auth: alice:wonderland
`;

const deploy = async (d: string, name: string, prodFlag = true) => {
  const r = await c.sprout(["deploy", d, "--site", name, ...(prodFlag ? ["--prod"] : []), "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}\n${c.logs()}`);
  return JSON.parse(r.stdout);
};
const reloads = async () => {
  await Bun.sleep(300); // reloads are batched over 100 ms
  return (await api(c.nodes[0]!.url, "GET", "/api/heartbeat", undefined, c.nodes[0]!.token)).body.system.nginx_reloads as number;
};
const get = (path: string, init: RequestInit = {}, h = host()) => c.get(h, path, undefined, init);

beforeAll(async () => {
  c = await cluster();
  dir = site({
    "index.html": "home",
    "about.html": "about",
    "shadowed.html": "i am a file",
    "forced.html": "forced file",
    "404.html": "custom not found",
    "app/index.html": "app shell",
    "blog/post.html": "a post",
    "private/doc.html": "secret doc",
    _redirects: REDIRECTS,
    _headers: HEADERS,
  });
  prod = await deploy(dir, "rules");
});
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

describe("_redirects", () => {
  test("plain, splat (nested), placeholders and query pass-through", async () => {
    const a = await get("/old-page");
    expect([a.status, a.headers.get("location")]).toEqual([301, "/about"]);
    const b = await get("/news/2024/05/launch?ref=rss");
    expect([b.status, b.headers.get("location")]).toEqual([302, "/blog/2024/05/launch?ref=rss"]);
    const p = await get("/blog/2024/hello-world");
    expect([p.status, p.headers.get("location")]).toEqual([301, "/posts/2024/hello-world.html"]);
  });

  test("query-parameter rules match only with the parameter", async () => {
    const s = await get("/store?color=red&id=42");
    expect([s.status, s.headers.get("location")]).toEqual([301, "/items/42"]);
    expect((await get("/store")).status).toBe(404);
  });

  test("an existing file shadows a rule unless the rule is forced with !", async () => {
    const s = await get("/shadowed");
    expect(s.status).toBe(200);
    expect(await s.text()).toBe("i am a file");
    const f = await get("/forced");
    expect([f.status, f.headers.get("location")]).toEqual([301, "/elsewhere"]);
  });

  test("external targets, 404 rules and 200 rewrites", async () => {
    const e = await get("/ext?q=1");
    expect([e.status, e.headers.get("location")]).toEqual([302, "https://example.com/landing?q=1"]);
    const g = await get("/gone");
    expect(g.status).toBe(404);
    expect(await g.text()).toBe("custom not found");
    const r = await get("/app/settings/profile");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("app shell");
  });

  test("the rules files are never served, and a bad line is reported in the deploy log with its number", async () => {
    expect((await get("/_redirects")).status).toBe(404);
    expect((await get("/_headers")).status).toBe(404);
    const info = (await api(c.master, "GET", `/api/deployment/${prod.deployment_id}`, undefined, c.admin.token)).body;
    expect(info.status).toBe("ready");
    const warn = info.events.find((e: any) => e.level === "warn");
    expect(warn.message).toContain("_redirects line 11 skipped");
  });
});

describe("_headers", () => {
  test("every matching block applies; Cache-Control from _headers replaces the default", async () => {
    const home = await get("/");
    expect(home.headers.get("x-frame-options")).toBe("DENY");
    expect(home.headers.get("cache-control")).toBe("public, max-age=0, must-revalidate");
    const post = await get("/blog/post");
    expect(post.headers.get("x-frame-options")).toBe("DENY, SAMEORIGIN");
    expect(post.headers.get("cache-control")).toBe("public, max-age=3600");
  });

  test("Basic-Auth: no password and a wrong one get 401, the right one the page; other paths stay open", async () => {
    expect((await get("/private/doc.html")).status).toBe(401);
    const wrong = await get("/private/doc.html", { headers: { authorization: `Basic ${btoa("alice:nope")}` } });
    expect(wrong.status).toBe(401);
    const right = await get("/private/doc.html", { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toBe("secret doc");
    expect((await get("/about")).status).toBe(200);
    // The password is nowhere on the node in plain text: not in blobs, rules, nginx files or logs.
    const grep = Bun.spawnSync(["grep", "-rl", "wonderland", c.nodes[0]!.data]);
    expect(grep.stdout.toString()).toBe("");
    expect(c.nodes[0]!.p.output()).not.toContain("wonderland");
  });

  test("a plain Basic-Auth password uploaded through the API is refused (use the CLI) and not kept", async () => {
    const headers = "/*\n  Basic-Auth: bob:rawapisecret\n";
    const index = "raw";
    const manifest = [
      { path: "_headers", sha256: sha256(headers), size: headers.length },
      { path: "index.html", sha256: sha256(index), size: index.length },
    ];
    const created = await api(c.master, "POST", "/api/deployment", { site: "rawauth", production: true, manifest }, c.admin.token);
    const { agent_url, grant } = created.body.upload;
    const id = created.body.deployment.id;
    const init = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: id, manifest });
    const tar = await makeTar([{ header: { name: "_headers" }, body: headers }, { header: { name: "index.html" }, body: index }]);
    const up = await fetch(`${agent_url}/api/upload/file`, { method: "POST", headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": id }, body: tar as unknown as BodyInit });
    expect(up.status).toBe(422);
    const err = (await up.json()) as any;
    expect(err.error.code).toBe("plain_password");
    expect(err.error.hint).toContain("sprout deploy");
    expect((await get("/", {}, `rawauth.${c.domain}`)).status).toBe(404);
    expect(Bun.spawnSync(["grep", "-rl", "rawapisecret", c.nodes[0]!.data]).stdout.toString()).toBe("");
  });

  test("ETag and conditional requests answer 304", async () => {
    const first = await get("/about.html");
    const etag = first.headers.get("etag")!;
    expect(etag).toBeTruthy();
    expect((await get("/about.html", { headers: { "if-none-match": etag } })).status).toBe(304);
  });
});

describe("previews, and no reloads", () => {
  test("a preview with other rules is served with its rules; production keeps its own", async () => {
    const before = await reloads();
    writeFileSync(join(dir, "_redirects"), "/old-page /changed 301\n");
    const preview = await deploy(dir, "rules", false);
    const ph = `${preview.deployment_id}--rules.${c.domain}`;
    expect((await get("/old-page", {}, ph)).headers.get("location")).toBe("/changed");
    expect((await get("/old-page")).headers.get("location")).toBe("/about");
    // The rules engine reads a deployment's rules per request: nothing is reloaded.
    expect(await reloads()).toBe(before);
    // Production's own preview host keeps production's rules.
    expect((await get("/old-page", {}, `${prod.deployment_id}--rules.${c.domain}`)).headers.get("location")).toBe("/about");
  });

  test("a deploy of rules reloads nothing, whether its rules changed or not", async () => {
    writeFileSync(join(dir, "_redirects"), REDIRECTS);
    writeFileSync(join(dir, "about.html"), "about v2");
    const before = await reloads();
    await deploy(dir, "rules");
    expect(await (await get("/about")).text()).toBe("about v2");
    expect(await reloads()).toBe(before);
    writeFileSync(join(dir, "_redirects"), "/old-page /about-us 308\n");
    await deploy(dir, "rules");
    expect((await get("/old-page")).headers.get("location")).toBe("/about-us");
    expect(await reloads()).toBe(before);
  });
});

describe("rules nginx rejects", () => {
  test("fail that deployment with nginx's reason and leave the previous one serving", async () => {
    const d = site({ "index.html": "good", _redirects: "/a /b 301\n" });
    await deploy(d, "strict");
    // PCRE limits capture names to 32 characters: this passes the parser but not `nginx -t`. (A
    // _redirects rule's placeholders are captured by position, so only a _headers path trips it.)
    const long = "p".repeat(40);
    writeFileSync(join(d, "_headers"), `/x/:${long}\n  X-A: b\n`);
    writeFileSync(join(d, "index.html"), "bad");
    const r = await c.sprout(["deploy", d, "--site", "strict", "--prod", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe("failed");
    expect(out.error).toContain("nginx rejects");
    const h = `strict.${c.domain}`;
    expect(await (await get("/", {}, h)).text()).toBe("good");
    expect((await get("/a", {}, h)).headers.get("location")).toBe("/b");
    expect((await get("/", {}, `${out.deployment_id}--${h}`)).status).toBe(404);
  });
});

describe("single-page apps", () => {
  test("spa: unknown paths get index.html, missing assets still 404; turning it off takes effect", async () => {
    expect((await c.sprout(["sites", "create", "spa-app", "--spa", "true"])).code).toBe(0);
    await deploy(site({ "index.html": "spa shell", "assets/app.js": "console.log(1)", "404.html": "nf" }), "spa-app");
    const h = `spa-app.${c.domain}`;
    const route = await get("/dashboard/settings", {}, h);
    expect([route.status, await route.text()]).toEqual([200, "spa shell"]);
    expect(await (await get("/assets/app.js", {}, h)).text()).toBe("console.log(1)");
    const missing = await get("/assets/missing.js", {}, h);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("nf");
    expect((await c.sprout(["sites", "set", "spa-app", "--spa", "false"])).code).toBe(0);
    let status = 0;
    for (let i = 0; i < 50 && status !== 404; i++) {
      await Bun.sleep(100);
      status = (await get("/dashboard/settings", {}, h)).status;
    }
    expect(status).toBe(404);
  });

  test("an explicit /* /index.html 200 rule behaves as on Netlify: files win, everything else gets index.html", async () => {
    await deploy(site({ "index.html": "shell", "main.js": "js", _redirects: "/*  /index.html  200\n" }), "spa2");
    const h = `spa2.${c.domain}`;
    expect(await (await get("/deep/route", {}, h)).text()).toBe("shell");
    expect(await (await get("/main.js", {}, h)).text()).toBe("js");
    const missing = await get("/missing.js", {}, h);
    expect([missing.status, await missing.text()]).toEqual([200, "shell"]);
  });
});

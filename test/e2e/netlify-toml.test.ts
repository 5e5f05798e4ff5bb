// netlify.toml: its [[redirects]] and [[headers]] serve a site as on Netlify, after _redirects and
// _headers, through the compiled CLI, agent and real nginx. The CLI takes the project's file (beside
// sprout.json or in the current folder) or the one in the folder deployed, sends only those tables
// (build settings and environment never leave the machine) and never publishes the file.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, site, tempDir, useCluster, type Cluster } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

const cl = useCluster();
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const get = (name: string, path: string, init: RequestInit = {}) => c.get(`${name}.${c.domain}`, path, undefined, init);
const deploy = async (name: string, dir: string, cwd?: string) => {
  const r = await c.sprout(["deploy", dir, "--site", name, "--prod", "--json"], {}, cwd);
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}):\n${r.stderr}\n${r.stdout}\n${c.logs()}`);
  return { ...(JSON.parse(r.stdout) as { deployment_id: string }), stderr: r.stderr };
};
/** rulesFile is the netlify.toml a node keeps for a deployment (beside, not in, its served tree). */
const rulesFile = (name: string, id: string) => join(c.nodes[0]!.data, "sites", name, "rules", id, "netlify.toml");

const TOML = `# A site's netlify.toml, as Netlify documents it
[build]
  command = "npm run build"
  publish = "dist"

[build.environment]
  API_SECRET = "do-not-ship-me"

[[redirects]]
  from = "/old-blog/*"
  to = "/blog/:splat"
  status = 302

[[redirects]]
  from = "/store"
  to = "/items/:id"
  query = {id = ":id"}
  status = 301

[[redirects]]
  from = "/app/*"
  to = "/app/index.html"
  status = 200

[[redirects]]
  from = "/home"
  to = "/"
  force = true

[[headers]]
  for = "/*"
  [headers.values]
    X-Frame-Options = "DENY"

[[headers]]
  for = "/assets/*"
  [headers.values]
    cache-control = '''
    public,
    max-age=31536000,
    immutable'''
    Link = ["</assets/a.css>; rel=preload; as=style", "</assets/b.js>; rel=preload; as=script"]
`;

describe("netlify.toml", () => {
  test("a site with only netlify.toml's redirects and headers is served by them, and the file itself is never served", async () => {
    const dir = site({ "index.html": "home", "blog/post.html": "post", "app/index.html": "the app", "assets/a.css": "body{}", "netlify.toml": TOML });
    const d = await deploy("tomlsite", dir);
    expect(d.stderr).toContain("Rules from netlify.toml (the folder deployed): 4 [[redirects]], 2 [[headers]]");
    const moved = await get("tomlsite", "/old-blog/post");
    expect(moved.status).toBe(302);
    expect(moved.headers.get("location")).toBe("/blog/post");
    const store = await get("tomlsite", "/store?id=42");
    expect(store.status).toBe(301);
    expect(store.headers.get("location")).toBe("/items/42");
    const app = await get("tomlsite", "/app/deep/link");
    expect(app.status).toBe(200);
    expect(await app.text()).toBe("the app");
    expect((await get("tomlsite", "/home")).headers.get("location")).toBe("/");
    const home = await get("tomlsite", "/");
    expect(home.headers.get("x-frame-options")).toBe("DENY");
    const css = await get("tomlsite", "/assets/a.css");
    expect(css.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(css.headers.get("link")).toBe("</assets/a.css>; rel=preload; as=style, </assets/b.js>; rel=preload; as=script");
    expect(css.headers.get("x-frame-options")).toBe("DENY");
    // Never a page: not at its path, not through a clean URL.
    for (const path of ["/netlify.toml", "/netlify"]) expect(await (await get("tomlsite", path)).text()).not.toContain("[[redirects]]");
    expect((await get("tomlsite", "/netlify.toml")).status).toBe(404);
    // The node got the rules only: the build settings and their secret stayed on this machine.
    const sent = readFileSync(rulesFile("tomlsite", d.deployment_id), "utf8");
    expect(sent).not.toContain("do-not-ship-me");
    expect(sent).not.toContain("npm run build");
    // Line for line, so the node's warnings name the user's lines.
    expect(sent.split("\n").indexOf("[[redirects]]")).toBe(TOML.split("\n").indexOf("[[redirects]]"));
    expect(Bun.spawnSync(["grep", "-rl", "do-not-ship-me", c.nodes[0]!.data]).stdout.toString()).toBe("");
  });

  test("the project's netlify.toml (beside the build folder, where Netlify reads it) is used when deploying dist/", async () => {
    const project = tempDir("sprout-project-");
    mkdirSync(join(project, "dist"));
    writeFileSync(join(project, "dist", "index.html"), "built");
    writeFileSync(join(project, "dist", "new.html"), "the new page");
    // Netlify reads the project's file; one in the build output is not published either way.
    writeFileSync(join(project, "dist", "netlify.toml"), `[[redirects]]\nfrom = "/old"\nto = "/from-dist"\n`);
    writeFileSync(join(project, "netlify.toml"), `[[redirects]]\nfrom = "/old"\nto = "/new"\nstatus = 301\n\n[[headers]]\nfor = "/*"\n[headers.values]\nX-From-Project = "yes"\n`);
    const d = await deploy("tomlproject", "dist", project);
    expect(d.stderr).toContain("Rules from netlify.toml (the project folder; the one in the folder deployed is not used)");
    expect((await get("tomlproject", "/old")).headers.get("location")).toBe("/new");
    expect((await get("tomlproject", "/")).headers.get("x-from-project")).toBe("yes");
    expect((await get("tomlproject", "/netlify.toml")).status).toBe(404);
  });

  test("_redirects rules come first and netlify.toml's after them, as on Netlify; _headers and [[headers]] both apply", async () => {
    const toml = `[[redirects]]\nfrom = "/both"\nto = "/from-toml"\n\n[[redirects]]\nfrom = "/toml-only"\nto = "/from-toml"\nstatus = 302\n\n[[headers]]\nfor = "/*"\n[headers.values]\nX-Toml = "1"\n`;
    const dir = site({ "index.html": "x", _redirects: "/both /from-file 301\n", _headers: "/*\n  X-File: 1\n", "netlify.toml": toml });
    await deploy("tomlorder", dir);
    expect((await get("tomlorder", "/both")).headers.get("location")).toBe("/from-file");
    const only = await get("tomlorder", "/toml-only");
    expect(only.status).toBe(302);
    expect(only.headers.get("location")).toBe("/from-toml");
    const home = await get("tomlorder", "/");
    expect(home.headers.get("x-file")).toBe("1");
    expect(home.headers.get("x-toml")).toBe("1");
  });

  test("a netlify.toml that is not valid TOML stops the deploy with its line, and the site keeps serving", async () => {
    await deploy("tomlbad", site({ "index.html": "v1" }));
    const bad = site({ "index.html": "v2", "netlify.toml": `[[redirects]]\nfrom = "/a"\nto = /b\n` });
    const r = await c.sprout(["deploy", bad, "--site", "tomlbad", "--prod"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("netlify.toml line 3");
    expect(r.stderr).toContain("is not valid TOML");
    expect(await (await get("tomlbad", "/")).text()).toBe("v1");
  });

  test("a node refuses to publish a deployment whose netlify.toml is not valid TOML (sent without the CLI)", async () => {
    const toml = `[[headers]]\nfor = "/admin/*"\n[headers.values]\nBasic-Auth = "alice:{SHA512-CRYPT}x\n`;
    const index = "raw";
    const manifest = [
      { path: "index.html", sha256: sha256(index), size: index.length },
      { path: "netlify.toml", sha256: sha256(toml), size: toml.length },
    ];
    const created = await api(c.master, "POST", "/api/deployment", { site: "tomlraw", production: true, manifest }, c.admin.token);
    expect(created.status).toBe(201);
    const { agent_url, grant } = created.body.upload;
    const id = created.body.deployment.id;
    const init = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: id, manifest });
    const tar = await makeTar([{ header: { name: "index.html" }, body: index }, { header: { name: "netlify.toml" }, body: toml }]);
    const up = await fetch(`${agent_url}/api/upload/file`, { method: "POST", headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": id }, body: tar as unknown as BodyInit });
    expect(up.status).toBe(422);
    const err = (await up.json()) as any;
    expect(err.error.code).toBe("rules_unsafe");
    expect(err.error.message).toContain("netlify.toml line 4: not valid TOML");
    expect((await get("tomlraw", "/")).status).toBe(404);
    expect(existsSync(join(c.nodes[0]!.data, "sites", "tomlraw", "deploys", id))).toBe(false);
  });

  test("a plain Basic-Auth password in a netlify.toml uploaded through the API is refused (use the CLI) and not kept", async () => {
    const toml = `[[headers]]\nfor = "/*"\n[headers.values]\nBasic-Auth = "dave:rawtomlsecret"\n`;
    const index = "raw";
    const manifest = [
      { path: "index.html", sha256: sha256(index), size: index.length },
      { path: "netlify.toml", sha256: sha256(toml), size: toml.length },
    ];
    const created = await api(c.master, "POST", "/api/deployment", { site: "tomlplain", production: true, manifest }, c.admin.token);
    const { agent_url, grant } = created.body.upload;
    const id = created.body.deployment.id;
    const init = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: id, manifest });
    const tar = await makeTar([{ header: { name: "index.html" }, body: index }, { header: { name: "netlify.toml" }, body: toml }]);
    const up = await fetch(`${agent_url}/api/upload/file`, { method: "POST", headers: { "x-upload-token": init.body.upload_token, "x-deployment-id": id }, body: tar as unknown as BodyInit });
    expect(up.status).toBe(422);
    const err = (await up.json()) as any;
    expect(err.error.code).toBe("plain_password");
    expect(err.error.message).toContain("netlify.toml");
    expect((await get("tomlplain", "/")).status).toBe(404);
    expect(Bun.spawnSync(["grep", "-rl", "rawtomlsecret", c.nodes[0]!.data]).stdout.toString()).toBe("");
  });

  test("a Role condition in netlify.toml fails the deploy naming its line; the gated content is never served", async () => {
    const toml = `[[redirects]]\nfrom = "/members/*"\nto = "/members/:splat"\nstatus = 200\nforce = true\nconditions = {Role = ["admin"]}\n\n[[redirects]]\nfrom = "/members/*"\nto = "/login"\nstatus = 401\nforce = true\n`;
    const r = await c.sprout(["deploy", site({ "index.html": "x", "members/secret.html": "gated content", "netlify.toml": toml }), "--site", "tomlrole", "--prod", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.error).toContain("netlify.toml line 1");
    expect(out.error).toContain("role-gated rules are not supported");
    expect(await (await c.get(`${out.deployment_id}--tomlrole.${c.domain}`, "/members/secret")).text()).not.toContain("gated content");
  });

  test("Basic-Auth in netlify.toml's [[headers]] protects its paths, and the password reaches the node only hashed", async () => {
    const toml = `[[headers]]\n  for = "/admin/*"\n  [headers.values]\n    Basic-Auth = "carol:tomlwonderland"\n    X-Admin = "yes"\n`;
    const d = await deploy("tomlauth", site({ "index.html": "public", "admin/index.html": "admin area", "netlify.toml": toml }));
    expect((await get("tomlauth", "/")).status).toBe(200);
    for (const path of ["/admin/", "/admin/index.html", "/admin/index.html.gz"]) expect((await get("tomlauth", path)).status).toBe(401);
    const ok = await get("tomlauth", "/admin/", { headers: { authorization: `Basic ${btoa("carol:tomlwonderland")}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("admin area");
    expect(ok.headers.get("x-admin")).toBe("yes");
    expect((await get("tomlauth", "/admin/", { headers: { authorization: `Basic ${btoa("carol:wrong")}` } })).status).toBe(401);
    expect(readFileSync(rulesFile("tomlauth", d.deployment_id), "utf8")).toContain("{SHA512-CRYPT}");
    expect(Bun.spawnSync(["grep", "-rl", "tomlwonderland", c.nodes[0]!.data]).stdout.toString()).toBe("");
  });

  test("unknown keys and rules Sprout cannot use are listed in the deploy log with their line; the rest is served", async () => {
    const toml = `[[redirects]]\nfrom = "/a"\nto = "/b"\ncolour = "blue"\n\n[[redirects]]\nfrom = "/geo"\nto = "/us"\nconditions = {Flavour = ["x"]}\n\n[[redirects]]\nfrom = "/c"\nto = "/d"\nstatus = 302\n`;
    const d = await deploy("tomlwarn", site({ "index.html": "x", "netlify.toml": toml }));
    expect(d.stderr).toContain('netlify.toml line 1: unknown key "colour" in [[redirects]] is ignored');
    expect(d.stderr).toContain('netlify.toml line 6 skipped: the condition "Flavour" is not supported');
    expect((await get("tomlwarn", "/a")).headers.get("location")).toBe("/b");
    expect((await get("tomlwarn", "/c")).headers.get("location")).toBe("/d");
    expect((await get("tomlwarn", "/geo")).status).toBe(404);
  });
});

import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SignJWT, importJWK } from "jose";
import { api, site, useCluster } from "../helpers/cluster";
import { sha256 } from "../helpers/tar";

/** SLOW: each test runs real processes on a shared machine; give it room whatever bunfig says. */
const SLOW = 60_000;

// Finding 13 of the security review: `sprout deploy` published dotfiles (`/.env` served to the world),
// and the raw API accepted them too.
const c = useCluster();

const folder = () =>
  site({
    "index.html": "<h1>home</h1>",
    ".env": "DATABASE_PASSWORD=hunter2",
    ".git/config": "[remote \"origin\"]\n\turl = git@example.com:me/secret.git\n",
    ".git/objects/ab/cdef": "blob",
    "assets/.DS_Store": "junk",
    "node_modules/x.js": "module.exports = 1;",
    "node_modules/pkg/node_modules/y.js": "module.exports = 2;",
    "assets/node_modules/z.js": "module.exports = 3;",
    ".well-known/security.txt": "Contact: mailto:security@example.com\n",
    ".sproutignore": "# drafts stay local\n*.draft.html\n!keep.draft.html\nprivate/\n",
    "notes.draft.html": "draft",
    "keep.draft.html": "kept on purpose",
    "private/plan.txt": "the plan",
    "assets/app.js": "console.log(1)",
  });

const LEFT_OUT = [".env", ".git/config", ".git/objects/ab/cdef", "assets/.DS_Store", "node_modules/x.js", "node_modules/pkg/node_modules/y.js", "assets/node_modules/z.js", ".sproutignore", "notes.draft.html", "private/plan.txt"];
const SERVED = { "/index.html": "<h1>home</h1>", "/.well-known/security.txt": "Contact: mailto:security@example.com\n", "/keep.draft.html": "kept on purpose", "/assets/app.js": "console.log(1)" };

describe("sprout deploy leaves out dotfiles, node_modules and .sproutignore patterns", () => {
  test("a folder with .env, .git, node_modules and ignored files serves only the site, and the CLI says how many it left out", async () => {
    const r = await c().sprout(["deploy", folder(), "--site", "dotty", "--prod", "--json"]);
    expect(r.code, r.stderr + c().logs()).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.files_total).toBe(Object.keys(SERVED).length);
    expect(out.files_ignored).toBe(LEFT_OUT.length);
    expect(r.stderr).toContain(`Left out ${LEFT_OUT.length} files`);
    const host = `dotty.${c().domain}`;
    for (const [path, body] of Object.entries(SERVED)) {
      const res = await c().get(host, path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(body);
    }
    for (const path of LEFT_OUT) {
      const res = await c().get(host, `/${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toMatch(/hunter2|secret\.git|module\.exports|the plan|draft$/);
    }
  }, SLOW);

  test("a symbolic link inside node_modules does not stop a deploy (it is left out, not refused)", async () => {
    const dir = site({ "index.html": "ok", "node_modules/real.js": "1" });
    Bun.spawnSync(["ln", "-s", "/etc/passwd", join(dir, "node_modules", "link.js")]);
    Bun.spawnSync(["ln", "-s", "/etc/passwd", join(dir, ".hidden-link")]);
    const r = await c().sprout(["deploy", dir, "--site", "linky", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files_ignored).toBe(3);
  }, SLOW);

  test("a folder with nothing but dotfiles is refused before anything is created", async () => {
    const before = await api(c().master, "GET", "/api/sites", undefined, c().admin.token);
    const r = await c().sprout(["deploy", site({ ".env": "SECRET=1", ".git/HEAD": "ref" }), "--site", "only-dots"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no files to deploy (2 left out");
    const after = await api(c().master, "GET", "/api/sites", undefined, c().admin.token);
    expect(after.body.length).toBe(before.body.length);
  }, SLOW);
});

describe("the raw API cannot publish a dotfile either", () => {
  const entry = (path: string) => ({ path, sha256: sha256("x"), size: 1 });

  for (const path of [".env", "a/.git/config", ".htpasswd", "assets/.DS_Store", ".well-known/.secret"]) {
    test(`POST /api/deployment with "${path}" is refused with bad_manifest and creates nothing`, async () => {
      const r = await api(c().master, "POST", "/api/deployment", { site: "raw-dots", manifest: [entry("index.html"), entry(path)] }, c().admin.token);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("bad_manifest");
      expect(r.body.error.message).toContain("dotfiles and dot-folders are never published");
      expect((await api(c().master, "GET", "/api/site/raw-dots", undefined, c().admin.token)).status).toBe(404);
    }, SLOW);
  }

  test("a .well-known file passes the master's check", async () => {
    const r = await api(c().master, "POST", "/api/deployment", { site: "raw-wk", manifest: [entry(".well-known/security.txt")] }, c().admin.token);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }, SLOW);

  test("a node refuses a dotfile even under a grant signed with the master's key", async () => {
    // Defence in depth: the agent runs the same checkManifest, so a master bug alone cannot publish one.
    const ok = await api(c().master, "POST", "/api/deployment", { site: "raw-node", manifest: [entry("index.html")] }, c().admin.token);
    expect(ok.status).toBe(201);
    const manifest = [entry(".env"), entry("index.html")];
    const db = new Database(join(c().home, "master", "sprout.db"), { readonly: true });
    const keys = JSON.parse((db.query("SELECT value FROM kv WHERE key = 'grant_keys'").get() as { value: string }).value);
    db.close();
    const h = new Bun.CryptoHasher("sha256");
    for (const e of manifest) h.update(`${e.path}\0${e.sha256}\0${e.size}\n`);
    const owner = (await api(c().master, "GET", "/api/user/info", undefined, c().admin.token)).body.id;
    const grant = await new SignJWT({ site: "raw-node", deployment_id: ok.body.deployment.id, agent_id: c().nodes[0]!.id, manifest_digest: h.digest("hex"), production: false, owner, typ: "sprout-upload-grant" })
      .setProtectedHeader({ alg: "EdDSA" })
      .setExpirationTime("5m")
      .sign(await importJWK(JSON.parse(keys.privateJwk), "EdDSA"));
    const init = await api(ok.body.upload.agent_url, "POST", "/api/upload/init", { grant, deployment_id: ok.body.deployment.id, manifest });
    expect(init.status).toBe(400);
    expect(init.body.error.code).toBe("bad_manifest");
  }, SLOW);
});

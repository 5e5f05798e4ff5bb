// The Lua rules engine (issue: flat cost at 10,000 sites): nginx reads a deployment's compiled rules
// at request time, so every site is served by the same server and a rules deploy reloads nothing
// (rules.test.ts and netlify-parity.test.ts run on it). Here: a node moving from the include engine
// (shards) to it, and a deployment whose compiled rules cannot be read. Real agent, real nginx.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, cluster, restartAgent, site, type Cluster } from "../helpers/cluster";

/** c: a node on the Lua engine (every test but the first, which makes its own). */
let c: Cluster;

beforeAll(async () => {
  c = await cluster({ agentArgs: ["--rules-engine", "lua", "--allow-private-proxy"] });
});
afterAll(cleanup);

const deploy = async (name: string, files: Record<string, string>, prod = true) => {
  const r = await c.sprout(["deploy", site(files), "--site", name, ...(prod ? ["--prod"] : []), "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}\n${c.logs()}`);
  return JSON.parse(r.stdout) as { deployment_id: string };
};
const location = async (host: string, path: string) => (await c.get(host, path)).headers.get("location");
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("nginx");
  } catch {
    return false;
  }
};

test("a node moved from shards to the Lua engine serves every site's rules as before and stops its shards", async () => {
  const lua = c;
  // The include engine first, one site per shard: beta gets a shard nginx of its own.
  c = await cluster({ agentArgs: ["--rules-engine", "nginx", "--sites-per-shard", "1"] });
  try {
    await moveEngines();
  } finally {
    await c.stop();
    c = lua;
  }
});

async function moveEngines() {
  await deploy("alpha", { "index.html": "a", _redirects: "/go /one 301\n" });
  await deploy("beta", { "index.html": "b", _redirects: "/go /two 301\n" });
  const data = c.nodes[0]!.data;
  const shardPidFile = join(data, "nginx", "shards", "1", "nginx.pid");
  expect(existsSync(shardPidFile)).toBe(true);
  const shardPid = Number(readFileSync(shardPidFile, "utf8").trim());
  expect(alive(shardPid)).toBe(true);
  expect(await location(`beta.${c.domain}`, "/go")).toBe("/two");

  await c.nodes[0]!.p.kill();
  await restartAgent(c, 0, ["--rules-engine", "lua"]);
  expect(await location(`alpha.${c.domain}`, "/go")).toBe("/one");
  expect(await location(`beta.${c.domain}`, "/go")).toBe("/two");
  expect(alive(shardPid)).toBe(false);
  expect(existsSync(join(data, "nginx", "shards", "1"))).toBe(false);
  const conf = readFileSync(join(data, "nginx", "nginx.conf"), "utf8");
  expect(conf).toContain("sprout.request()");
  expect(conf).not.toContain("sprout_shard_");
}

test("a deployment whose compiled rules cannot be read answers 503, never its files without their Basic-Auth", async () => {
  await deploy("guarded", { "index.html": "secret page", _headers: "/*\n  Basic-Auth: alice:wonderland\n" });
  const host = `guarded.${c.domain}`;
  expect((await c.get(host, "/")).status).toBe(401);
  // A preview with other rules: its compiled file is new, so no worker has read it yet.
  const preview = await deploy("guarded", { "index.html": "secret page 2", _headers: "/*\n  Basic-Auth: alice:wonderland\n  X-Preview: yes\n" }, false);
  const dir = join(c.nodes[0]!.data, "sites", "guarded", "lua");
  const file = join(dir, readlinkSync(join(dir, preview.deployment_id)));
  const ph = `${preview.deployment_id}--${host}`;
  chmodSync(file, 0o000);
  try {
    const r = await c.get(ph, "/");
    expect(r.status).toBe(503);
    expect(await r.text()).not.toContain("secret page");
  } finally {
    chmodSync(file, 0o640);
  }
  // Readable again: the engine tries again (a failure is not remembered).
  expect((await c.get(ph, "/")).status).toBe(401);
  const ok = await c.get(ph, "/", undefined, { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } });
  expect(ok.status).toBe(200);
  expect(ok.headers.get("x-preview")).toBe("yes");
});

test("a site with a thousand long rules deploys and serves every one (its combined test is split under PCRE's size limit)", async () => {
  // About 400 KB of patterns: over what PCRE compiles as one regex.
  const long = "archived-".repeat(40);
  const lines = Array.from({ length: 1000 }, (_, k) => `/documentation/${long}${k}/* /moved-${k}/:splat 301`).join("\n");
  await deploy("many", { "index.html": "many", _redirects: `${lines}\n` });
  const host = `many.${c.domain}`;
  expect(await location(host, `/documentation/${long}999/x`)).toBe("/moved-999/x");
  expect(await location(host, `/documentation/${long}0/`)).toBe("/moved-0/");
  expect((await c.get(host, "/")).status).toBe(200);
  expect((await c.get(host, `/documentation/${long}1000/x`)).status).toBe(404);
});

test("a deployment without its link to compiled rules answers 503 (never served as if it had none); a plain site has a link to none", async () => {
  const plain = await deploy("plainsite", { "index.html": "plain" });
  const dir = join(c.nodes[0]!.data, "sites", "plainsite", "lua");
  expect(readlinkSync(join(dir, plain.deployment_id))).toBe("none");
  expect(await (await c.get(`plainsite.${c.domain}`, "/")).text()).toBe("plain");
  const guarded = await deploy("guarded2", { "index.html": "secret", _headers: "/*\n  Basic-Auth: alice:wonderland\n" });
  const link = join(c.nodes[0]!.data, "sites", "guarded2", "lua", guarded.deployment_id);
  const target = readlinkSync(link);
  rmSync(link);
  try {
    const r = await c.get(`guarded2.${c.domain}`, "/");
    expect(r.status).toBe(503);
    expect(await r.text()).not.toContain("secret");
  } finally {
    symlinkSync(target, link);
  }
  expect((await c.get(`guarded2.${c.domain}`, "/")).status).toBe(401);
});

test("_headers lines are added to what the answer has, as add_header does: a proxied site's cookies stay, names of any case all go out", async () => {
  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => new Response("from upstream", { headers: { "set-cookie": "session=abc", "x-robots-tag": "upstream" } }),
  });
  try {
    await deploy("proxied", {
      "index.html": "home",
      "blog/post.html": "post",
      _redirects: `/api/* http://127.0.0.1:${upstream.port}/:splat 200\n`,
      _headers: "/*\n  Set-Cookie: consent=1\n  X-Robots-Tag: all\n/blog/*\n  x-robots-tag: noindex\n",
    });
    const api = await c.get(`proxied.${c.domain}`, "/api/x");
    expect(await api.text()).toBe("from upstream");
    expect(api.headers.getSetCookie().sort()).toEqual(["consent=1", "session=abc"]);
    const blog = await c.get(`proxied.${c.domain}`, "/blog/post");
    const tags = (blog.headers.get("x-robots-tag") ?? "").split(/,\s*/).sort();
    expect(tags).toEqual(["all", "noindex"]);
  } finally {
    upstream.stop(true);
  }
});

/** bodiesGuarded: a 4xx rule whose target is behind Basic-Auth answers 401 without the password. */
async function bodiesGuarded() {
  await deploy("bodies", {
    "index.html": "home",
    "private/report.html": "private report",
    "gone.html": "this page is gone",
    _redirects: "/oops /private/report 404\n/old /gone 410\n",
    _headers: "/private/*\n  Basic-Auth: alice:wonderland\n",
  });
  const host = `bodies.${c.domain}`;
  const anonymous = await c.get(host, "/oops");
  expect(anonymous.status).toBe(401);
  expect(await anonymous.text()).not.toContain("private report");
  const allowed = await c.get(host, "/oops", undefined, { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } });
  expect(allowed.status).toBe(404);
  expect(await allowed.text()).toBe("private report");
  const gone = await c.get(host, "/old");
  expect(gone.status).toBe(410);
  expect(await gone.text()).toBe("this page is gone");
}

test("a 404 rule's body is guarded by its target's Basic-Auth (the resource served), not left open by the path asked for", bodiesGuarded);

test("a single-page app's fallback serves index.html under the root's Basic-Auth and headers, not those of the path asked for", async () => {
  expect((await c.sprout(["sites", "create", "spashell", "--spa", "true"])).code).toBe(0);
  await deploy("spashell", {
    "index.html": "spa shell",
    "public.html": "public page",
    _headers: "/\n  Basic-Auth: alice:wonderland\n  X-Shell: yes\n/dashboard/*\n  X-Dashboard: yes\n",
  });
  const host = `spashell.${c.domain}`;
  expect((await c.get(host, "/")).status).toBe(401);
  expect((await c.get(host, "/index.html")).status).toBe(401);
  expect(await (await c.get(host, "/public")).text()).toBe("public page");
  // An unknown path gets index.html: the root's resource, so the root's Basic-Auth.
  const route = await c.get(host, "/dashboard/settings");
  expect(route.status).toBe(401);
  expect(await route.text()).not.toContain("spa shell");
  const allowed = await c.get(host, "/dashboard/settings", undefined, { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } });
  expect([allowed.status, await allowed.text()]).toEqual([200, "spa shell"]);
  expect(allowed.headers.get("x-shell")).toBe("yes");
  expect(allowed.headers.get("x-dashboard")).toBeNull();
});

test("an agent killed hard and started again leaves no unfinished rules checks nor sockets where older versions had them", async () => {
  await deploy("leftovers", { "index.html": "still here", _redirects: "/a /b 301\n" });
  const node = c.nodes[0]!;
  const prefix = join(node.data, "nginx");
  // What a kill during a rules check leaves (the check's files are named after the agent's pid),
  // and an older version's socket left by its nginx killed hard.
  writeFileSync(join(prefix, "rules-check-4242-7.conf"), "events {}\n");
  writeFileSync(join(prefix, "hop.sock"), "");
  await node.p.kill("SIGKILL");
  await restartAgent(c, 0, ["--rules-engine", "lua", "--allow-private-proxy"]);
  expect(readdirSync(prefix).filter((f) => f.startsWith("rules-check-") || f === "hop.sock")).toEqual([]);
  expect(await (await c.get(`leftovers.${c.domain}`, "/")).text()).toBe("still here");
  expect(await location(`leftovers.${c.domain}`, "/a")).toBe("/b");
});

test("on the include engine too, a 4xx rule's body and a single-page app's index.html are guarded by their own Basic-Auth", async () => {
  const lua = c;
  c = await cluster({ agentArgs: ["--rules-engine", "nginx"] });
  try {
    expect((await c.sprout(["sites", "create", "guardedspa", "--spa", "true"])).code).toBe(0);
    await deploy("guardedspa", {
      "index.html": "spa shell",
      "secret.html": "the secret",
      "public.html": "public page",
      _redirects: "/gone /secret 410\n",
      _headers: "/\n  Basic-Auth: alice:wonderland\n/secret\n  Basic-Auth: alice:wonderland\n",
    });
    const host = `guardedspa.${c.domain}`;
    const auth = { headers: { authorization: `Basic ${btoa("alice:wonderland")}` } };
    expect(await (await c.get(host, "/public")).text()).toBe("public page");
    for (const path of ["/gone", "/dashboard/settings"]) {
      const anonymous = await c.get(host, path);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.text()).not.toMatch(/the secret|spa shell/);
    }
    const gone = await c.get(host, "/gone", undefined, auth);
    expect([gone.status, await gone.text()]).toEqual([410, "the secret"]);
    const route = await c.get(host, "/dashboard/settings", undefined, auth);
    expect([route.status, await route.text()]).toEqual([200, "spa shell"]);
  } finally {
    await c.stop();
    c = lua;
  }
});

test("a visitor who asks for the engine's internal status locations gets a 404, not a server error", async () => {
  await deploy("statusprobe", { "index.html": "home", "404.html": "not here", _redirects: "/gone /home 410\n" });
  await deploy("statusplain", { "index.html": "plain" });
  for (const host of [`statusprobe.${c.domain}`, `statusplain.${c.domain}`])
    for (const path of ["/__sprout_status_404", "/__sprout_status_410", "/__sprout_status_404?x=1"]) expect([path, (await c.get(host, path)).status]).toEqual([path, 404]);
  expect((await c.get(`statusprobe.${c.domain}`, "/gone")).status).toBe(410);
});

// With --rules-engine nginx (a node whose nginx has no Lua module), sites with rules of their own
// are served by shards (issue: flat cost at 10,000 sites): the first
// ones by the main nginx itself (shard 0), the next ones by nginx shards of their own behind it. A
// rules deploy reloads only its site's shard; shards that die come back; sites move in and out.
// Real agent, real nginx processes, observed through /proc as an operator would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { api, childPids, cleanup, cluster, killNginxAt, site, type Cluster } from "../helpers/cluster";

let c: Cluster;

// One site per shard here (--sites-per-shard 1), so each site below has a shard of its own, in the
// order they first bring rules: alpha -> 0 (the main nginx), beta -> 1, gamma -> 2, lone -> 3.
const names = { a: "alpha", b: "beta", g: "gamma", lone: "lone" };
const shardOf = (name: string) => ({ alpha: 0, beta: 1, gamma: 2, lone: 3 })[name]!;

const pidFile = (shard: number) => join(c.nodes[0]!.data, "nginx", ...(shard === 0 ? [] : ["shards", String(shard)]), "nginx.pid");
const masterPid = (shard: number) => (existsSync(pidFile(shard)) ? Number(readFileSync(pidFile(shard), "utf8").trim()) : 0);
/** workers lists the worker pids of a shard's nginx (0: the main nginx), from /proc. */
const workers = (shard: number) => childPids(masterPid(shard)).sort();
const running = (shard: number) => {
  const pid = masterPid(shard);
  try {
    return pid > 1 && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("nginx: master");
  } catch {
    return false;
  }
};
const deploy = async (name: string, files: Record<string, string>) => {
  const r = await c.sprout(["deploy", site(files), "--site", name, "--prod", "--json"]);
  if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}\n${c.logs()}`);
};
const location = async (name: string, path: string) => (await c.get(`${name}.${c.domain}`, path)).headers.get("location");
const waitFor = async (what: string, ok: () => Promise<boolean> | boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${c.logs()}`);
    await Bun.sleep(100);
  }
};

beforeAll(async () => {
  c = await cluster({ agentArgs: ["--rules-engine", "nginx", "--sites-per-shard", "1"] });
  await deploy(names.a, { "index.html": "a", _redirects: "/go /one 301\n" });
  await deploy(names.b, { "index.html": "b", _headers: "/*\n  X-Site: b\n" });
  await deploy(names.g, { "index.html": "g", _redirects: "/go /gamma 302\n" });
  await deploy("plainsite", { "index.html": "plain" });
});
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

describe("nginx shards", () => {
  test("the first site with rules is served by the main nginx, the next ones by shards of their own; a plain site by the main nginx", async () => {
    expect(await location(names.a, "/go")).toBe("/one");
    expect((await c.get(`${names.b}.${c.domain}`, "/")).headers.get("x-site")).toBe("b");
    expect(await location(names.g, "/go")).toBe("/gamma");
    expect(await (await c.get(`plainsite.${c.domain}`, "/")).text()).toBe("plain");
    expect(running(1)).toBe(true);
    expect(running(2)).toBe(true);
    expect(existsSync(join(c.nodes[0]!.data, "nginx", "sites", `${names.a}.conf`))).toBe(true);
    const main = readFileSync(join(c.nodes[0]!.data, "nginx", "nginx.conf"), "utf8");
    expect(main).not.toContain(`${names.a} sprout_shard_`);
    expect(main).toContain(`${names.b} sprout_shard_1;`);
    expect(main).toContain(`${names.g} sprout_shard_2;`);
    expect(main).not.toContain("plainsite");
  });

  test("a deploy that changes a shard's site's rules reloads that shard only: the main nginx and the other shard keep their workers", async () => {
    const before = { main: workers(0), b: workers(1), g: workers(2) };
    expect(before.main.length).toBeGreaterThan(0);
    expect(before.b.length).toBe(1);
    await deploy(names.b, { "index.html": "b2", _headers: "/*\n  X-Site: b2\n" });
    expect((await c.get(`${names.b}.${c.domain}`, "/")).headers.get("x-site")).toBe("b2");
    expect(workers(0)).toEqual(before.main);
    expect(workers(2)).toEqual(before.g);
    expect(workers(1)).not.toEqual(before.b);
  });

  test("a deploy that changes the rules of a site the main nginx serves leaves the shards alone", async () => {
    const before = { b: workers(1), g: workers(2) };
    await deploy(names.a, { "index.html": "a2", _redirects: "/go /two 301\n" });
    expect(await location(names.a, "/go")).toBe("/two");
    expect(workers(1)).toEqual(before.b);
    expect(workers(2)).toEqual(before.g);
  });

  test("a shard killed hard is started again and serves its sites", async () => {
    const sg = shardOf(names.g);
    const pid = masterPid(sg);
    killNginxAt(pidFile(sg));
    await waitFor("the shard to come back", async () => masterPid(sg) !== pid && running(sg) && (await location(names.g, "/go").catch(() => null)) === "/gamma");
    // The main nginx was not touched.
    expect(await (await c.get(`plainsite.${c.domain}`, "/")).text()).toBe("plain");
  });

  test("a deleted site leaves its shard, and a shard left with no site stops", async () => {
    await deploy(names.lone, { "index.html": "lone", _redirects: "/x /y 302\n" });
    const sl = shardOf(names.lone);
    expect(await location(names.lone, "/x")).toBe("/y");
    expect(running(sl)).toBe(true);
    const del = await api(c.master, "DELETE", `/api/site/${names.lone}`, undefined, c.admin.token);
    expect(del.status).toBeLessThan(300);
    await waitFor("the shard to stop", () => !running(sl));
    expect(readFileSync(join(c.nodes[0]!.data, "nginx", "nginx.conf"), "utf8")).not.toContain(`${names.lone} sprout_shard_`);
    expect((await c.get(`${names.lone}.${c.domain}`, "/x")).status).toBe(404);
    // The other shards serve on.
    expect(await location(names.a, "/go")).toBe("/two");
  });

  test("flags that reach nginx's configuration take only plain values", async () => {
    for (const [flag, value, said] of [
      ["--trusted-proxies", "10.0.0.1; include /etc/passwd", "--trusted-proxies:"],
      ["--trusted-proxies", "10.0.0.1 10.0.0.2", "--trusted-proxies:"],
      ["--geoip-country", "/tmp/x.dat;evil", "--geoip-country must be an absolute path"],
      ["--sites-per-shard", "0", "--sites-per-shard must be at least 1"],
      ["--rules-engine", "php", "--rules-engine must be auto, lua or nginx"],
    ]) {
      const r = await c.sprout(["agent", "--master", c.master, "--token", "x", flag!, value!]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(said!);
    }
  });
});

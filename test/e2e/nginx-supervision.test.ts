// The agent owns its nginx by pid and by port (cluster issue): after nginx's master is killed hard,
// or after the agent itself is killed while its nginx runs on, the agent's new nginx takes the port,
// and rules deployed afterwards are really applied.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api, restartAgent, site, useCluster, type Cluster } from "../helpers/cluster";

const cluster = useCluster();

const pidOf = (c: Cluster) => Number(readFileSync(join(c.nodes[0]!.data, "nginx", "nginx.pid"), "utf8").trim());
const deploy = async (c: Cluster, files: Record<string, string>) => {
  const r = await c.sprout(["deploy", site(files), "--site", "sup", "--prod", "--json"]);
  if (r.code !== 0) throw new Error(r.stdout + r.stderr);
};
const until = async (what: string, f: () => Promise<boolean> | boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(100);
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("nginx supervision", () => {
  test("after nginx's master is killed hard, a new nginx serves and new rules apply", async () => {
    const c = cluster();
    await deploy(c, { "index.html": "v1" });
    const old = pidOf(c);
    process.kill(old, "SIGKILL");
    await until("a new nginx master", () => {
      try {
        const pid = pidOf(c);
        return pid !== old && alive(pid);
      } catch {
        return false;
      }
    });
    await deploy(c, { "index.html": "v2", _redirects: "/old /new 301\n" });
    const r = await c.get(`sup.${c.domain}`, "/old");
    expect([r.status, r.headers.get("location")]).toEqual([301, "/new"]);
    const hb = await api(c.nodes[0]!.url, "GET", "/api/heartbeat", undefined, c.nodes[0]!.token);
    expect(hb.body.system.nginx).toBe("running");
  });

  test("an agent killed hard and started again takes over from the nginx it left running", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    const before = pidOf(c);
    await node.p.kill("SIGKILL");
    expect(alive(before)).toBe(true);
    await restartAgent(c, 0);
    await until("the left-over nginx stopped", () => !alive(before));
    await until("node online", async () => (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.id === node.id && a.status === "online"));
    await deploy(c, { "index.html": "v3", _redirects: "/older /newer 302\n" });
    const r = await c.get(`sup.${c.domain}`, "/older");
    expect([r.status, r.headers.get("location")]).toEqual([302, "/newer"]);
    expect(await (await c.get(`sup.${c.domain}`, "/")).text()).toBe("v3");
  });
});

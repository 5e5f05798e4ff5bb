// Self-healing replicas (cluster issue): a site keeps its replica count. Raising the count copies it
// to more nodes; a node that stays down has its sites copied to the nodes that are up, from a peer.
import { describe, expect, test } from "bun:test";
import { api, killNginx, site, useCluster, type Cluster } from "../helpers/cluster";

// Nodes are down after 3 s of silence and healed around after 2 s more, so the test stays short.
const cluster = useCluster({ agents: 3, masterArgs: ["--offline-after", "3", "--heal-after", "2"] });

const served = async (c: Cluster, name: string, i: number) => {
  const r = await c.get(`${name}.${c.domain}`, "/", c.nodes[i]!).catch(() => null);
  return r ? await r.text() : "(down)";
};
const until = async (what: string, f: () => Promise<boolean>, ms = 40_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(250);
  }
};
const info = async (c: Cluster, name: string) => (await api(c.master, "GET", `/api/site/${name}`, undefined, c.admin.token)).body;

describe("replicas", () => {
  test("a site lives on two nodes by default; raising its count copies it to a third", async () => {
    const c = cluster();
    expect((await c.sprout(["deploy", site({ "index.html": "wide" }), "--site", "wide", "--prod"])).code).toBe(0);
    const s = await info(c, "wide");
    expect(s.replicas).toBe(2);
    expect(s.nodes.length).toBe(2);
    expect((await c.sprout(["sites", "set", "wide", "--replicas", "3"])).code).toBe(0);
    await until("all three nodes serve it", async () => (await Promise.all([0, 1, 2].map((i) => served(c, "wide", i)))).every((t) => t === "wide"));
    const shown = await c.sprout(["sites", "wide"]);
    expect(shown.code).toBe(0);
    for (const n of c.nodes) expect(shown.stdout).toContain(n.name);
  });

  test("when a node holding a site stays down, the site gets a new replica on a node that is up", async () => {
    const c = cluster();
    expect((await c.sprout(["deploy", site({ "index.html": "kept alive" }), "--site", "healme", "--prod"])).code).toBe(0);
    const holders: string[] = (await info(c, "healme")).nodes.map((n: any) => n.name);
    expect(holders.length).toBe(2);
    const victim = c.nodes.find((n) => n.name === holders[0])!;
    const spare = c.nodes.findIndex((n) => !holders.includes(n.name));
    expect(await served(c, "healme", spare)).not.toBe("kept alive");
    await victim.p.kill("SIGKILL");
    killNginx(victim.data);
    await until("the spare node serves the site", async () => (await served(c, "healme", spare)) === "kept alive");
    // The spare serves before its report reaches the master, so the master's record may lag a moment.
    const upToDate = async () => (await info(c, "healme")).nodes.filter((n: any) => n.status === "online" && n.up_to_date).length;
    await until("the master records two up-to-date replicas", async () => (await upToDate()) === 2, 10_000);
    expect(await upToDate()).toBe(2);
  });
});

// The master's record is what every node serves (cluster issue): parallel activations of different
// sites do not overwrite each other, a re-sent activation never moves a node backwards, and a node
// that was down during a deploy and a rollback catches up when it returns. Real master, two agents
// with their own nginx; nodes are killed with SIGKILL as an operator's mistake or a crash would.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { api, killNginx, restartAgent, site, useCluster, type Cluster, type Node } from "../helpers/cluster";

// A node silent for 3 s is down, so the tests need not wait the default 15 s.
const cluster = useCluster({ agents: 2, masterArgs: ["--offline-after", "3"] });

const deploy = async (c: Cluster, name: string, body: string, extra: string[] = []) => {
  const r = await c.sprout(["deploy", site({ "index.html": body }), "--site", name, "--prod", "--json", ...extra]);
  if (r.code !== 0) throw new Error(`deploy ${name}: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as { deployment_id: string };
};
const served = async (c: Cluster, name: string, node: Node) => {
  const r = await c.get(`${name}.${c.domain}`, "/", node).catch(() => null);
  return r ? await r.text() : "(down)";
};
const production = async (c: Cluster, name: string) => (await api(c.master, "GET", `/api/site/${name}`, undefined, c.admin.token)).body.production_deployment_id as string | null;
const until = async (what: string, f: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(200);
  }
};

describe("the master's record is what every node serves", () => {
  test("parallel production deploys of different sites all end live, in the database and on both nodes", async () => {
    const c = cluster();
    const names = Array.from({ length: 8 }, (_, i) => `par${i}`);
    const results = await Promise.all(names.map((n) => deploy(c, n, `hello ${n}`)));
    for (const [i, n] of names.entries()) {
      expect(await production(c, n)).toBe(results[i]!.deployment_id);
      for (const node of c.nodes) expect(await served(c, n, node)).toBe(`hello ${n}`);
    }
  });

  test("a re-sent activation of an older deployment does not move a node backwards", async () => {
    const c = cluster();
    const a = await deploy(c, "resend", "version A");
    await deploy(c, "resend", "version C");
    // The master re-sends "activate A" (say its answer was lost when the master was killed) after C
    // went live: the task row is written as the master would write it, with A's old generation.
    const db = new Database(join(c.home, "master", "sprout.db"));
    const task = { kind: "activate", site: "resend", deployment_id: a.deployment_id, generation: 1 };
    const at = new Date().toISOString();
    db.query("INSERT INTO tasks (id, agent_id, kind, payload, status, attempts, created_at, updated_at) VALUES (?, ?, 'activate', ?, 'pending', 0, ?, ?)")
      .run("resent" + Date.now().toString(36), c.nodes[0]!.id, JSON.stringify(task), at, at);
    db.close();
    // Any new task for the node wakes its long poll, which then takes the re-sent one too.
    expect((await c.sprout(["sites", "set", "resend", "--spa", "false"])).code).toBe(0);
    await Bun.sleep(1500);
    for (const node of c.nodes) expect(await served(c, "resend", node)).toBe("version C");
  });

  test("a node down during a deploy and a rollback catches up when it returns; the deploy does not wait for it", async () => {
    const c = cluster();
    await deploy(c, "away", "one");
    const second = await deploy(c, "away", "two");
    const node = c.nodes[1]!;
    await node.p.kill("SIGKILL");
    killNginx(node.data);
    await until("node2 offline", async () => (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.id === node.id && a.status === "offline"));
    const third = await deploy(c, "away", "three");
    expect(await served(c, "away", c.nodes[0]!)).toBe("three");
    expect((await c.sprout(["rollback", "--site", "away"])).code).toBe(0);
    await until("rollback live", async () => (await production(c, "away")) === second.deployment_id);
    expect(await served(c, "away", c.nodes[0]!)).toBe("two");
    // The node returns with the same data, ports and token; it was serving "two" when it died.
    await restartAgent(c, 1);
    // Deploy once more while it is back: both nodes must end on the newest production.
    await until("node2 back online", async () => (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.id === node.id && a.status === "online"));
    const fourth = await deploy(c, "away", "four");
    expect(await production(c, "away")).toBe(fourth.deployment_id);
    await until("node2 serves four", async () => (await served(c, "away", c.nodes[1]!)) === "four");
    expect(await served(c, "away", c.nodes[0]!)).toBe("four");
    expect(third.deployment_id).not.toBe(fourth.deployment_id);
  });

  test("a node that missed a rollback while down serves the rolled-back production when it returns", async () => {
    const c = cluster();
    const first = await deploy(c, "missed", "first");
    await deploy(c, "missed", "second");
    const node = c.nodes[1]!;
    await node.p.kill("SIGKILL");
    killNginx(node.data);
    await until("node2 offline", async () => (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body.some((a: any) => a.id === node.id && a.status === "offline"));
    expect((await c.sprout(["rollback", "--site", "missed"])).code).toBe(0);
    await until("rollback live", async () => (await production(c, "missed")) === first.deployment_id);
    await restartAgent(c, 1);
    await until("node2 serves the rolled-back production", async () => (await served(c, "missed", c.nodes[1]!)) === "first");
  });
});

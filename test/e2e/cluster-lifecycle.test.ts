// Node lifecycle (cluster issue, item 9): nodes can be drained, removed and have their token
// rotated; an agent advertises a URL others can reach; `agents create` prints a command that works on
// another machine with the token in a file; measures of a node that is down are shown as stale.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { api, freePort, killNginx, site, sproutBinary, start, tempDir, useCluster, type Cluster, type Node } from "../helpers/cluster";

// Nodes are down after 3 s of silence and healed around after 2 s more, so the tests stay short.
const cluster = useCluster({ agents: 3, masterArgs: ["--offline-after", "3", "--heal-after", "2"] });

const until = async (what: string, f: () => Promise<boolean>, ms = 45_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(250);
  }
};
const siteInfo = async (c: Cluster, name: string) => (await api(c.master, "GET", `/api/site/${name}`, undefined, c.admin.token)).body;
const holders = async (c: Cluster, name: string): Promise<string[]> => (await siteInfo(c, name)).nodes.map((n: any) => n.name);
const agentsList = async (c: Cluster): Promise<any[]> => (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
const served = async (c: Cluster, name: string, node: Node) => {
  const r = await c.get(`${name}.${c.domain}`, "/", node).catch(() => null);
  return r ? await r.text() : "(down)";
};
const heartbeat = (c: Cluster, token: string, url = "http://127.0.0.1:1") =>
  api(c.master, "POST", "/api/agent/heartbeat", { version: "test", url, http_url: "http://127.0.0.1:2", system: { cpu_percent: 0, cpus: 1, load: [0, 0, 0], mem_total: 1, mem_free: 1, disk_total: 1, disk_free: 1, nginx: "running", nginx_reloads: 0, uptime: 1, sites: 0 } }, token);
const masterRows = (c: Cluster, query: string, ...args: string[]) => {
  const db = new Database(join(c.home, "master", "sprout.db"), { readonly: true });
  try {
    return db.query(query).all(...args) as any[];
  } finally {
    db.close();
  }
};
/** restartAgent starts a stopped node again on its ports and folder, with `token`. */
async function restartAgent(c: Cluster, node: Node, token: string) {
  killNginx(node.data);
  const { p } = await start(
    `agent ${node.name} (again)`,
    ["agent", "--master", c.master, "--name", node.name, "--listen", new URL(node.url).host, "--http-listen", new URL(node.httpUrl).host, "--data", node.data],
    { SPROUT_AGENT_TOKEN: token },
    /nginx serving on/,
  );
  node.p = p;
  node.token = token;
}

describe("node lifecycle", () => {
  test("a rotated token: the old one stops at once, the new one is printed as an env-file line and works", async () => {
    const c = cluster();
    const node = c.nodes[2]!;
    const r = await c.sprout(["agents", "rotate-token", node.name]);
    expect(r.code).toBe(0);
    const line = r.stdout.match(/^SPROUT_AGENT_TOKEN=(spa_\S+)$/m);
    expect(line).not.toBeNull();
    expect((await heartbeat(c, node.token)).status).toBe(401);
    // The running agent stops on its next call; started again with the new line, it is back.
    await Promise.race([node.p.proc.exited, Bun.sleep(10_000)]);
    await node.p.kill();
    await restartAgent(c, node, line![1]!);
    await until("the node is online with its new token", async () => (await agentsList(c)).some((a) => a.name === node.name && a.status === "online"));
  });

  test("a node listening on 0.0.0.0 needs --public-url, and the master refuses to publish an unreachable URL", async () => {
    const c = cluster();
    const r = await c.sprout(["agent", "--master", c.master, "--token", "spa_x", "--listen", `0.0.0.0:${freePort()}`, "--data", tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--public-url");
    const created = await api(c.master, "POST", "/api/agent", { name: "wildcard" }, c.admin.token);
    const hb = await heartbeat(c, created.body.token, "http://0.0.0.0:7070");
    expect(hb.status).toBe(400);
    expect(hb.body.error.code).toBe("unreachable_url");
    expect(hb.body.error.hint).toContain("--public-url");
    expect((await agentsList(c)).find((a) => a.name === "wildcard").url).toBeNull();
    await api(c.master, "DELETE", "/api/agent/wildcard", undefined, c.admin.token);
  });

  test("`agents create` prints an env file and a command without the token that starts a working agent; a loopback master is warned about", async () => {
    const c = cluster();
    const port = freePort();
    const r = await c.sprout(["agents", "create", "remote", "--url", `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*127\.0\.0\.1.*--master-url/);
    const token = r.stdout.match(/^SPROUT_AGENT_TOKEN=(spa_\S+)$/m)![1]!;
    const command = r.stdout.split("\n").find((l) => l.includes("sprout agent"))!.trim();
    expect(command).not.toContain(token);
    // As on another machine: the printed lines in a file (only the data folder and the site port are
    // this test's own), and the printed command run as it is.
    const dir = tempDir();
    const envFile = join(dir, "agent.env");
    const lines = r.stdout
      .split("\n")
      .filter((l) => /^SPROUT_[A-Z_]+=/.test(l))
      .map((l) => (l.startsWith("SPROUT_AGENT_DATA=") ? `SPROUT_AGENT_DATA=${join(dir, "data")}` : l.startsWith("SPROUT_HTTP_LISTEN=") ? `SPROUT_HTTP_LISTEN=127.0.0.1:${freePort()}` : l));
    expect(lines.some((l) => l === `SPROUT_AGENT_LISTEN=0.0.0.0:${port}`)).toBe(true);
    writeFileSync(envFile, lines.join("\n") + "\n", { mode: 0o600 });
    const shell = command.replace("/etc/sprout-agent.env", envFile);
    let agentPid: number | undefined;
    const proc = Bun.spawn(["sh", "-c", shell], { env: { PATH: `${dirname(sproutBinary())}:${process.env.PATH}`, HOME: dir }, stdout: "pipe", stderr: "pipe" });
    try {
      await until("the agent started from the printed command is online", async () => (await agentsList(c)).some((a) => a.name === "remote" && a.status === "online"), 30_000);
      // The shell may run the agent as its child: find it by parent pid.
      const children = Bun.spawnSync(["pgrep", "-P", String(proc.pid)]).stdout.toString().trim().split("\n").filter(Boolean).map(Number);
      agentPid = [proc.pid, ...children].find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim() === "sprout agent")!;
      expect(agentPid).toBeDefined();
      expect(readFileSync(`/proc/${agentPid!}/cmdline`, "utf8")).not.toContain(token);
      // A node that goes down keeps its last measures, shown as stale.
      process.kill(agentPid!, "SIGKILL");
      proc.kill("SIGKILL");
      await proc.exited;
      killNginx(join(dir, "data"));
      await until("the node is offline", async () => (await agentsList(c)).some((a) => a.name === "remote" && a.status === "offline"));
      const list = await c.sprout(["agents"]);
      const row = list.stdout.split("\n").find((l) => l.startsWith("remote"))!;
      expect(row).toContain("(stale, ");
      const online = list.stdout.split("\n").find((l) => l.startsWith(c.nodes[0]!.name))!;
      expect(online).not.toContain("stale");
    } finally {
      if (agentPid) try { process.kill(agentPid, "SIGKILL"); } catch { /* already gone */ }
      proc.kill("SIGKILL");
      killNginx(join(dir, "data"));
      await api(c.master, "DELETE", "/api/agent/remote?force=true", undefined, c.admin.token);
    }
  });

  test("a node holding a site's only copy cannot be removed; drained, it takes no new sites, its sites are copied elsewhere, then it can be removed", async () => {
    const c = cluster();
    expect((await c.sprout(["sites", "create", "solo", "--replicas", "1"])).code).toBe(0);
    expect((await c.sprout(["deploy", site({ "index.html": "only here" }), "--site", "solo", "--prod"])).code).toBe(0);
    const [holder] = await holders(c, "solo");
    const node = c.nodes.find((n) => n.name === holder)!;
    const refused = await c.sprout(["agents", "remove", node.name]);
    expect(refused.code).toBe(1);
    expect(refused.stderr + refused.stdout).toContain("only up-to-date copy");
    expect(refused.stderr + refused.stdout).toContain(`sprout agents drain ${node.name}`);

    expect((await c.sprout(["agents", "drain", node.name])).code).toBe(0);
    await until("the drained node's site is served by another node", async () => {
      const others = (await siteInfo(c, "solo")).nodes.filter((n: any) => n.name !== node.name && n.up_to_date);
      return others.length === 1;
    });
    await until("`sprout agents` shows it drained", async () => (await c.sprout(["agents"])).stdout.includes("drained: ready to remove"));
    for (const name of ["fresh1", "fresh2", "fresh3"]) {
      expect((await c.sprout(["deploy", site({ "index.html": name }), "--site", name, "--prod"])).code).toBe(0);
      expect(await holders(c, name)).not.toContain(node.name);
    }

    const removed = await c.sprout(["agents", "remove", node.name]);
    expect(removed.code).toBe(0);
    expect((await heartbeat(c, node.token)).status).toBe(401);
    expect((await agentsList(c)).some((a) => a.name === node.name)).toBe(false);
    expect(masterRows(c, "SELECT 1 FROM tasks WHERE agent_id = ?", node.id).length).toBe(0);
    expect(masterRows(c, "SELECT 1 FROM placements WHERE agent_id = ?", node.id).length).toBe(0);
    const [now] = await holders(c, "solo");
    const other = c.nodes.find((n) => n.name === now)!;
    expect(await served(c, "solo", other)).toBe("only here");
  });

  test("a removed node's sites get new replicas on the nodes that are up", async () => {
    const c = cluster();
    await c.addAgent("spare");
    expect((await c.sprout(["deploy", site({ "index.html": "kept" }), "--site", "twice", "--prod"])).code).toBe(0);
    const before = await holders(c, "twice");
    expect(before.length).toBe(2);
    // Nodes are "down" after 3 s of silence here: on a busy machine one may miss the deploy for a
    // moment and catch up just after; removal needs the other copy up to date.
    await until("both copies are up to date", async () => (await siteInfo(c, "twice")).nodes.every((n: any) => n.up_to_date && n.status === "online"));
    // Not the node with the only copy of the earlier test's one-replica site (that removal is refused).
    const solo = await holders(c, "solo");
    const gone = c.nodes.find((n) => before.includes(n.name) && !solo.includes(n.name) && n.p.proc.exitCode === null)!;
    const removed = await c.sprout(["agents", "remove", gone.name]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    await until("the site is on two up-to-date nodes again, without the removed one", async () => {
      const nodes = (await siteInfo(c, "twice")).nodes;
      return nodes.length === 2 && nodes.every((n: any) => n.up_to_date && n.name !== gone.name);
    });
    for (const name of await holders(c, "twice")) expect(await served(c, "twice", c.nodes.find((n) => n.name === name)!)).toBe("kept");
  });
});

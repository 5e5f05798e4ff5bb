import { beforeAll, expect, test } from "bun:test";
import { type Cluster, type Gateway, addGateway, api, killNginxHard, site, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 3 });
let c: Cluster;
let gw: Gateway;
beforeAll(async () => {
  c = cl();
  gw = await addGateway(c, "gw1");
}, 60_000);

const via = (g: Gateway, host: string, path = "/") => fetch(`${g.httpUrl}${path}`, { headers: { host }, redirect: "manual" });

/** until polls `f` until it answers true (the gateway picks up routes every 2 s). */
async function until(f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`condition not met within ${ms} ms:\n${c.logs()}`);
}

test("a gateway serves a site from the nodes that hold it, previews too, and answers 404 for unknown hosts", async () => {
  const r = await c.sprout(["deploy", site({ "index.html": "through the gateway" }), "--site", "lb", "--prod", "--json"]);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.stdout);
  // The master's URLs point at the gateway once one is up.
  expect(d.url).toBe(`http://lb.${c.domain}:${new URL(gw.httpUrl).port}`);
  await until(async () => (await (await via(gw, `lb.${c.domain}`)).text()) === "through the gateway");
  expect(await (await via(gw, `${d.deployment_id}--lb.${c.domain}`)).text()).toBe("through the gateway");
  expect((await via(gw, `nosuchsite.${c.domain}`)).status).toBe(404);
  expect((await via(gw, "example.org")).status).toBe(404);
  const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
  expect(agents.find((a: any) => a.name === "gw1").role).toBe("gateway");
  // A gateway holds no sites: the site went to nodes only.
  const info = (await api(c.master, "GET", "/api/site/lb", undefined, c.admin.token)).body;
  expect(info.nodes.map((n: any) => n.name)).not.toContain("gw1");
  expect(info.nodes).toHaveLength(2);
});

test("a node started as a gateway (or the reverse) is refused with a clear message", async () => {
  const created = await api(c.master, "POST", "/api/agent", { name: "plainnode" }, c.admin.token);
  await expect(addGateway(c, "plainnode", [], created.body.token)).rejects.toThrow(/registered as a node/);
});

test("while 20 clients load a site through the gateway, SIGKILL of one replica's agent and nginx fails no request", async () => {
  const host = `lb.${c.domain}`;
  await until(async () => (await via(gw, host)).status === 200);
  const holders = (await api(c.master, "GET", "/api/site/lb", undefined, c.admin.token)).body.nodes.map((n: any) => n.name);
  const victim = c.nodes.find((n) => holders.includes(n.name))!;
  let ok = 0;
  const failures: string[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        const res = await via(gw, host);
        const text = await res.text();
        if (res.status === 200 && text === "through the gateway") ok++;
        else failures.push(`${res.status} ${text.slice(0, 80)}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  const load = Promise.all(Array.from({ length: 20 }, worker));
  await Bun.sleep(2000);
  const before = ok;
  await victim.p.kill("SIGKILL");
  killNginxHard(victim.data);
  await Bun.sleep(4000);
  stop = true;
  await load;
  console.log(`kill test: ${ok + failures.length} requests, ${failures.length} failed (${before} before the kill)`);
  expect(failures).toEqual([]);
  expect(ok - before).toBeGreaterThan(100);
}, 60_000);

test("two gateways side by side route alike, and a gateway keeps routing (and restarts) with the master down", async () => {
  const gw2 = await addGateway(c, "gw2");
  await until(async () => (await (await via(gw2, `lb.${c.domain}`)).text()) === "through the gateway");
  expect((await via(gw2, `nosuchsite.${c.domain}`)).status).toBe(404);
  await c.masterProc.kill("SIGKILL");
  expect(await (await via(gw, `lb.${c.domain}`)).text()).toBe("through the gateway");
  // Restarted while the master is away: it routes from the routes it saved.
  await gw2.p.kill("SIGTERM");
  const again = await addGateway(c, "gw2", ["--http-listen", new URL(gw2.httpUrl).host], gw2.token).catch((e) => e as Error);
  expect(again).not.toBeInstanceOf(Error);
  expect(await (await via(gw2, `lb.${c.domain}`)).text()).toBe("through the gateway");
}, 60_000);

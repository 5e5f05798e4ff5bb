import { beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, api, site, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 2 });
let c: Cluster;
beforeAll(() => {
  c = cl();
});

test("a site lives on two nodes: both serve it, both switch on a deploy, and one node's death leaves the other serving", async () => {
  const dir = site({ "index.html": "v1", "big.css": "a{}".repeat(3000) });
  const r = await c.sprout(["deploy", dir, "--site", "twin", "--prod", "--json"]);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.stdout);
  for (const n of c.nodes) expect(await (await c.get(`twin.${c.domain}`, "/", n)).text()).toBe("v1");
  const info = (await api(c.master, "GET", `/api/deployment/${d.deployment_id}`, undefined, c.admin.token)).body;
  expect(info.events.some((e: any) => e.message.startsWith("Replicating to 1 more node"))).toBe(true);

  writeFileSync(join(dir, "index.html"), "v2");
  expect((await c.sprout(["deploy", dir, "--site", "twin", "--prod"])).code).toBe(0);
  for (const n of c.nodes) expect(await (await c.get(`twin.${c.domain}`, "/", n)).text()).toBe("v2");

  expect((await c.sprout(["rollback", "--site", "twin"])).code).toBe(0);
  for (const n of c.nodes) expect(await (await c.get(`twin.${c.domain}`, "/", n)).text()).toBe("v1");

  await c.nodes[0]!.p.kill("SIGKILL");
  expect(await (await c.get(`twin.${c.domain}`, "/", c.nodes[1]!)).text()).toBe("v1");
});

// Custom domain names go into the nginx configuration of every gateway, and of the nodes with
// --https-listen that hold the site, as exact names in hashes (maps, server names). A name longer
// than a hash bucket holds fails the whole configuration: one tenant's long (valid) domain, 111
// characters on a gateway, 47 on a node with HTTPS, stopped every later change there for everyone:
// new sites and domains were not routed, removed ones stayed, certificates were not renewed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, type Gateway, type Node, addGateway, cleanup, cluster, freePort, site, startDns } from "../helpers/cluster";

// 241 characters: DNS allows 253.
const LONG = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(40)}.att.test`;
let c: Cluster;
let gw: Gateway;
let node: Node;

beforeAll(async () => {
  const dns = await startDns([
    "--local=/att.test/",
    "--local=/example.test/",
    "--local=/sprout.test/",
    "--host-record=longname.sprout.test,127.0.0.1",
    "--host-record=other.sprout.test,127.0.0.1",
    `--cname=${LONG},longname.sprout.test`,
    "--cname=www.example.test,other.sprout.test",
  ]);
  c = await cluster({ agents: 0, masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "1"] });
  node = await c.addAgent("node1", ["--https-listen", `127.0.0.1:${freePort()}`]);
  gw = await addGateway(c, "gw1");
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

async function until(what: string, f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await Bun.sleep(300);
  }
  throw new Error(`${what} not within ${ms / 1000} s:\n${c.logs()}`);
}

const text = async (base: string, host: string) => (await fetch(`${base}/`, { headers: { host }, redirect: "manual" })).text();

test("a tenant's longest valid domain name is served, and does not stop the gateway or the node from taking others' changes", async () => {
  const tenant = { SPROUT_TOKEN: await c.user("long@example.com") };
  expect((await c.sprout(["deploy", site({ "index.html": "long name" }), "--site", "longname", "--prod"], tenant)).code).toBe(0);
  expect(JSON.parse((await c.sprout(["domains", "add", LONG, "--site", "longname", "--json"], tenant)).stdout).status).toBe("active");
  await until("the long name through the gateway", async () => (await text(gw.httpUrl, LONG)) === "long name");

  // Another account's site and domain, after it.
  const other = { SPROUT_TOKEN: await c.user("other@example.com") };
  expect((await c.sprout(["deploy", site({ "index.html": "other site" }), "--site", "other", "--prod"], other)).code).toBe(0);
  expect(JSON.parse((await c.sprout(["domains", "add", "www.example.test", "--site", "other", "--json"], other)).stdout).status).toBe("active");
  await until("the other domain through the gateway", async () => (await text(gw.httpUrl, "www.example.test")) === "other site");
  // The node with --https-listen serves both domains on its own HTTP listener (no certificate yet).
  await until("the other domain on the node", async () => (await text(node.httpUrl, "www.example.test")) === "other site");
  expect(await text(node.httpUrl, LONG)).toBe("long name");
});

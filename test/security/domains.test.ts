// Custom domains as a hostile tenant sees them. A site's name is free again once the site is
// deleted, while the DNS of its custom domains often keeps pointing at `<site>.<domain>`: whoever
// created a site of that name next proved the domain by that CNAME, got its visitors through the
// gateways and could get a certificate for it. A name another account had verified, or any name
// claimed for a site whose name another account owned, now needs the claimant's own TXT record.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, type Dns, type Gateway, addGateway, cleanup, cluster, site, startDns } from "../helpers/cluster";

let c: Cluster;
let gw: Gateway;
let dns: Dns;
const records = [
  "--local=/victim.test/",
  "--local=/sprout.test/",
  "--host-record=shop.sprout.test,127.0.0.1",
  "--host-record=vblog.sprout.test,127.0.0.1",
  // The victim's DNS, left as it was when they deleted their site.
  "--cname=www.victim.test,shop.sprout.test",
  // A name the victim never added here, pointed at the same site (as a wildcard record would).
  "--cname=promo.victim.test,shop.sprout.test",
  "--cname=blog.victim.test,vblog.sprout.test",
];

beforeAll(async () => {
  dns = await startDns(records);
  c = await cluster({ agents: 1, masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "1"] });
  gw = await addGateway(c, "gw1");
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

const via = (host: string) => fetch(`${gw.httpUrl}/`, { headers: { host }, redirect: "manual" });

async function until(f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await Bun.sleep(200);
  }
  throw new Error(`condition not met within ${ms} ms:\n${c.logs()}`);
}

test("a domain whose site was deleted cannot be taken by another account that takes the site's name", async () => {
  const victim = { SPROUT_TOKEN: await c.user("victim@example.com") };
  expect((await c.sprout(["deploy", site({ "index.html": "the real shop" }), "--site", "shop", "--prod"], victim)).code).toBe(0);
  expect(JSON.parse((await c.sprout(["domains", "add", "www.victim.test", "--site", "shop", "--json"], victim)).stdout).status).toBe("active");
  await until(async () => (await (await via("www.victim.test")).text()) === "the real shop");
  // The victim deletes the site and forgets the DNS record, as people do.
  expect((await c.sprout(["sites", "delete", "shop", "--yes"], victim)).code).toBe(0);
  await until(async () => (await via("www.victim.test")).status === 404);

  const attacker = { SPROUT_TOKEN: await c.user("attacker@example.com") };
  expect((await c.sprout(["deploy", site({ "index.html": "phishing" }), "--site", "shop", "--prod"], attacker)).code).toBe(0);
  const claim = JSON.parse((await c.sprout(["domains", "add", "www.victim.test", "--site", "shop", "--json"], attacker)).stdout);
  // The CNAME names the site, but not who owns the domain: only a TXT record proves this claim.
  expect(claim.status).toBe("pending");
  expect(claim.records.find((r: { type: string }) => r.type === "TXT")?.name).toBe("_sprout-challenge.www.victim.test");
  expect(JSON.parse((await c.sprout(["domains", "check", "www.victim.test", "--json"], attacker)).stdout).status).toBe("pending");
  // Nor is a name the victim never verified here but whose DNS points at the old site.
  const other = JSON.parse((await c.sprout(["domains", "add", "promo.victim.test", "--site", "shop", "--json"], attacker)).stdout);
  expect(other.status).toBe("pending");
  expect(other.records.map((r: { type: string }) => r.type)).toEqual(["CNAME", "TXT"]);
  await Bun.sleep(2500);
  expect((await via("www.victim.test")).status).toBe(404);
  expect((await via("promo.victim.test")).status).toBe(404);
});

test("the account that had a domain verified adds it again by its CNAME alone", async () => {
  const owner = { SPROUT_TOKEN: await c.user("blogger@example.com") };
  expect((await c.sprout(["deploy", site({ "index.html": "my blog" }), "--site", "vblog", "--prod"], owner)).code).toBe(0);
  expect(JSON.parse((await c.sprout(["domains", "add", "blog.victim.test", "--site", "vblog", "--json"], owner)).stdout).status).toBe("active");
  expect((await c.sprout(["domains", "remove", "blog.victim.test"], owner)).code).toBe(0);
  const again = JSON.parse((await c.sprout(["domains", "add", "blog.victim.test", "--site", "vblog", "--json"], owner)).stdout);
  expect(again.status).toBe("active");
  expect(again.records).toEqual([{ type: "CNAME", name: "blog.victim.test", value: "vblog.sprout.test" }]);
  await until(async () => (await (await via("blog.victim.test")).text()) === "my blog");
});

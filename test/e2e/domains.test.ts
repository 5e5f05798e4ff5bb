import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, type Dns, type Gateway, addGateway, api, cleanup, cluster, site, startDns } from "../helpers/cluster";

let c: Cluster;
let gw: Gateway;
let dns: Dns;
// --local: names of these zones that are not listed answer NXDOMAIN, as an authoritative server's would.
const base = ["--local=/example.test/", "--local=/sprout.test/", "--host-record=myblog.sprout.test,127.0.0.1", "--host-record=other.sprout.test,127.0.0.1"];

beforeAll(async () => {
  dns = await startDns([...base, "--cname=www.example.test,myblog.sprout.test", "--cname=old.example.test,myblog.sprout.test"]);
  c = await cluster({ agents: 2, masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "1"] });
  gw = await addGateway(c, "gw1");
  expect((await c.sprout(["deploy", site({ "index.html": "my blog" }), "--site", "myblog", "--prod"])).code).toBe(0);
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

test("a domain with a CNAME to its site is verified and served through the gateway", async () => {
  const r = await c.sprout(["domains", "add", "www.example.test", "--site", "myblog", "--json"]);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.stdout);
  expect(d.status).toBe("active");
  expect(d.records).toEqual([{ type: "CNAME", name: "www.example.test", value: "myblog.sprout.test" }]);
  await until(async () => (await (await via("www.example.test")).text()) === "my blog");
  const list = await c.sprout(["domains"]);
  expect(list.stdout).toContain("www.example.test");
  expect(list.stdout).toContain("active");
});

test("adding a domain prints the exact DNS records, and it is not served before they exist", async () => {
  const r = await c.sprout(["domains", "add", "shop.example.test", "--site", "myblog"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("pending");
  expect(r.stdout).toMatch(/shop\.example\.test\s+CNAME\s+myblog\.sprout\.test/);
  await Bun.sleep(2500);
  expect((await via("shop.example.test")).status).toBe(404);
  // The platform's own names are not custom domains.
  const bad = await api(c.master, "POST", "/api/domains", { name: "x.sprout.test", site: "myblog" }, c.admin.token);
  expect(bad.status).toBe(400);
});

test("a domain whose CNAME goes away is flagged misconfigured and no longer routed", async () => {
  expect(JSON.parse((await c.sprout(["domains", "add", "old.example.test", "--site", "myblog", "--json"])).stdout).status).toBe("active");
  await until(async () => (await via("old.example.test")).status === 200);
  await dns.set([...base, "--cname=www.example.test,myblog.sprout.test"]);
  await until(async () => (await api(c.master, "GET", "/api/domains/old.example.test", undefined, c.admin.token)).body.status === "misconfigured");
  const d = (await api(c.master, "GET", "/api/domains/old.example.test", undefined, c.admin.token)).body;
  expect(d.last_error).toContain("no CNAME");
  await until(async () => (await via("old.example.test")).status === 404);
  expect(await (await via("www.example.test")).text()).toBe("my blog");
});

test("a domain claimed by another account is refused until that account proves it with its TXT record", async () => {
  const other = await c.user("other@example.com");
  const env = { SPROUT_TOKEN: other };
  expect((await c.sprout(["deploy", site({ "index.html": "other site" }), "--site", "other", "--prod"], env)).code).toBe(0);
  const r = await c.sprout(["domains", "add", "www.example.test", "--site", "other", "--json"], env);
  expect(r.code).toBe(0);
  const claim = JSON.parse(r.stdout);
  expect(claim.status).toBe("pending");
  const txt = claim.records.find((x: any) => x.type === "TXT");
  expect(txt.name).toBe("_sprout-challenge.www.example.test");
  // Still the first account's: without the TXT record the claim stays pending.
  expect(JSON.parse((await c.sprout(["domains", "check", "www.example.test", "--json"], env)).stdout).status).toBe("pending");
  await Bun.sleep(2500);
  expect(await (await via("www.example.test")).text()).toBe("my blog");
  // The TXT record proves control of the name: it moves to the other account's site.
  await dns.set([...base, "--cname=www.example.test,other.sprout.test", `--txt-record=_sprout-challenge.www.example.test,${txt.value}`]);
  expect(JSON.parse((await c.sprout(["domains", "check", "www.example.test", "--json"], env)).stdout).status).toBe("active");
  await until(async () => (await (await via("www.example.test")).text()) === "other site");
  const mine = (await api(c.master, "GET", "/api/domains", undefined, c.admin.token)).body.map((d: any) => d.name);
  expect(mine).not.toContain("www.example.test");
});

test("the site's page in the admin UI adds a domain, shows its DNS records and state, and removes it", async () => {
  const login = await fetch(`${c.master}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `email=${encodeURIComponent(c.admin.email)}&password=${encodeURIComponent(c.admin.password)}`,
  });
  const cookie = login.headers.getSetCookie().map((x) => x.split(";")[0]).join("; ");
  const form = (path: string, body: string) =>
    fetch(`${c.master}${path}`, { method: "POST", headers: { cookie, origin: c.master, "hx-request": "true", "content-type": "application/x-www-form-urlencoded" }, body });
  const added = await (await form("/ui/sites/myblog/domains", "domain=old.example.test")).text();
  expect(added).toContain('id="site-domains"');
  expect(added).toContain("old.example.test is added");
  // The record to create: a CNAME from the domain to the site's platform host.
  expect(added).toMatch(/<code><span class="visually-hidden">Type <\/span>CNAME<\/code> <code><span class="visually-hidden">name <\/span>old\.example\.test<\/code>[^]*?<code>myblog\.sprout\.test\.?<\/code>/);
  // The page shows it with its state as the API has it (the DNS of this file's other tests decides
  // which), and that it has no certificate yet.
  const page = await (await fetch(`${c.master}/ui/sites/myblog`, { headers: { cookie } })).text();
  const state = (await api(c.master, "GET", "/api/domains/old.example.test", undefined, c.admin.token)).body.status;
  expect(page).toMatch(new RegExp(`<strong>old\\.example\\.test</strong></td>\\s*<td data-label="Status"><span class="badge ${state}" data-status="${state}">${state}<`));
  expect(page).toContain('data-cert="none"');
  expect(await (await form("/ui/sites/myblog/domains", "domain=not a domain")).text()).toContain("is not a host name");
  // Another site's page cannot remove it.
  expect((await c.sprout(["sites", "create", "othersite"])).code).toBe(0);
  expect(await (await form("/ui/sites/othersite/domains/old.example.test/remove", "")).text()).toContain("not found");
  const removed = await (await form("/ui/sites/myblog/domains/old.example.test/remove", "")).text();
  expect(removed).toContain("old.example.test is removed");
  expect((await api(c.master, "GET", "/api/domains/old.example.test", undefined, c.admin.token)).status).toBe(404);
});

// The admin UI's second part, in the system's Chromium against the real master, agents and nginx:
// custom domains (with a real DNS server), traffic, cancelling a deploy, node lifecycle, the audit
// log and the settings page. Every page is also checked at 390 px and with axe-core.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { api, cleanup, cluster, startDns, type Cluster, type Dns } from "../helpers/cluster";
import { checkPage, deployFiles, launch, login } from "./helpers";

let c: Cluster;
let dns: Dns;
let browser: Browser;
let adminState: Awaited<ReturnType<BrowserContext["storageState"]>>;
// --local: names of these zones that are not listed answer NXDOMAIN, as an authoritative server's would.
const zone = ["--local=/example.test/", "--local=/sprout.test/", "--host-record=shop.sprout.test,127.0.0.1"];
/** The webhook's path is its secret (as Slack's are): the settings page must never show it. */
const WEBHOOK_SECRET = "T000/B000/s3cr3t-path";
/** hook receives the alerts (a webhook as Slack's would); a second webhook points at a closed port. */
const received: { path: string; body: { kind: string; status: string; message: string } }[] = [];
const hook = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    received.push({ path: new URL(req.url).pathname, body: await req.json() });
    return new Response("ok");
  },
});

beforeAll(async () => {
  dns = await startDns(zone);
  c = await cluster({
    agents: 2,
    // A disk-low threshold no node meets, so an alert is firing for the settings page to show.
    masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "3600", "--alert-webhook", `http://127.0.0.1:${hook.port}/${WEBHOOK_SECRET},http://127.0.0.1:9/closed`, "--alert-disk-low", "100000G"],
  });
  browser = await launch();
  const ctx = await browser.newContext();
  await login(await ctx.newPage(), c.master, c.admin.email, c.admin.password);
  adminState = await ctx.storageState();
  await ctx.close();
}, 60_000);
afterAll(async () => {
  void hook.stop(true);
  await browser?.close();
  await c?.stop();
  await cleanup();
});

/** adminPage is a new page at `path`, logged in as the admin, that accepts confirmation dialogs. */
async function adminPage(path: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, storageState: adminState });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept().catch(() => {}));
  page.on("close", () => void ctx.close().catch(() => {}));
  await page.goto(`${c.master}${path}`);
  return page;
}

const adminCookie = () => adminState.cookies.map((k) => `${k.name}=${k.value}`).join("; ");
const deploy = (name: string, files: Record<string, string>) => deployFiles(c.master, c.admin.token, name, files);
const getApi = async (path: string) => (await api(c.master, "GET", path, undefined, c.admin.token)).body;

async function until(f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await Bun.sleep(200);
  }
  throw new Error(`condition not met within ${ms} ms:\n${c.logs()}`);
}

test("add a custom domain on the site page: it shows the DNS record to create and stays pending until it exists; Check now verifies it; remove it", async () => {
  await deploy("shop", { "index.html": "shop" });
  const page = await adminPage("/ui/sites/shop");
  expect(await page.textContent("#site-domains")).toContain("Serve this site at a domain of your own");
  // Upper case and a trailing dot are what people paste; they mean the same name.
  await page.fill("#domain-name", "WWW.Example.test.");
  await page.click("#site-domains button[type=submit]");
  await page.waitForSelector(`#site-domains tr[data-domain="www.example.test"]`);
  const row = `#site-domains tr[data-domain="www.example.test"]`;
  expect(await page.getAttribute(`${row} .badge`, "data-status")).toBe("pending");
  const records = (await page.textContent(`${row} td[data-label="DNS records"]`))!.replace(/\s+/g, " ");
  expect(records).toContain("CNAME");
  expect(records).toContain("www.example.test");
  expect(records).toContain("shop.sprout.test");
  expect(await page.textContent(row)).toContain("has no CNAME to shop.sprout.test");
  expect(await page.getAttribute(`${row} [data-cert]`, "data-cert")).toBe("none");
  expect(await page.textContent(`${row} [data-cert]`)).toContain("HTTPS is not set up");
  await checkPage(page);

  // Not there yet: Check now says why, in the page.
  await page.click(`${row} button:has-text("Check now")`);
  await page.waitForSelector("#site-domains [role=alert]");
  expect(await page.textContent("#site-domains [role=alert]")).toContain("pending");
  // The record is created at the "DNS provider": Check now verifies it.
  await dns.set([...zone, "--cname=www.example.test,shop.sprout.test"]);
  await page.click(`${row} button:has-text("Check now")`);
  await page.waitForSelector("#site-domains [role=status] >> text=is verified");
  expect(await page.getAttribute(`${row} .badge`, "data-status")).toBe("active");
  expect((await getApi("/api/domains/www.example.test")).status).toBe("active");

  // A bad name is an error in the form, kept for correcting; nothing is added.
  await page.fill("#domain-name", "not a domain");
  await page.click("#site-domains button[type=submit]");
  await page.waitForSelector("#site-domains [role=alert]");
  expect(await page.inputValue("#domain-name")).toBe("not a domain");
  expect((await getApi("/api/domains")).map((d: { name: string }) => d.name)).toEqual(["www.example.test"]);

  await page.click(`${row} button:has-text("Remove")`);
  await page.waitForSelector("#site-domains [role=status] >> text=is removed");
  expect(await page.$(row)).toBeNull();
  expect(await getApi("/api/domains")).toEqual([]);
  await page.close();
});

test("keyboard only: the skip link leads to the content, a domain is added with Enter, and the focused button shows a visible ring", async () => {
  await deploy("keys", { "index.html": "keys" });
  const page = await adminPage("/ui/sites/keys");
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
  await page.keyboard.press("Enter");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  await page.focus("#domain-name");
  await page.keyboard.type("docs.example.test");
  await page.keyboard.press("Enter");
  await page.waitForSelector(`#site-domains tr[data-domain="docs.example.test"]`);
  // Back from the form with Shift+Tab: past the row's Remove to its Check now; focus is drawn (an outline).
  await page.focus("#domain-name");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  const ring = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const st = getComputedStyle(el);
    return { text: el.textContent, style: st.outlineStyle, width: parseFloat(st.outlineWidth) };
  });
  expect(ring.text).toContain("Check now");
  expect(ring.style).not.toBe("none");
  expect(ring.width).toBeGreaterThanOrEqual(2);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#site-domains [role=alert], #site-domains [role=status]");
  await api(c.master, "DELETE", "/api/domains/docs.example.test", undefined, c.admin.token);
  await page.close();
});

test("another account cannot add, check or remove domains of a site that is not theirs", async () => {
  await api(c.master, "POST", "/api/domains", { name: "mine.example.test", site: "shop" }, c.admin.token);
  await c.user("mallory@example.com");
  const page = await browser.newPage();
  await login(page, c.master, "mallory@example.com", "another password");
  const origin = new URL(c.master).origin;
  const post = (path: string, body = "") =>
    page.evaluate(
      async ([p, b, o]) => (await fetch(p!, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: o! }, body: b })).status,
      [path, body, origin],
    );
  expect(await post("/ui/sites/shop/domains", "domain=evil.example.test")).toBe(404);
  expect(await post("/ui/sites/shop/domains/mine.example.test/check")).toBe(404);
  expect(await post("/ui/sites/shop/domains/mine.example.test/remove")).toBe(404);
  expect((await getApi("/api/domains")).map((d: { name: string }) => d.name)).toEqual(["mine.example.test"]);
  await page.close();
});

test("the site page shows its traffic for the last 24 h as a chart, and the last 7 days on a click", async () => {
  await deploy("counted", { "index.html": "counted" });
  for (let i = 0; i < 12; i++) await (await c.get(`counted.${c.domain}`, "/")).text();
  for (let i = 0; i < 5; i++) await (await c.get(`counted.${c.domain}`, "/missing")).text();
  // nginx flushes its log every 5 s and the agent reports with its next heartbeat.
  await until(async () => (await getApi("/api/site/counted/traffic")).reduce((n: number, h: { requests: number }) => n + h.requests, 0) >= 17, 30_000);
  const page = await adminPage("/ui/sites/counted");
  expect(await page.getAttribute("#traffic-summary [data-requests]", "data-requests")).toBe("17");
  expect(await page.textContent(`#site-traffic [data-class="4xx"]`)).toBe("5");
  expect(await page.$$("#site-traffic svg .bar")).not.toHaveLength(0);
  expect(await page.$$("#site-traffic svg .bar-error")).not.toHaveLength(0);
  expect(await page.getAttribute("#site-traffic svg", "aria-label")).toContain("17 in all");
  expect(await page.getAttribute(`#site-traffic button[aria-pressed="true"]`, "hx-get")).toContain("range=24h");
  await page.click("#site-traffic button:has-text('Last 7 days')");
  await page.waitForSelector(`#site-traffic button[aria-pressed="true"]:has-text('Last 7 days')`);
  expect(await page.getAttribute("#traffic-summary [data-requests]", "data-requests")).toBe("17");
  expect(await page.getAttribute("#site-traffic svg", "viewBox")).toBe("0 0 1680 100");
  await checkPage(page);
  await page.close();
});

test("cancel a deployment in progress from the site page and from its own page: it fails as cancelled and production stays", async () => {
  await deploy("halted", { "index.html": "v1 stays" });
  const manifest = [{ path: "a.txt", sha256: "d".repeat(64), size: 1 }];
  const first = (await api(c.master, "POST", "/api/deployment", { site: "halted", production: true, manifest }, c.admin.token)).body.deployment.id;
  const page = await adminPage("/ui/sites/halted");
  await page.bringToFront();
  await page.click(`tr[data-deployment="${first}"] button:has-text("Cancel")`);
  await page.waitForSelector("#site-notice >> text=is cancelled");
  // The live list shows it failed, without a reload.
  await page.waitForSelector(`tr[data-deployment="${first}"] [data-status="failed"]`, { timeout: 15_000 });
  expect((await getApi(`/api/deployment/${first}`)).error).toBe("Cancelled");

  const second = (await api(c.master, "POST", "/api/deployment", { site: "halted", production: true, manifest }, c.admin.token)).body.deployment.id;
  await page.goto(`${c.master}/ui/deployments/${second}`);
  await checkPage(page);
  await page.click("#deploy-log button:has-text('Cancel deployment')");
  await page.waitForSelector("#deploy-log .badge.failed", { timeout: 15_000 });
  expect(await page.textContent("#deploy-log")).toContain(`Cancelled by ${c.admin.email}.`);
  expect(await page.$("#deploy-log button")).toBeNull();
  expect(await (await c.get(`halted.${c.domain}`, "/")).text()).toBe("v1 stays");
  await page.close();
});

test("the admin drains a node and puts it back, gives a node a new token (the old one stops working), and removes nodes", async () => {
  const page = await adminPage("/ui/nodes");
  // Health over the last minutes: a sparkline of CPU and memory, from the heartbeats (one sample per 10 s).
  await page.waitForSelector(`tr[data-node="node1"] td[data-label="CPU"] svg.spark`, { timeout: 30_000 });
  expect(await page.getAttribute(`tr[data-node="node1"] td[data-label="Memory free"] svg.spark`, "aria-label")).toMatch(/^Memory in use over the last \d+ min: from \d+% to \d+%, now \d+%$/);
  await page.click(`tr[data-node="node2"] button:has-text("Drain")`);
  await page.waitForSelector("#nodes-notice [role=status] >> text=node2 is draining");
  await until(async () => (await getApi("/api/agents")).find((a: { name: string }) => a.name === "node2").draining === true);
  // The live list shows it (drained once its sites have their copies elsewhere).
  await page.waitForSelector(`tr[data-node="node2"] [data-drain]`, { timeout: 15_000 });
  await checkPage(page);
  await page.click(`tr[data-node="node2"] button:has-text("Put back")`);
  await page.waitForSelector("#nodes-notice >> text=back in service");
  expect((await getApi("/api/agents")).find((a: { name: string }) => a.name === "node2").draining).toBe(false);

  // A node registered but not started yet: a new token; the old one is refused.
  const spare = (await api(c.master, "POST", "/api/agent", { name: "spare" }, c.admin.token)).body;
  const asAgent = (token: string) => fetch(`${c.master}/api/agent/tasks?wait=0`, { headers: { authorization: `Bearer ${token}` } });
  expect((await asAgent(spare.token)).status).toBe(200);
  await page.reload();
  await page.click(`tr[data-node="spare"] button:has-text("New token")`);
  await page.waitForSelector("#node-token-command");
  const fresh = (await page.textContent("#node-token-command"))!.match(/SPROUT_AGENT_TOKEN=(\S+)/)![1]!;
  expect((await asAgent(spare.token)).status).toBe(401);
  expect((await asAgent(fresh)).status).toBe(200);
  await page.click(`tr[data-node="spare"] button:has-text("Remove")`);
  await page.waitForSelector("#nodes-notice >> text=spare is removed");
  expect((await asAgent(fresh)).status).toBe(401);
  await page.waitForFunction(() => !document.querySelector(`tr[data-node="spare"]`), undefined, { timeout: 15_000 });

  // Adding a gateway shows the one-line install with its role and public URL.
  await page.fill("#node-name", "gw9");
  await page.selectOption("#node-role", "gateway");
  await page.fill("#node-url", "http://10.0.0.9:7070");
  await page.click("#node-add button[type=submit]");
  await page.waitForSelector("#node-install");
  expect(await page.textContent("#node-install")).toMatch(new RegExp(`^curl -fsSL ${c.master}/install.sh \\| sudo sh -s -- --token spa_\\S+ --name gw9 --role gateway --public-url http://10.0.0.9:7070$`));
  expect((await getApi("/api/agents")).find((a: { name: string }) => a.name === "gw9").role).toBe("gateway");
  expect(await (await fetch(`${c.master}/install.sh`)).text()).toStartWith("#!/bin/sh");

  // A node holding the only copy of a site: removal is refused, with the way out offered.
  await c.addAgent("node3");
  for (const n of ["node1", "node2"]) await api(c.master, "POST", `/api/agent/${n}/drain`, {}, c.admin.token);
  expect((await api(c.master, "POST", "/api/site", { name: "solo", replicas: 1 }, c.admin.token)).status).toBe(201);
  await deploy("solo", { "index.html": "only on node3" });
  for (const n of ["node1", "node2"]) await api(c.master, "POST", `/api/agent/${n}/drain`, { undo: true }, c.admin.token);
  await page.reload();
  await page.click(`tr[data-node="node3"] button:has-text("Remove")`);
  await page.waitForSelector("#nodes-notice [role=alert]");
  expect(await page.textContent("#nodes-notice [role=alert]")).toContain("only up-to-date copy");
  expect((await getApi("/api/agents")).some((a: { name: string }) => a.name === "node3")).toBe(true);
  await checkPage(page);
  await page.click("#nodes-notice button:has-text('Remove node3 anyway')");
  await page.waitForSelector("#nodes-notice >> text=node3 is removed");
  expect((await getApi("/api/agents")).some((a: { name: string }) => a.name === "node3")).toBe(false);
  await page.close();
}, 90_000);

test("node actions need the admin and the master's own origin", async () => {
  await c.user("eve@example.com");
  const them = await browser.newPage();
  await login(them, c.master, "eve@example.com", "another password");
  const origin = new URL(c.master).origin;
  const status = await them.evaluate(async (o) => (await fetch("/ui/nodes/node1/drain", { method: "POST", headers: { origin: o } })).status, origin);
  expect(status).toBe(403);
  await them.close();
  // The admin's own cookies, sent from another site: refused, nothing drained.
  const r = await fetch(`${c.master}/ui/nodes/node1/drain`, { method: "POST", headers: { cookie: adminCookie(), origin: "https://evil.example" } });
  expect(r.status).toBe(403);
  expect((await getApi("/api/agents")).find((a: { name: string }) => a.name === "node1").draining).toBe(false);
});

test("the admin sets a person's quota on their page: a bad field is named and kept, an empty one means the default, and the limit applies", async () => {
  const token = await c.user("limited@example.com");
  const page = await adminPage("/ui/users");
  await page.click(`tr[data-user="limited@example.com"] a`);
  await page.waitForSelector("#user-quota");
  expect(await page.textContent(`[data-usage="sites"]`)).toBe("0 of 50");
  await checkPage(page);
  await page.fill("#quota-sites", "1");
  await page.fill("#quota-bytes", "lots");
  await page.click("#user-quota button[type=submit]");
  await page.waitForSelector("#user-quota [role=alert]");
  expect(await page.textContent("#user-quota [role=alert]")).toContain("Storage must be a size");
  expect(await page.inputValue("#quota-bytes")).toBe("lots");
  expect(await page.inputValue("#quota-sites")).toBe("1");
  const id = (await getApi("/api/users")).find((u: { email: string }) => u.email === "limited@example.com").id;
  expect((await getApi(`/api/users/${id}/quota`)).overrides.sites).toBeNull();

  await page.fill("#quota-bytes", "500M");
  await page.click("#user-quota button[type=submit]");
  await page.waitForSelector("#user-quota [role=status]");
  const q = await getApi(`/api/users/${id}/quota`);
  expect(q.overrides).toMatchObject({ sites: 1, bytes: 500 * 1024 ** 2, deploys_per_hour: null });
  expect(await page.textContent(`[data-usage="bytes"]`)).toContain("500.0 MB");
  // The limit applies: a second site is refused.
  expect((await api(c.master, "POST", "/api/site", { name: "limited-one" }, token)).status).toBe(201);
  expect((await api(c.master, "POST", "/api/site", { name: "limited-two" }, token)).status).toBe(403);
  // Emptied: back to the default.
  await page.fill("#quota-sites", "");
  await page.click("#user-quota button[type=submit]");
  await page.waitForSelector("#user-quota [role=status]");
  expect((await getApi(`/api/users/${id}/quota`)).overrides.sites).toBeNull();
  expect((await page.goto(`${c.master}/ui/users/no-such-id`))!.status()).toBe(404);
  await page.close();
}, 90_000);

test("the admin disables an account: its open page and its tokens stop at once, it cannot log in, its site stays online; enabled again, it works", async () => {
  const access = await c.user("suspended@example.com");
  const apiToken = (await api(c.master, "POST", "/api/tokens", { name: "ci", scope: "deploy" }, access)).body.token as string;
  await deployFiles(c.master, apiToken, "suspended-site", { "index.html": "still online" });
  const them = await browser.newPage();
  await login(them, c.master, "suspended@example.com", "another password");

  const page = await adminPage("/ui/users");
  await page.click(`tr[data-user="suspended@example.com"] a`);
  await page.click("#user-access button:has-text('Disable account')");
  await page.waitForSelector(`#user-access [data-access="disabled"]`);
  expect(await page.textContent("#user-access [role=status]")).toContain("is disabled");
  await checkPage(page);

  await them.reload();
  expect(new URL(them.url()).pathname).toBe("/ui/login");
  const refused = await api(c.master, "GET", "/api/sites", undefined, apiToken);
  expect(refused.status).toBe(403);
  expect(refused.body.error.code).toBe("account_disabled");
  expect((await api(c.master, "GET", "/api/sites", undefined, access)).status).toBe(401);
  await them.fill("#login-email", "suspended@example.com");
  await them.fill("#login-password", "another password");
  await them.click("button[type=submit]");
  expect(await them.textContent("[role=alert]")).toContain("This account is disabled");
  expect(await (await c.get(`suspended-site.${c.domain}`, "/")).text()).toBe("still online");
  await page.goto(`${c.master}/ui/users`);
  expect(await page.textContent(`tr[data-user="suspended@example.com"]`)).toContain("disabled");

  await page.click(`tr[data-user="suspended@example.com"] a`);
  await page.click("#user-access button:has-text('Enable account')");
  await page.waitForSelector(`#user-access [data-access="enabled"]`);
  expect((await api(c.master, "GET", "/api/sites", undefined, apiToken)).status).toBe(200);
  await login(them, c.master, "suspended@example.com", "another password");
  await them.close();
  // The admin's own account cannot be disabled, here or through the API.
  const adminId = (await getApi("/api/users")).find((u: { email: string }) => u.email === c.admin.email).id;
  await page.goto(`${c.master}/ui/users/${adminId}`);
  expect(await page.$("#user-access button")).toBeNull();
  expect((await api(c.master, "POST", `/api/users/${adminId}/disable`, { disabled: true }, c.admin.token)).status).toBe(403);
  await page.close();
}, 90_000);

test("a person sees where they are signed in and ends another session, which stops working at once", async () => {
  // One login from the command line (as `sprout login` makes), one from this browser.
  const cliAccess = await c.user("traveller@example.com");
  const page = await browser.newPage();
  await login(page, c.master, "traveller@example.com", "another password");
  await page.goto(`${c.master}/ui/account`);
  expect(await page.$$("#account-sessions tr[data-session]")).toHaveLength(2);
  expect(await page.textContent(`#account-sessions tr[data-session="current"]`)).toContain("This browser");
  expect(await page.$(`#account-sessions tr[data-session="current"] button`)).toBeNull();
  await checkPage(page);
  expect((await api(c.master, "GET", "/api/user/info", undefined, cliAccess)).status).toBe(200);
  await page.click(`#account-sessions tr[data-session="other"] button`);
  await page.waitForSelector("#account-sessions [role=status] >> text=Session ended");
  expect(await page.$$("#account-sessions tr[data-session]")).toHaveLength(1);
  expect((await api(c.master, "GET", "/api/user/info", undefined, cliAccess)).status).toBe(401);
  // This browser is still signed in.
  await page.reload();
  expect(new URL(page.url()).pathname).toBe("/ui/account");
  await page.close();
}, 90_000);

test("the audit log lists what was done through the pages and the API, filtered by action and person, failed logins included", async () => {
  // A failed login through the page.
  const stranger = await browser.newPage();
  await stranger.goto(`${c.master}/ui/login`);
  await stranger.fill("#login-email", c.admin.email);
  await stranger.fill("#login-password", "guessing");
  await stranger.click("button[type=submit]");
  await stranger.waitForSelector("[role=alert]");
  await stranger.close();

  const page = await adminPage("/ui/audit");
  const actions = async () => page.$$eval("#audit tr[data-action]", (rows) => rows.map((r) => r.getAttribute("data-action")));
  const all = await actions();
  for (const a of ["user.disable", "user.enable", "user.session_end", "quota.update", "deployment.cancel", "agent.drain", "agent.undrain", "agent.rotate_token", "agent.remove", "domain.add", "domain.remove", "user.login"]) expect(all).toContain(a);
  expect(await page.$(`#audit tr[data-action="user.login"][data-outcome="failed"]`)).not.toBeNull();
  await checkPage(page);

  await page.selectOption("#audit-action", "agent.");
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/action=agent\./);
  await page.waitForFunction(() => [...document.querySelectorAll("#audit tr[data-action]")].every((r) => r.getAttribute("data-action")!.startsWith("agent")));
  expect((await actions()).length).toBeGreaterThan(3);
  // The filter survives a reload (it is in the address).
  await page.reload();
  expect(await page.inputValue("#audit-action")).toBe("agent.");
  expect((await actions()).every((a) => a!.startsWith("agent"))).toBe(true);

  await page.selectOption("#audit-action", "");
  await page.fill("#audit-user", "nobody@example.com");
  await page.click("form.filters button[type=submit]");
  await page.waitForSelector("#audit .empty");
  expect(await page.textContent("#audit")).toContain("Nothing matches these filters");
  await page.close();
}, 90_000);

test("the settings page shows how the master runs and the alerts firing, never a webhook's secret path; people who are not the admin get a 403 page", async () => {
  const page = await adminPage("/ui/settings");
  const text = (await page.textContent("main"))!;
  expect(text).toContain(`sites at NAME.${c.domain}`);
  expect(await page.textContent(`[data-setting="registration"] .setting-value`)).toContain("Closed");
  expect(await page.textContent(`[data-setting="alert-webhook"] .setting-value`)).toContain(`2 (127.0.0.1:${hook.port}, 127.0.0.1:9)`);
  expect(await page.content()).not.toContain(WEBHOOK_SECRET);
  // A test alert goes to every webhook once; the page says which answered.
  await page.click("button:has-text('Send a test alert')");
  await page.waitForSelector("#test-alert-result li");
  expect(await page.getAttribute(`#test-alert-result li[data-webhook="127.0.0.1:${hook.port}"]`, "data-ok")).toBe("true");
  expect(await page.getAttribute(`#test-alert-result li[data-webhook="127.0.0.1:9"]`, "data-ok")).toBe("false");
  expect(await page.content()).not.toContain(WEBHOOK_SECRET);
  expect(received.find((r) => r.body.kind === "test")).toMatchObject({ path: `/${WEBHOOK_SECRET}`, body: { status: "firing" } });
  expect(text).toContain("SPROUT_ACME_DIRECTORY");
  // Every node is under the (huge) low-disk threshold: the alert is firing.
  await until(async () => {
    await page.reload();
    return (await page.$(`#alerts li[data-alert="disk_low"]`)) !== null;
  });
  // ...and it went to the webhook when it started.
  await until(async () => received.some((r) => r.body.kind === "disk_low" && r.body.status === "firing"));
  await checkPage(page);
  await page.close();

  await c.user("outsider@example.com");
  const them = await browser.newPage();
  await login(them, c.master, "outsider@example.com", "another password");
  for (const path of ["/ui/settings", "/ui/audit"]) {
    const res = await them.goto(`${c.master}${path}`);
    expect(res!.status()).toBe(403);
    expect(await them.textContent("h1")).toBe("Not allowed");
  }
  expect(await them.$(`nav a[href="/ui/audit"]`)).toBeNull();
  await them.close();
}, 90_000);

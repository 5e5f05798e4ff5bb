import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { api, cleanup, cluster, site, type Cluster } from "../helpers/cluster";
import { checkPage, deployFiles, launch, login } from "./helpers";

let c: Cluster;
let browser: Browser;
/** adminState: the admin's cookies, from one real login through the page (argon2 makes each login slow). */
let adminState: Awaited<ReturnType<import("playwright-core").BrowserContext["storageState"]>>;

beforeAll(async () => {
  c = await cluster();
  browser = await launch();
  const ctx = await browser.newContext();
  await login(await ctx.newPage(), c.master, c.admin.email, c.admin.password);
  adminState = await ctx.storageState();
  await ctx.close();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await c?.stop();
  await cleanup();
});

/** adminPage is a new page, logged in as the admin, that accepts confirmation dialogs. */
async function adminPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, storageState: adminState });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept());
  page.on("close", () => void ctx.close());
  await page.goto(`${c.master}/ui/sites`);
  return page;
}

const deploy = (name: string, files: Record<string, string>, prod = true) => deployFiles(c.master, c.admin.token, name, files, prod);

test("a wrong password is refused on the page; /ui, unknown pages and other people's deployments answer HTML pages, never JSON", async () => {
  const page = await browser.newPage();
  await page.goto(`${c.master}/ui/sites`);
  expect(new URL(page.url()).pathname).toBe("/ui/login");
  await checkPage(page);
  await page.fill("#login-email", c.admin.email);
  await page.fill("#login-password", "not the password");
  await page.click("button[type=submit]");
  expect(await page.textContent("[role=alert]")).toContain("Wrong email or password");
  await page.fill("#login-password", c.admin.password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites`);
  expect(await page.textContent("main")).toContain("No sites yet");

  await page.goto(`${c.master}/ui`);
  expect(new URL(page.url()).pathname).toBe("/ui/sites");
  for (const path of ["/ui/no-such-page", "/no-such-page", "/ui/sites/no-such-site", "/ui/deployments/nope"]) {
    const res = await page.goto(`${c.master}${path}`);
    expect(res!.status()).toBe(404);
    expect(res!.headers()["content-type"]).toContain("text/html");
    expect(await page.textContent("h1")).toBe("Page not found");
  }
  await checkPage(page);
  const apiMiss = await fetch(`${c.master}/api/no-such-route`);
  expect(apiMiss.status).toBe(404);
  expect(apiMiss.headers.get("content-type")).toContain("application/json");

  // Someone else's deployment is a 404 page, never its data.
  const id = await deploy("private", { "index.html": "mine" });
  await c.user("eve@example.com");
  const eve = await browser.newPage();
  await login(eve, c.master, "eve@example.com", "another password");
  const res = await eve.goto(`${c.master}/ui/deployments/${id}`);
  expect(res!.status()).toBe(404);
  expect(await eve.textContent("main")).not.toContain("Live on production");
  // ...and the admin pages are closed to her, as a page.
  const users = await eve.goto(`${c.master}/ui/users`);
  expect(users!.status()).toBe(403);
  expect(await eve.textContent("h1")).toBe("Not allowed");
  await eve.close();
  await page.close();
});

test("create a site with SPA and replicas, toggle SPA and replicas in its settings, and delete it only after typing its name", async () => {
  const page = await adminPage();
  await page.fill("#site-name", "Bad Name");
  await page.click("#site-create button[type=submit]");
  // The browser's own pattern check stops it first; an invalid name never reaches the server.
  expect(new URL(page.url()).pathname).toBe("/ui/sites");
  await page.fill("#site-name", "shop");
  await page.check("#site-spa");
  await page.fill("#site-replicas", "1");
  await page.click("#site-create button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites/shop`);
  let info = await api(c.master, "GET", "/api/site/shop", undefined, c.admin.token);
  expect(info.body.settings.spa).toBe(true);
  expect(info.body.replicas).toBe(1);
  expect(await page.textContent("#site-live")).toContain("Nothing on production yet");
  await checkPage(page);

  // A taken name is an error in the form, not a page of JSON.
  await page.goto(`${c.master}/ui/sites`);
  await page.fill("#site-name", "shop");
  await page.click("#site-create button[type=submit]");
  await page.waitForSelector("#site-create [role=alert]");
  expect(await page.textContent("#site-create [role=alert]")).toContain("taken");
  await checkPage(page);

  await page.goto(`${c.master}/ui/sites/shop`);
  await page.uncheck("#settings-spa");
  await page.fill("#settings-replicas", "2");
  await page.click("#site-settings button[type=submit]");
  await page.waitForSelector("#site-settings [role=status]");
  info = await api(c.master, "GET", "/api/site/shop", undefined, c.admin.token);
  expect(info.body.settings.spa).toBe(false);
  expect(info.body.replicas).toBe(2);

  // Delete: a wrong confirmation deletes nothing.
  await page.fill("#delete-confirm", "shopp");
  await page.click("#site-delete button[type=submit]");
  await page.waitForSelector("#site-delete [role=alert]");
  expect((await api(c.master, "GET", "/api/site/shop", undefined, c.admin.token)).status).toBe(200);
  await page.fill("#delete-confirm", "shop");
  await page.click("#site-delete button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites`);
  expect((await api(c.master, "GET", "/api/site/shop", undefined, c.admin.token)).status).toBe(404);
  await page.close();
});

test("deploy a folder of 1,000 files from the browser: hashed in a worker, only missing files sent, then the live log shows it on production", async () => {
  const files: Record<string, string> = { "index.html": "<h1>big v1</h1>", ".env": "SECRET=1", "node_modules/x/index.js": "x", ".git/config": "[core]" };
  for (let i = 0; i < 999; i++) files[`assets/d${i % 10}/file-${i}.txt`] = `file ${i}\n`;
  const dir = site(files);
  const page = await adminPage();
  await page.fill("#site-name", "big");
  await page.click("#site-create button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites/big`);
  await page.setInputFiles("#deploy-folder", dir);
  await page.waitForFunction(() => !(document.getElementById("deploy-start") as HTMLButtonElement).disabled);
  expect(await page.textContent("#deploy-summary")).toContain("1000 files");
  expect(await page.textContent("#deploy-summary")).toContain("3 left out");
  await checkPage(page);
  await page.click("#deploy-start");
  await page.waitForURL(/\/ui\/deployments\//, { timeout: 60_000 });
  const id = new URL(page.url()).pathname.split("/").pop()!;
  await page.waitForSelector("#deploy-log .badge.prod", { timeout: 30_000 });
  expect(await page.textContent("#deploy-log")).toContain("Live on production.");
  await checkPage(page);
  const d = await api(c.master, "GET", `/api/deployment/${id}`, undefined, c.admin.token);
  expect(d.body.files_total).toBe(1000);
  expect(d.body.files_uploaded).toBe(1000);
  expect(await (await c.get(`big.${c.domain}`, "/")).text()).toBe("<h1>big v1</h1>");
  expect(await (await c.get(`big.${c.domain}`, "/assets/d7/file-997.txt")).text()).toBe("file 997\n");
  expect((await c.get(`big.${c.domain}`, "/.env")).status).toBe(404);

  // The same folder with one file changed: the node lacks one digest, so one file is uploaded.
  await Bun.write(`${dir}/index.html`, "<h1>big v2</h1>");
  await page.goto(`${c.master}/ui/sites/big`);
  await page.setInputFiles("#deploy-folder", dir);
  await page.waitForFunction(() => !(document.getElementById("deploy-start") as HTMLButtonElement).disabled);
  await page.click("#deploy-start");
  await page.waitForURL((u) => u.pathname.startsWith("/ui/deployments/") && !u.pathname.endsWith(id), { timeout: 60_000 });
  await page.waitForSelector("#deploy-log .badge.prod", { timeout: 30_000 });
  const id2 = new URL(page.url()).pathname.split("/").pop()!;
  expect((await api(c.master, "GET", `/api/deployment/${id2}`, undefined, c.admin.token)).body.files_uploaded).toBe(1);
  expect(await (await c.get(`big.${c.domain}`, "/")).text()).toBe("<h1>big v2</h1>");
  await page.close();
}, 120_000);

test("dropping files on the drop zone deploys them as a preview", async () => {
  const page = await adminPage();
  await page.fill("#site-name", "dropped");
  await page.click("#site-create button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites/dropped`);
  await page.uncheck("#deploy-prod");
  const dt = await page.evaluateHandle(() => {
    const t = new DataTransfer();
    t.items.add(new File(["<p>dropped</p>"], "index.html", { type: "text/html" }));
    t.items.add(new File(["body{}"], "style.css", { type: "text/css" }));
    t.items.add(new File(["x"], ".DS_Store"));
    return t;
  });
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: dt });
  await page.waitForFunction(() => !(document.getElementById("deploy-start") as HTMLButtonElement).disabled);
  expect(await page.textContent("#deploy-summary")).toContain("2 files");
  await page.click("#deploy-start");
  await page.waitForURL(/\/ui\/deployments\//, { timeout: 30_000 });
  await page.waitForSelector("#deploy-log .badge.ready", { timeout: 30_000 });
  expect(await page.textContent("#deploy-log")).toContain("Preview ready.");
  const id = new URL(page.url()).pathname.split("/").pop()!;
  expect(await (await c.get(`${id}--dropped.${c.domain}`, "/")).text()).toBe("<p>dropped</p>");
  await page.close();
});

test("the sites list and the site page show a deploy starting and finishing without a reload", async () => {
  await deploy("live", { "index.html": "v1" });
  const list = await adminPage();
  const show = await adminPage();
  await show.goto(`${c.master}/ui/sites/live`);
  for (const p of [list, show]) await p.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  // Started (created, nothing uploaded yet): both pages show it pending.
  const created = await api(c.master, "POST", "/api/deployment", { site: "live", production: true, manifest: [{ path: "a.txt", sha256: "a".repeat(64), size: 1 }] }, c.admin.token);
  // A page in the background pauses its stream (htmx's pauseOnBackground) and catches up when shown.
  await list.bringToFront();
  await list.waitForSelector(`tr[data-site="live"] [data-status="pending"]`, { timeout: 15_000 });
  await show.bringToFront();
  await show.waitForSelector(`tr[data-deployment="${created.body.deployment.id}"] [data-status="pending"]`, { timeout: 15_000 });
  // A real deploy finishing: both pages show it ready, the site page on production.
  const id = await deploy("live", { "index.html": "v2" });
  await list.bringToFront();
  await list.waitForSelector(`tr[data-site="live"] [data-status="ready"]`, { timeout: 15_000 });
  await show.bringToFront();
  await show.waitForSelector(`tr[data-deployment="${id}"] .badge.prod`, { timeout: 15_000 });
  for (const p of [list, show]) expect(await p.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await list.close();
  await show.close();
});

test("put an earlier deployment on production with a click, then roll back", async () => {
  const v1 = await deploy("blog", { "index.html": "v1" });
  const v2 = await deploy("blog", { "index.html": "v2" });
  const page = await adminPage();
  await page.goto(`${c.master}/ui/sites/blog`);
  const prodRow = () => page.getAttribute("tr:has(.badge.prod)", "data-deployment");
  expect(await prodRow()).toBe(v2);
  await page.click(`tr[data-deployment="${v1}"] button`);
  await page.waitForSelector("#site-notice >> text=is live on production");
  await page.waitForFunction((v) => document.querySelector("tr:has(.badge.prod)")?.getAttribute("data-deployment") === v, v1);
  expect(await (await c.get(`blog.${c.domain}`, "/")).text()).toBe("v1");
  await page.click("text=Roll back");
  await page.waitForFunction((v) => document.querySelector("tr:has(.badge.prod)")?.getAttribute("data-deployment") === v, v2);
  expect(await (await c.get(`blog.${c.domain}`, "/")).text()).toBe("v2");
  await checkPage(page);
  await page.close();
});

test("a deployment in progress streams its log and stops streaming once it failed", async () => {
  const page = await adminPage();
  const created = await api(c.master, "POST", "/api/deployment", { site: "blog", manifest: [{ path: "a.txt", sha256: "b".repeat(64), size: 1 }] }, c.admin.token);
  const id = created.body.deployment.id;
  await page.goto(`${c.master}/ui/deployments/${id}`);
  expect(await page.getAttribute("#deploy-log-live", "hx-sse:connect")).toBe(`/ui/events/deployments/${id}`);
  await api(c.master, "POST", "/api/deployment/status", { deployment_id: id, phase: "failed", message: "disk full (simulated by the test)" }, c.nodes[0]!.token);
  await page.waitForSelector("#deploy-log .badge.failed", { timeout: 10_000 });
  expect(await page.textContent("#deploy-log")).toContain("disk full");
  await checkPage(page);
  // A finished deployment's page does not stream.
  await page.reload();
  expect(await page.getAttribute("#deploy-log-live", "hx-sse:connect")).toBeNull();
  await page.close();
});

test("API tokens: create one with scope, sites and expiry, shown once, which works; revoke it and it stops working", async () => {
  const page = await adminPage();
  await page.goto(`${c.master}/ui/tokens`);
  expect(await page.textContent("main")).toContain("No API tokens yet");
  await page.fill("#token-name", "ci");
  await page.selectOption("#token-scope", "deploy");
  await page.fill("#token-sites", "blog");
  await page.selectOption("#token-expires", "30");
  await page.click("#tokens form button[type=submit]");
  await page.waitForSelector("#new-token");
  const token = (await page.textContent("#new-token"))!.trim();
  expect(token).toStartWith("spt_");
  expect((await api(c.master, "GET", "/api/site/blog", undefined, token)).status).toBe(200);
  expect((await api(c.master, "POST", "/api/site", { name: "other" }, token)).status).toBe(403);
  const listed = (await api(c.master, "GET", "/api/tokens", undefined, c.admin.token)).body.find((t: { name: string }) => t.name === "ci");
  expect(listed.scope).toBe("deploy");
  expect(listed.sites).toEqual(["blog"]);
  expect(Date.parse(listed.expires_at) - Date.now()).toBeGreaterThan(29 * 86400_000);
  await checkPage(page);
  // Shown once: the page reloaded lists it without the secret.
  await page.reload();
  expect(await page.textContent("main")).not.toContain(token);
  await page.click(`tr[data-token="ci"] button`);
  await page.waitForSelector("#tokens [role=status] >> text=Token revoked");
  expect((await api(c.master, "GET", "/api/site/blog", undefined, token)).status).toBe(401);
  await page.close();
});

test("the admin invites a user who logs in with the password shown once and changes it", async () => {
  const page = await adminPage();
  await page.goto(`${c.master}/ui/users`);
  await page.fill("#invite-email", "newcomer@example.com");
  await page.click("#users form button[type=submit]");
  await page.waitForSelector("#new-password-value");
  const password = (await page.textContent("#new-password-value"))!.trim();
  expect(await page.textContent("#users table")).toContain("newcomer@example.com");
  await checkPage(page);

  const them = await browser.newPage();
  await login(them, c.master, "newcomer@example.com", password);
  expect(await them.textContent("main")).toContain("No sites yet");
  await them.goto(`${c.master}/ui/account`);
  await checkPage(them);
  await them.fill("#old-password", "wrong one");
  await them.fill("#new-password", "a brand new password");
  await them.click("#account-password button[type=submit]");
  await them.waitForSelector("#account-password [role=alert]");
  expect(await them.textContent("#account-password [role=alert]")).toContain("old password is wrong");
  // The form comes back empty after an error (passwords are never sent back to the page).
  await them.fill("#old-password", password);
  await them.fill("#new-password", "a brand new password");
  await them.click("#account-password button[type=submit]");
  await them.waitForURL(/\/ui\/login/);
  expect(await them.textContent("[role=status]")).toContain("password was changed");
  await login(them, c.master, "newcomer@example.com", "a brand new password");
  await them.close();
  await page.close();
});

test("the admin sees the nodes' health update live and adds a node, which shows the command to start it", async () => {
  const page = await adminPage();
  await page.goto(`${c.master}/ui/nodes`);
  expect(await page.textContent(`tr[data-node="node1"] .badge`)).toBe("online");
  const first = await page.textContent(`tr[data-node="node1"] td[data-label="Last heartbeat"]`);
  // Heartbeats every 3 s arrive on the page by the event stream, without a reload.
  await page.waitForFunction((t) => document.querySelector(`tr[data-node="node1"] td[data-label="Last heartbeat"]`)?.textContent !== t, first, { timeout: 15_000 });
  await page.fill("#node-name", "node9");
  await page.click("#node-add button[type=submit]");
  await page.waitForSelector("#node-command");
  const command = await page.textContent("#node-command");
  expect(command).toMatch(/SPROUT_AGENT_TOKEN=spa_\S+ sprout agent --master http:\/\/127\.0\.0\.1:\d+ --name node9/);
  await page.waitForSelector(`tr[data-node="node9"]`, { timeout: 10_000 });
  await checkPage(page);
  await page.close();
});

test("tenants' text shows as text, and the pages run only the master's own script files", async () => {
  // Text a tenant controls, written as markup: a deploy message, a log line, a token name.
  const made = await api(c.master, "POST", "/api/deployment", { site: "marks", manifest: [{ path: "a.txt", sha256: "e".repeat(64), size: 1 }], message: `<img src=x onerror="window.pwned=1">` }, c.admin.token);
  const id = made.body.deployment.id;
  await api(c.master, "POST", "/api/deployment/status", { deployment_id: id, phase: "log", message: `<script>window.pwned=2</script> in "a.txt"` }, c.nodes[0]!.token);
  await api(c.master, "POST", "/api/tokens", { name: `<svg onload="window.pwned=3">`, scope: "read" }, c.admin.token);
  const page = await adminPage();
  // Every violation of the page's Content-Security-Policy, as the browser reports it.
  await page.addInitScript(() => {
    const w = window as unknown as { violations: string[] };
    w.violations = [];
    document.addEventListener("securitypolicyviolation", (e) => w.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const violations = () => page.evaluate(() => (window as unknown as { violations: string[] }).violations);
  const pwned = () => page.evaluate(() => (window as unknown as { pwned?: number }).pwned);

  await page.goto(`${c.master}/ui/sites/marks`);
  expect(await page.textContent(`tr[data-deployment="${id}"] .deploy-message`)).toBe(`<img src=x onerror="window.pwned=1">`);
  // The page's htmx works under the policy: the traffic card's period switches in place.
  await page.click("#site-traffic button:has-text('Last 7 days')");
  await page.waitForSelector("#site-traffic button[aria-pressed=true]:has-text('Last 7 days')");
  await page.goto(`${c.master}/ui/deployments/${id}`);
  expect(await page.textContent("#deploy-log .log")).toContain(`<script>window.pwned=2</script> in "a.txt"`);
  await page.goto(`${c.master}/ui/tokens`);
  expect(await page.textContent("#tokens table")).toContain(`<svg onload="window.pwned=3">`);
  await checkPage(page);
  expect(await pwned()).toBeUndefined();
  expect(await violations()).toEqual([]);

  // Should some text ever reach the page as markup, its inline script or handler does not run.
  await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.pwned = 4";
    document.body.append(s);
    document.body.insertAdjacentHTML("beforeend", `<img src="data:," onerror="window.pwned = 5">`);
  });
  await Bun.sleep(200);
  expect(await pwned()).toBeUndefined();
  expect((await violations()).some((v) => v.startsWith("script-src"))).toBe(true);
  await page.close();
});

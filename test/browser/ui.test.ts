import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromium, type Browser } from "playwright-core";
import { cleanup, cluster, site, type Cluster } from "../helpers/cluster";

let c: Cluster;
let browser: Browser;
const deployments: Record<string, string> = {};

beforeAll(async () => {
  c = await cluster();
  for (const v of ["v1", "v2"]) {
    const r = await c.sprout(["deploy", site({ "index.html": v }), "--site", "blog", "--prod", "--json"]);
    if (r.code !== 0) throw new Error(r.stderr);
    deployments[v] = JSON.parse(r.stdout).deployment_id;
  }
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
});
afterAll(async () => {
  await browser?.close();
  await c?.stop();
  await cleanup();
});

test("log in, see a site's deployments and their log, put an earlier one on production with a click, see the nodes", async () => {
  const page = await browser.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${c.master}/ui/sites`);
  expect(new URL(page.url()).pathname).toBe("/ui/login");

  await page.fill("input[name=email]", c.admin.email);
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  expect(await page.textContent("[role=alert]")).toContain("Wrong email or password");

  await page.fill("input[name=password]", c.admin.password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites`);
  await page.click("text=blog");
  await page.waitForURL(`${c.master}/ui/sites/blog`);
  const prodRow = () => page.getAttribute("tr:has(.badge.prod)", "data-deployment");
  expect(await prodRow()).toBe(deployments.v2!);
  await page.screenshot({ path: "/tmp/sprout-ui-site.png" });

  // htmx posts, the server waits for the nodes, the list comes back with the marker moved.
  await page.click(`tr[data-deployment="${deployments.v1}"] button`);
  await page.waitForSelector("text=is live on production");
  expect(await prodRow()).toBe(deployments.v1!);
  expect(await (await c.get(`blog.${c.domain}`, "/")).text()).toBe("v1");

  await page.click(`a[href="/ui/deployments/${deployments.v2}"]`);
  await page.waitForSelector("#deploy-log");
  expect(await page.textContent("#deploy-log")).toContain("Live on production.");
  // A finished deployment's log no longer polls.
  expect(await page.getAttribute("#deploy-log", "hx-trigger")).toBeNull();

  await page.goto(`${c.master}/ui/nodes`);
  expect(await page.textContent("#nodes")).toContain("node1");
  expect(await page.textContent("#nodes .badge")).toBe("online");
  await page.screenshot({ path: "/tmp/sprout-ui-nodes.png" });

  // Someone else's deployment is a 404 page, never its data.
  const other = await browser.newPage();
  await c.user("eve@example.com");
  await other.goto(`${c.master}/ui/login`);
  await other.fill("input[name=email]", "eve@example.com");
  await other.fill("input[name=password]", "another password");
  await other.click("button[type=submit]");
  await other.waitForURL(`${c.master}/ui/sites`);
  const res = await other.goto(`${c.master}/ui/deployments/${deployments.v1}`);
  expect(res!.status()).toBe(404);
  expect(await other.textContent("main")).not.toContain("Live on production");
});

test("a deployment still in progress refreshes its log by itself until it is done", async () => {
  const page = await browser.newPage();
  await page.goto(`${c.master}/ui/login`);
  await page.fill("input[name=email]", c.admin.email);
  await page.fill("input[name=password]", c.admin.password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${c.master}/ui/sites`);
  // A deployment created but not uploaded yet stays pending: its page polls.
  const created = await fetch(`${c.master}/api/deployment`, {
    method: "POST",
    headers: { authorization: `Bearer ${c.admin.token}`, "content-type": "application/json" },
    body: JSON.stringify({ site: "blog", manifest: [{ path: "a.txt", sha256: "a".repeat(64), size: 1 }] }),
  }).then((r) => r.json() as Promise<{ deployment: { id: string } }>);
  await page.goto(`${c.master}/ui/deployments/${created.deployment.id}`);
  expect(await page.getAttribute("#deploy-log", "hx-trigger")).toBe("every 1s");
  // The node reports a failure: the next refresh shows it and stops polling.
  await fetch(`${c.master}/api/deployment/status`, {
    method: "POST",
    headers: { authorization: `Bearer ${c.nodes[0]!.token}`, "content-type": "application/json" },
    body: JSON.stringify({ deployment_id: created.deployment.id, phase: "failed", message: "disk full (simulated by the test)" }),
  });
  await page.waitForSelector("#deploy-log .badge.failed", { timeout: 5000 });
  expect(await page.textContent("#deploy-log")).toContain("disk full");
  expect(await page.getAttribute("#deploy-log", "hx-trigger")).toBeNull();
});

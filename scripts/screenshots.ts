// bun run screenshots: PNGs of the admin UI's main pages at 1280 px and 390 px, for reviewers who
// want to look without running anything. Starts a throwaway cluster (compiled binary, real agent and
// nginx) with a little content, drives the system's Chromium, writes into screenshots/ (gitignored).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanup, cluster, startDns } from "../test/helpers/cluster";
import { deployFiles, launch, login } from "../test/browser/helpers";

const out = join(import.meta.dir, "..", "screenshots");
mkdirSync(out, { recursive: true });
// A DNS server of its own, so the custom domains shown are one verified and one still pending.
const dns = await startDns(["--local=/example.test/", "--local=/sprout.test/", "--host-record=blog.sprout.test,127.0.0.1", "--cname=www.example.test,blog.sprout.test"]);
const c = await cluster({ masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`] });
const browser = await launch();
try {
  const deploy = (site: string, v: string, prod = true) => deployFiles(c.master, c.admin.token, site, { "index.html": `<h1>${v}</h1>`, "about.html": v }, prod);
  await deploy("blog", "v1");
  await deploy("blog", "v2");
  const preview = await deploy("blog", "v3 draft", false);
  await deploy("handbook", "handbook");
  await c.user("teammate@example.com");
  await fetch(`${c.master}/api/tokens`, { method: "POST", headers: { authorization: `Bearer ${c.admin.token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "github-actions", scope: "deploy", sites: ["blog"], expires_in: 90 * 86400 }) });

  const asAdmin = (method: string, path: string, body: unknown) =>
    fetch(`${c.master}${path}`, { method, headers: { authorization: `Bearer ${c.admin.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  await asAdmin("POST", "/api/domains", { name: "www.example.test", site: "blog" });
  await asAdmin("POST", "/api/domains", { name: "example.test", site: "blog" });
  // Some traffic for the chart (nodes report it with their heartbeats, within seconds).
  for (let i = 0; i < 40; i++) await (await c.get(`blog.${c.domain}`, i % 8 ? "/" : "/missing")).text();
  await Bun.sleep(9000);

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const pages: [string, string][] = [
    ["sites", "/ui/sites"],
    ["site", "/ui/sites/blog"],
    ["deployment", `/ui/deployments/${preview}`],
    ["tokens", "/ui/tokens"],
    ["account", "/ui/account"],
    ["users", "/ui/users"],
    ["nodes", "/ui/nodes"],
    ["audit", "/ui/audit"],
    ["settings", "/ui/settings"],
    ["not-found", "/ui/no-such-page"],
  ];
  await page.goto(`${c.master}/ui/login`);
  await shoot(page, "login");
  await login(page, c.master, c.admin.email, c.admin.password);
  for (const [name, path] of pages) {
    await page.goto(`${c.master}${path}`);
    await shoot(page, name);
  }
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await c.stop();
  await cleanup();
}

async function shoot(page: import("playwright-core").Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(out, `${name}-${width}.png`), fullPage: true });
  }
}

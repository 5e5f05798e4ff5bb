// bun run screenshots: PNGs of the admin UI's main pages at 1280 px and 390 px, for reviewers who
// want to look without running anything. Starts a throwaway cluster (compiled binary, real agent and
// nginx) with a little content, drives the system's Chromium, writes into screenshots/ (gitignored).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanup, cluster } from "../test/helpers/cluster";
import { deployFiles, launch, login } from "../test/browser/helpers";

const out = join(import.meta.dir, "..", "screenshots");
mkdirSync(out, { recursive: true });
const c = await cluster();
const browser = await launch();
try {
  const deploy = (site: string, v: string, prod = true) => deployFiles(c.master, c.admin.token, site, { "index.html": `<h1>${v}</h1>`, "about.html": v }, prod);
  await deploy("blog", "v1");
  await deploy("blog", "v2");
  const preview = await deploy("blog", "v3 draft", false);
  await deploy("handbook", "handbook");
  await c.user("teammate@example.com");
  await fetch(`${c.master}/api/tokens`, { method: "POST", headers: { authorization: `Bearer ${c.admin.token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "github-actions", scope: "deploy", sites: ["blog"], expires_in: 90 * 86400 }) });

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

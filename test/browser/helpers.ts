// Browser test helpers: Chromium from the system (never downloaded), logging in, and the checks every
// page gets: no sideways scrolling at 390 px, and axe-core with no serious or critical violation.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const AXE = readFileSync(join(import.meta.dir, "..", "..", "node_modules", "axe-core", "axe.min.js"), "utf8");

/** launch starts the system's Chromium headless. */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

/** login opens the login page and signs in; answers once the sites page is there. */
export async function login(page: Page, master: string, email: string, password: string) {
  await page.goto(`${master}/ui/login`);
  await page.fill("#login-email", email);
  await page.fill("#login-password", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${master}/ui/sites`);
}

/**
 * checkPage asserts what every page must do: at 390 px wide nothing scrolls sideways, and axe-core
 * finds no serious or critical accessibility violation (at 390 px and at the page's own width).
 */
export async function checkPage(page: Page) {
  const before = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const size of [{ width: 390, height: 844 }, before]) {
    await page.setViewportSize(size);
    if (size.width === 390) {
      const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth }));
      expect({ path: new URL(page.url()).pathname, ...widths, fits: Math.max(widths.doc, widths.body) <= widths.view }).toMatchObject({ fits: true });
    }
    const hasAxe = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== "undefined");
    if (!hasAxe) await page.addScriptTag({ content: AXE });
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (c: Document) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
      const r = await axe.run(document);
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    });
    expect({ path: new URL(page.url()).pathname, width: size.width, violations }).toEqual({ path: new URL(page.url()).pathname, width: size.width, violations: [] });
  }
}

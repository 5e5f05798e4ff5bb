// Browser test helpers: Chromium from the system (never downloaded), logging in, and the checks every
// page gets: no sideways scrolling at 390 px, and axe-core with no serious or critical violation.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { api } from "../helpers/cluster";
import { makeTar, sha256 } from "../helpers/tar";

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
 * deployFiles publishes files with the deploy protocol over HTTP (what the CLI does, without starting
 * a process per deploy) and waits until the deployment is ready (and on production when `prod`).
 */
export async function deployFiles(master: string, token: string, name: string, files: Record<string, string>, prod = true): Promise<string> {
  const manifest = Object.entries(files).map(([path, body]) => ({ path, sha256: sha256(body), size: Buffer.byteLength(body) }));
  const created = await api(master, "POST", "/api/deployment", { site: name, production: prod, manifest }, token);
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const { deployment, upload } = created.body;
  const init = await api(upload.agent_url, "POST", "/api/upload/init", { grant: upload.grant, deployment_id: deployment.id, manifest });
  const tar = await makeTar(Object.entries(files).map(([name, body]) => ({ header: { name }, body })));
  const sent = await fetch(`${upload.agent_url}/api/upload/file`, { method: "POST", headers: { "content-type": "application/x-tar", "x-upload-token": init.body.upload_token, "x-deployment-id": deployment.id }, body: new Blob([tar as Uint8Array<ArrayBuffer>]) });
  if (!sent.ok) throw new Error(await sent.text());
  const end = Date.now() + 20_000;
  for (;;) {
    const d = (await api(master, "GET", `/api/deployment/${deployment.id}`, undefined, token)).body;
    if (d.status === "ready" && (!prod || d.is_production)) return deployment.id;
    if (d.status === "failed" || Date.now() > end) throw new Error(`deployment ${deployment.id}: ${d.status} ${d.error ?? ""}`);
    await Bun.sleep(100);
  }
}

/**
 * checkPage asserts what every page must do: at 390 px wide nothing scrolls sideways, and axe-core
 * finds no serious or critical accessibility violation (WCAG 2.1 A and AA rules, and axe's best
 * practices), in the light and in the dark colour scheme.
 */
export async function checkPage(page: Page) {
  const before = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 390, height: 844 });
  const path = new URL(page.url()).pathname;
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth }));
  expect({ path, ...widths, fits: Math.max(widths.doc, widths.body) <= widths.view }).toMatchObject({ fits: true });
  const hasAxe = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== "undefined");
  // Evaluated by the test's own channel: the page's policy refuses inline <script> elements.
  if (!hasAxe) await page.evaluate(AXE);
  // Light and dark colour schemes alike (contrast is checked in both).
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = await page.evaluate(async () => {
      type Result = { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
      const axe = (window as unknown as { axe: { run: (c: Document, o: unknown) => Promise<Result> } }).axe;
      const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] });
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    });
    expect({ path, colorScheme, violations }).toEqual({ path, colorScheme, violations: [] });
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(before);
}

// The admin UI shows the audit log (admin only) and each site's traffic, as `sprout audit` and
// `sprout stats` do (operations issue). Read as a browser gets them, over HTTP from the binary.
import { expect, test } from "bun:test";
import { site, useCluster } from "../helpers/cluster";

const cluster = useCluster({ agents: 1 });

async function cookieOf(email: string, password: string): Promise<string> {
  const r = await fetch(`${cluster().master}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`,
  });
  return r.headers.getSetCookie().map((x) => x.split(";")[0]).join("; ");
}
const page = async (path: string, cookie: string) => {
  const r = await fetch(`${cluster().master}${path}`, { headers: { cookie } });
  return { status: r.status, html: await r.text() };
};

test("the admin's audit page lists who changed what, filters by action, and is the admin's only", async () => {
  const c = cluster();
  expect((await c.sprout(["sites", "create", "audited-ui"])).code).toBe(0);
  const cookie = await cookieOf(c.admin.email, c.admin.password);
  const all = await page("/ui/audit", cookie);
  expect(all.status).toBe(200);
  expect(all.html).toContain('href="/ui/audit"');
  // One row: who (the admin), what (site.create) and on what (the site).
  expect(all.html).toMatch(/<tr data-action="site\.create"[^>]*>\s*<td[^>]*>[^]*?<\/td>\s*<td data-label="Who">admin@example\.com<\/td>\s*<td data-label="Action"><code>site\.create<\/code><\/td>\s*<td data-label="On">audited-ui<\/td>/);
  const filtered = await page("/ui/audit?action=user.login", cookie);
  expect(filtered.html).toContain("user.login");
  expect(filtered.html).not.toContain("site.create");
  await c.user("plain@example.com");
  const other = await page("/ui/audit", await cookieOf("plain@example.com", "another password"));
  expect(other.status).toBe(403);
  expect(other.html).not.toContain("site.create");
});

test("a site's page shows its traffic of the last 24 hours, summed from the nodes", async () => {
  const c = cluster();
  expect((await c.sprout(["deploy", site({ "index.html": "counted" }), "--site", "counted", "--prod"])).code).toBe(0);
  for (let i = 0; i < 5; i++) expect((await c.get(`counted.${c.domain}`)).status).toBe(200);
  const cookie = await cookieOf(c.admin.email, c.admin.password);
  let requests = 0;
  const end = Date.now() + 30_000;
  while (requests < 5 && Date.now() < end) {
    requests = Number(/data-requests="(\d+)"/.exec((await page("/ui/sites/counted", cookie)).html)?.[1] ?? 0);
    await Bun.sleep(500);
  }
  expect(requests).toBeGreaterThanOrEqual(5);
});

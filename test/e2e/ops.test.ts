// Health and metrics (operations issue): /healthz and /readyz on master and agents, Prometheus
// /metrics on both that a Prometheus text parser reads, protected by a token or private addresses.
import { describe, expect, test } from "bun:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { assertMetricsAccess } from "../../src/master/metrics";
import { site, useCluster } from "../helpers/cluster";

const cluster = useCluster({ masterArgs: ["--metrics-token", "scrape-me-please"] });

type Family = { name: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[] };
const scrape = async (url: string, token?: string) => {
  const r = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, families: r.ok ? (parsePrometheusTextFormat(await r.text()) as Family[]) : [] };
};
const value = (fs: Family[], name: string, labels: Record<string, string> = {}) =>
  Number(fs.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);

describe("master", () => {
  test("/healthz and /readyz answer 200 while it can write its database", async () => {
    const c = cluster();
    expect((await fetch(`${c.master}/healthz`)).status).toBe(200);
    const ready = await fetch(`${c.master}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).problems).toEqual([]);
  });

  test("/metrics needs the token, then parses as Prometheus text with deploys, agents and the task queue", async () => {
    const c = cluster();
    expect((await c.sprout(["deploy", site({ "index.html": "metered" }), "--site", "metered", "--prod"])).code).toBe(0);
    expect((await scrape(c.master)).status).toBe(401);
    expect((await scrape(c.master, "wrong-token-wrong-token")).status).toBe(401);
    const { status, families } = await scrape(c.master, "scrape-me-please");
    expect(status).toBe(200);
    expect(value(families, "sprout_agents", { status: "online" })).toBe(1);
    expect(value(families, "sprout_deployments", { status: "ready" })).toBeGreaterThanOrEqual(1);
    expect(value(families, "sprout_deployments_finished_total", { status: "ready" })).toBeGreaterThanOrEqual(1);
    expect(families.some((f) => f.name === "sprout_deployment_duration_seconds")).toBe(true);
    expect(value(families, "sprout_task_queue_depth")).toBeGreaterThanOrEqual(0);
    expect(value(families, "sprout_agent_disk_free_bytes", { agent: "node1" })).toBeGreaterThan(0);
  });

  test("without a token, only private addresses may scrape", () => {
    expect(() => assertMetricsAccess(null, "127.0.0.1", undefined)).not.toThrow();
    expect(() => assertMetricsAccess(null, "10.1.2.3", undefined)).not.toThrow();
    expect(() => assertMetricsAccess(null, "203.0.113.9", undefined)).toThrow(/private addresses/);
    expect(() => assertMetricsAccess(null, "2001:db8::1", undefined)).toThrow(/private addresses/);
  });
});

describe("agent", () => {
  test("/healthz, /readyz and /metrics of a node", async () => {
    const c = cluster();
    const node = c.nodes[0]!;
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    const { status, families } = await scrape(node.url);
    expect(status).toBe(200);
    expect(value(families, "sprout_node_nginx_up")).toBe(1);
    expect(value(families, "sprout_node_disk_free_bytes")).toBeGreaterThan(0);
  });

  test("a node with less free disk than its floor is not ready, and says why", async () => {
    const c = cluster();
    const full = await c.addAgent("tight", ["--min-free-disk", String(1024 ** 5)]);
    const r = await fetch(`${full.url}/readyz`);
    expect(r.status).toBe(503);
    expect((await r.json()).problems.join(" ")).toContain("disk");
  });
});

describe("audit log", () => {
  test("logins (failed ones too), tokens, sites, deploys and promotes are recorded with who and from where; only the admin reads them", async () => {
    const c = cluster();
    const bad = await fetch(`${c.master}/api/user/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: c.admin.email, password: "wrong password!" }) });
    expect(bad.status).toBe(401);
    expect((await c.sprout(["tokens", "create", "audited"])).code).toBe(0);
    expect((await c.sprout(["sites", "create", "audited-site"])).code).toBe(0);
    expect((await c.sprout(["deploy", site({ "index.html": "a" }), "--site", "audited-site", "--prod"])).code).toBe(0);
    expect((await c.sprout(["deploy", site({ "index.html": "b" }), "--site", "audited-site", "--prod"])).code).toBe(0);
    expect((await c.sprout(["rollback", "--site", "audited-site"])).code).toBe(0);
    const r = await c.sprout(["audit", "--json", "--limit", "50"]);
    expect(r.code).toBe(0);
    const log = JSON.parse(r.stdout) as { user: string | null; action: string; target: string | null; ip: string | null; outcome: string }[];
    const has = (action: string, target?: string, outcome = "ok") => log.some((e) => e.action === action && (target === undefined || e.target === target) && e.outcome === outcome);
    expect(has("user.login", c.admin.email, "failed")).toBe(true);
    expect(has("token.create", "audited")).toBe(true);
    expect(has("site.create", "audited-site")).toBe(true);
    expect(has("deployment.create", "audited-site")).toBe(true);
    expect(has("site.rollback", "audited-site")).toBe(true);
    const mine = log.find((e) => e.action === "site.create")!;
    expect(mine.user).toBe(c.admin.email);
    expect(mine.ip).toBe("127.0.0.1");
    // Only the admin reads the log.
    const other = await c.user("auditee@example.com");
    expect((await fetch(`${c.master}/api/audit`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
  });
});

describe("traffic per site", () => {
  test("requests served by a node show in sprout stats, per hour and status class; other sites' do not", async () => {
    const c = cluster();
    expect((await c.sprout(["deploy", site({ "index.html": "counted" }), "--site", "counted", "--prod"])).code).toBe(0);
    for (let i = 0; i < 12; i++) await (await c.get(`counted.${c.domain}`, "/")).text();
    for (let i = 0; i < 5; i++) await (await c.get(`counted.${c.domain}`, "/missing")).text();
    // nginx flushes its log every 5 s and the agent reports with its next heartbeat (3 s).
    let hours: any[] = [];
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const r = await c.sprout(["stats", "counted", "--json"]);
      hours = JSON.parse(r.stdout);
      if (hours.reduce((n, h) => n + h.requests, 0) >= 17) break;
      await Bun.sleep(500);
    }
    const sum = (k: string) => hours.reduce((n, h) => n + h[k], 0);
    expect(sum("requests")).toBe(17);
    expect(sum("s2xx")).toBe(12);
    expect(sum("s4xx")).toBe(5);
    expect(sum("bytes")).toBeGreaterThan(12 * "counted".length - 1);
    const other = await c.user("stranger@example.com");
    expect((await fetch(`${c.master}/api/site/counted/traffic`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
  });
});

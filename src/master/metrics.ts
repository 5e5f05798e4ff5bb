import { sql } from "drizzle-orm";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { timingSafeEqual } from "node:crypto";
import type { Db } from "../db";
import { agents, deployments, tasks } from "../db/schema";
import { SproutError } from "../shared/errors";
import { isPrivateAddress } from "../shared/private-address";

/**
 * MasterMetrics is the master's Prometheus registry (prom-client, text format 0.0.4). Counters and
 * histograms are fed as things happen (a deployment finishing); gauges are read from the database
 * when /metrics is scraped, so they are never stale and cost nothing between scrapes.
 */
export class MasterMetrics {
  readonly registry = new Registry();
  private finished = new Counter({ name: "sprout_deployments_finished_total", help: "Deployments that finished, by outcome", labelNames: ["status"], registers: [this.registry] });
  private duration = new Histogram({
    name: "sprout_deployment_duration_seconds",
    help: "From creation to live (or failed)",
    labelNames: ["status"],
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });

  constructor(db: Db) {
    const registry = this.registry;
    new Gauge({
      name: "sprout_deployments",
      help: "Deployments by status",
      labelNames: ["status"],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of db.select({ status: deployments.status, n: sql<number>`count(*)` }).from(deployments).groupBy(deployments.status).all()) this.set({ status: r.status }, r.n);
      },
    });
    new Gauge({
      name: "sprout_task_queue_depth",
      help: "Tasks waiting for an agent (pending or sent without an answer)",
      registers: [registry],
      collect() {
        this.set(db.select({ n: sql<number>`count(*)` }).from(tasks).where(sql`${tasks.status} in ('pending', 'sent')`).get()?.n ?? 0);
      },
    });
    new Gauge({
      name: "sprout_task_queue_oldest_seconds",
      help: "Age of the oldest task still waiting",
      registers: [registry],
      collect() {
        const oldest = db.select({ at: sql<string | null>`min(${tasks.createdAt})` }).from(tasks).where(sql`${tasks.status} in ('pending', 'sent')`).get()?.at;
        this.set(oldest ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000) : 0);
      },
    });
    const nodes = () => db.select().from(agents).all();
    new Gauge({
      name: "sprout_agents",
      help: "Agents by state",
      labelNames: ["status"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of ["new", "online", "offline"]) this.set({ status: s }, 0);
        for (const a of nodes()) this.inc({ status: a.status });
      },
    });
    const fromReport = (name: string, help: string, pick: (s: Record<string, number>) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ["agent"],
        registers: [registry],
        collect() {
          this.reset();
          for (const a of nodes()) {
            const v = a.system ? pick(JSON.parse(a.system) as Record<string, number>) : undefined;
            if (typeof v === "number") this.set({ agent: a.name }, v);
          }
        },
      });
    fromReport("sprout_agent_disk_free_bytes", "Free disk of each agent's data folder, at its last heartbeat", (s) => s.disk_free);
    fromReport("sprout_agent_nginx_reloads_total", "nginx reloads of each agent since it started", (s) => s.nginx_reloads);
    fromReport("sprout_agent_sites", "Sites each agent holds", (s) => s.sites);
    new Gauge({
      name: "sprout_agent_last_heartbeat_seconds",
      help: "Seconds since each agent's last heartbeat",
      labelNames: ["agent"],
      registers: [registry],
      collect() {
        this.reset();
        for (const a of nodes()) if (a.lastHeartbeatAt) this.set({ agent: a.name }, Math.max(0, (Date.now() - Date.parse(a.lastHeartbeatAt)) / 1000));
      },
    });
  }

  /** deploymentFinished counts a deployment that went live (or ready) or failed. */
  deploymentFinished(status: "ready" | "failed", createdAt: string) {
    this.finished.inc({ status });
    this.duration.observe({ status }, Math.max(0, (Date.now() - Date.parse(createdAt)) / 1000));
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * assertMetricsAccess lets a scrape through with the configured bearer token, or, when none is
 * configured, only from a loopback or private address.
 */
export function assertMetricsAccess(authorization: string | null, clientIp: string, token: string | undefined) {
  if (token) {
    const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1] ?? "");
    const want = Buffer.from(token);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new SproutError(401, "unauthorized", "The metrics token is missing or wrong.", "Send Authorization: Bearer <--metrics-token>.");
    return;
  }
  if (!isPrivateAddress(clientIp))
    throw new SproutError(403, "forbidden", "Metrics are served to private addresses only.", "Scrape from your network, or start the master with --metrics-token.");
}

import { eq } from "drizzle-orm";
import type { Db } from "../../db";
import { agents, alerts, certificates, domains, placements, sites } from "../../db/schema";
import { createTransport, type Transporter } from "nodemailer";
import { logger } from "../../shared/log";
import { now } from "../config";

const log = logger("alerts");

/** AlertKind is what an alert is about. */
export type AlertKind = "node_down" | "disk_low" | "replicas_below_target" | "deploy_failed" | "certificate_failed" | "certificate_expiring";

/** CERT_EXPIRY_WARNING_MS: an active certificate this close to its end raises certificate_expiring (renewal starts at 30 days). */
const CERT_EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

/** Alert is one condition that started (firing) or ended (resolved). */
export interface Alert {
  kind: AlertKind;
  /** subject: the node, site or deployment it is about. */
  subject: string;
  status: "firing" | "resolved";
  message: string;
  at: string;
}

/**
 * AlertService watches the cluster and tells webhooks (generic JSON with a Slack-compatible `text`)
 * and email recipients (over SMTP, through nodemailer) when a condition starts and when it ends: a
 * node down, a node low on disk, a site with fewer replicas up than it should have, a failed
 * deployment, a certificate that failed or is about to expire. Firing alerts are rows, so each one
 * fires once and resolves once, also across master restarts. Deliveries are retried a few times.
 */
export class AlertService {
  private mail: Transporter | null;

  constructor(
    private db: Db,
    private o: { webhooks: string[]; diskLowBytes: number; email?: { to: string[]; from: string; smtpUrl: string } | null },
  ) {
    // STARTTLS is used when the server offers it (smtp://), or TLS from the start (smtps://).
    this.mail = o.email ? createTransport(o.email.smtpUrl) : null;
  }

  /** evaluate compares what holds now with the alerts firing, and sends the changes. Runs on a timer. */
  evaluate() {
    const want = new Map<string, { kind: AlertKind; subject: string; message: string }>();
    const nodes = this.db.select().from(agents).all();
    for (const a of nodes) {
      if (a.status === "offline") want.set(`node_down:${a.name}`, { kind: "node_down", subject: a.name, message: `Node ${a.name} is down: no heartbeat since ${a.lastHeartbeatAt ?? "ever"}.` });
      const disk = a.status === "online" && a.system ? (JSON.parse(a.system) as { disk_free: number }).disk_free : null;
      if (disk !== null && disk < this.o.diskLowBytes)
        want.set(`disk_low:${a.name}`, { kind: "disk_low", subject: a.name, message: `Node ${a.name} has ${Math.round(disk / 1e6)} MB of disk free.` });
    }
    const up = nodes.filter((a) => a.status === "online").length;
    const held = new Map<string, number>();
    const online = new Set(nodes.filter((a) => a.status === "online").map((a) => a.id));
    for (const p of this.db.select().from(placements).all()) if (online.has(p.agentId)) held.set(p.siteId, (held.get(p.siteId) ?? 0) + 1);
    for (const s of this.db.select().from(sites).all()) {
      const target = Math.min(s.replicas, up);
      const have = held.get(s.id) ?? 0;
      if (s.desiredDeploymentId && have < target)
        want.set(`replicas_below_target:${s.name}`, { kind: "replicas_below_target", subject: s.name, message: `Site ${s.name} is served by ${have} node(s) that are up; it should be ${target}.` });
    }
    const soon = new Date(Date.now() + CERT_EXPIRY_WARNING_MS).toISOString();
    for (const c of this.db.select({ name: domains.name, status: certificates.status, expiresAt: certificates.expiresAt, error: certificates.lastError }).from(certificates).innerJoin(domains, eq(domains.id, certificates.domainId)).all()) {
      if (c.status === "failed")
        want.set(`certificate_failed:${c.name}`, { kind: "certificate_failed", subject: c.name, message: `The certificate for ${c.name} could not be issued: ${(c.error ?? "unknown error").slice(0, 300)}` });
      else if (c.status === "active" && c.expiresAt && c.expiresAt < soon)
        want.set(`certificate_expiring:${c.name}`, { kind: "certificate_expiring", subject: c.name, message: `The certificate for ${c.name} expires at ${c.expiresAt} and has not been renewed.` });
    }
    const firing = new Map(this.db.select().from(alerts).all().map((a) => [a.key, a]));
    for (const [key, a] of want) {
      if (firing.has(key)) continue;
      this.db.insert(alerts).values({ key, kind: a.kind, subject: a.subject, message: a.message, firedAt: now() }).onConflictDoNothing().run();
      this.send({ kind: a.kind, subject: a.subject, status: "firing", message: a.message, at: now() });
    }
    for (const [key, a] of firing) {
      if (want.has(key)) continue;
      this.db.delete(alerts).where(eq(alerts.key, key)).run();
      this.send({ kind: a.kind as AlertKind, subject: a.subject, status: "resolved", message: `Resolved: ${a.message}`, at: now() });
    }
  }

  /**
   * deploymentFailed sends one alert for a failed deployment; the master calls it once, when the
   * deployment turns failed. It has no "resolved": the next deploy is the fix.
   */
  deploymentFailed(site: string, deploymentId: string, error: string) {
    this.send({ kind: "deploy_failed", subject: site, status: "firing", message: `Deployment ${deploymentId} of ${site} failed: ${error.slice(0, 500)}`, at: now() });
  }

  private send(a: Alert) {
    log.warn(`alert ${a.status}`, { kind: a.kind, subject: a.subject });
    const body = JSON.stringify({ ...a, text: `${a.status === "firing" ? "🔴" : "✅"} [sprout] ${a.message}` });
    for (const url of this.o.webhooks)
      void (async () => {
        for (let attempt = 0; attempt < 4; attempt++) {
          const ok = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
          if (ok) return;
          await Bun.sleep(1000 * 2 ** attempt);
        }
        log.error("alert webhook failed after 4 attempts", { url: new URL(url).host });
      })();
    if (this.mail && this.o.email) {
      const { to, from } = this.o.email;
      const mail = this.mail;
      void (async () => {
        for (let attempt = 0; attempt < 4; attempt++) {
          try {
            await mail.sendMail({ from, to, subject: `[sprout] ${a.status === "firing" ? "FIRING" : "resolved"}: ${a.kind.replaceAll("_", " ")} ${a.subject}`, text: `${a.message}\n\nKind: ${a.kind}\nSubject: ${a.subject}\nStatus: ${a.status}\nAt: ${a.at}\n` });
            return;
          } catch (e) {
            // nodemailer's messages name the server, not its password.
            if (attempt === 3) log.error("alert email failed after 4 attempts", { error: (e as Error).message.slice(0, 300) });
          }
          await Bun.sleep(1000 * 2 ** attempt);
        }
      })();
    }
  }
}

/** firingAlerts lists the conditions firing now, oldest first (the admin's settings page shows them). */
export function firingAlerts(db: Db): { kind: string; subject: string; message: string; fired_at: string }[] {
  return db.select().from(alerts).orderBy(alerts.firedAt).all().map((a) => ({ kind: a.kind, subject: a.subject, message: a.message, fired_at: a.firedAt }));
}

/**
 * testWebhooks sends one test alert to each webhook, once (no retries), and answers how each went,
 * by host only: a webhook's path is often its secret. The settings page's "Send a test alert".
 */
export async function testWebhooks(urls: string[]): Promise<{ host: string; ok: boolean; detail: string }[]> {
  const at = now();
  const body = JSON.stringify({ kind: "test", subject: "sprout", status: "firing", message: "Test alert sent from the Sprout admin UI.", at, text: "[sprout] Test alert sent from the Sprout admin UI." });
  return Promise.all(
    urls.map(async (url) => {
      const host = new URL(url).host;
      try {
        const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) });
        return { host, ok: r.ok, detail: `answered ${r.status}` };
      } catch (e) {
        return { host, ok: false, detail: (e as Error).name === "TimeoutError" ? "no answer within 10 s" : "could not be reached" };
      }
    }),
  );
}

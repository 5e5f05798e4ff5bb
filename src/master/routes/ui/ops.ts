import { Elysia } from "elysia";
import type { MasterConfig } from "../../config";
import { firingAlerts, testWebhooks } from "../../services/alerts";
import { fragment } from "../../../ui/render";
import type { Services } from "../../context";
import { respond, uiKit, view } from "./common";

/** AUDIT_LIMIT: entries the audit page shows at once (the newest). */
const AUDIT_LIMIT = 200;

/**
 * uiOps: the admin's audit log (filtered by action and person, as `sprout audit`) and the settings
 * page: how this master runs (flags), the alerts firing now, and a test alert to every webhook.
 */
export const uiOps = (s: Services) => {
  const { signedIn } = uiKit(s);
  const admin = { admin: true };
  return new Elysia({ name: "routes/ui/ops" })
    .get("/ui/audit", signedIn((req, sess) => {
      const q = new URL(req.url).searchParams;
      const filter = { action: (q.get("action") ?? "").trim().slice(0, 100), user: (q.get("user") ?? "").trim().slice(0, 254) };
      const entries = s.audit.list({ ...(filter.action ? { action: filter.action } : {}), ...(filter.user ? { user: filter.user } : {}), limit: AUDIT_LIMIT });
      return view(req, sess, "auditIndex", "Audit log", { entries, filter, limit: AUDIT_LIMIT }, "auditList");
    }, admin))
    .get("/ui/settings", signedIn((req, sess) =>
      view(req, sess, "settingsIndex", "Settings", { groups: settingsGroups(s.config), alerts: firingAlerts(s.db), webhooks: s.config.alertWebhooks.length }), admin))
    .post("/ui/settings/test-alert", signedIn(async (_req, sess, _p, _f, audit) => {
      const results = await testWebhooks(s.config.alertWebhooks);
      audit("alerts.test", `${results.length} webhook(s)`);
      return respond(sess, fragment("settingsTestAlert", { results }));
    }, admin));
};

type Item = { label: string; value: string; flag: string; env: string; help?: string };

/**
 * settingsGroups describes the master's configuration for the settings page. Webhook URLs often hold
 * a secret in their path (Slack's do), so only their hosts are shown; the metrics token is never shown.
 */
export function settingsGroups(c: MasterConfig): { id: string; title: string; items: Item[] }[] {
  const size = (n: number) => (n % 1024 ** 3 === 0 ? `${n / 1024 ** 3} GB` : `${Math.round(n / 1024 ** 2)} MB`);
  const secs = (n: number) => (n % 3600 === 0 ? `${n / 3600} h` : n % 60 === 0 ? `${n / 60} min` : `${n} s`);
  const hosts = (urls: string[]) => urls.map((u) => { try { return new URL(u).host; } catch { return "?"; } });
  return [
    { id: "platform", title: "Platform", items: [
      { label: "Platform domain", value: `${c.domain} (sites at NAME.${c.domain})`, flag: "domain", env: "SPROUT_DOMAIN" },
      { label: "Registration", value: c.registration === "open" ? "Open: anyone may create an account" : "Closed: the admin invites people (Users page)", flag: "registration", env: "SPROUT_REGISTRATION", help: "open or closed" },
      { label: "Session length", value: `access tokens live ${secs(c.accessTtl)}, logins ${secs(c.refreshTtl)}`, flag: "access-ttl", env: "SPROUT_ACCESS_TTL" },
      { label: "Trusted proxies", value: c.trustedProxies.length ? c.trustedProxies.join(", ") : "none: X-Forwarded-* headers are ignored", flag: "trusted-proxy", env: "SPROUT_TRUSTED_PROXY" },
    ] },
    { id: "https", title: "Custom domains and HTTPS", items: [
      { label: "Certificates (ACME)", value: c.acme ? `from ${c.acme.directory}, account ${c.acme.email}` : "off: custom domains are served over HTTP only", flag: "acme-directory", env: "SPROUT_ACME_DIRECTORY", help: "letsencrypt, letsencrypt-staging or a directory URL; with --acme-email" },
      { label: "DNS checks", value: `every ${secs(c.domainCheckEvery)}, asking ${c.dnsServer ? `${c.dnsServer.host}:${c.dnsServer.port}` : "the system's resolver"}`, flag: "domain-check-interval", env: "SPROUT_DOMAIN_CHECK_INTERVAL", help: "the resolver with --dns-server" },
    ] },
    { id: "alerting", title: "Alerts and monitoring", items: [
      { label: "Webhooks", value: c.alertWebhooks.length ? `${c.alertWebhooks.length} (${hosts(c.alertWebhooks).join(", ")})` : "none: alerts are only logged", flag: "alert-webhook", env: "SPROUT_ALERT_WEBHOOK", help: "JSON, Slack-compatible" },
      { label: "Low disk alert", value: `below ${size(c.alertDiskLowBytes)} free`, flag: "alert-disk-low", env: "SPROUT_ALERT_DISK_LOW" },
      { label: "Metrics", value: c.metricsToken ? "GET /metrics with its bearer token" : "GET /metrics from private addresses only", flag: "metrics-token", env: "SPROUT_METRICS_TOKEN" },
    ] },
    { id: "nodes", title: "Nodes and deploys", items: [
      { label: "A node is down after", value: `${secs(c.offlineAfter)} without a heartbeat`, flag: "offline-after", env: "SPROUT_OFFLINE_AFTER" },
      { label: "Sites move after", value: `${secs(c.healAfter)} of a node down`, flag: "heal-after", env: "SPROUT_HEAL_AFTER" },
      { label: "Abandoned uploads fail after", value: secs(c.uploadTtl), flag: "upload-ttl", env: "SPROUT_UPLOAD_TTL" },
    ] },
    { id: "quotas", title: "Default quotas per account", items: [
      { label: "Sites", value: String(c.quotas.sites), flag: "quota-sites", env: "SPROUT_QUOTA_SITES" },
      { label: "Deploys per hour", value: String(c.quotas.deploysPerHour), flag: "quota-deploys-per-hour", env: "SPROUT_QUOTA_DEPLOYS_PER_HOUR" },
      { label: "Stored bytes", value: size(c.quotas.bytes), flag: "quota-bytes", env: "SPROUT_QUOTA_BYTES" },
      { label: "Files per deployment", value: String(c.quotas.filesPerDeployment), flag: "quota-files", env: "SPROUT_QUOTA_FILES", help: "per-person overrides with PATCH /api/users/ID/quota" },
    ] },
  ];
}

import { Elysia, type AnyElysia } from "elysia";
import { clientOf } from "./client";
import { callerOf } from "./context";
import { MasterMetrics, assertMetricsAccess } from "./metrics";
import { AlertService } from "./services/alerts";
import { sites as sitesTable } from "../db/schema";
import { eq } from "drizzle-orm";
import { logger } from "../shared/log";

const log = logger("master");
import type { Db } from "../db";
import { errorResponse } from "../shared/http-errors";
import { checkContentLength, parseLimitedBody } from "./body-limit";
import type { MasterConfig } from "./config";
import { createServices, type Services } from "./context";
import { agentRoutes } from "./routes/agents";
import { deploymentRoutes } from "./routes/deployments";
import { siteRoutes } from "./routes/sites";
import { userRoutes } from "./routes/users";
import { uiRoutes } from "./routes/ui";
import { installRoutes } from "./routes/install";
import { quotaRoutes } from "./routes/quotas";
import { domainRoutes } from "./routes/domains";
import { startUploadExpiry } from "./jobs/upload-expiry";
import { OPENAPI_PATH, openApiDocument } from "./openapi";
import { SELF, compatible, peerOf, versionHeaders, versionMismatch } from "../protocol/version";

/**
 * SECURITY_HEADERS go on every answer; PAGE_HEADERS on the admin UI's (anything not under /api):
 * no framing (clickjacking a "Make production" button), no MIME sniffing, no full URLs to other sites.
 * The policy lets the pages run only the master's own script files: tenants' text (deploy messages,
 * log lines, file names) is escaped by the templates, and should one slip through, no inline script,
 * event handler or other origin's script runs, and no form posts elsewhere. The UI has none of those.
 * Pages are not stored (`no-store`): some show a secret once (a new token, a first password), and a
 * page of one account must not come back from the cache after logging out; answers that set their
 * own cache-control (the UI's static files) keep it.
 */
const SECURITY_HEADERS = { "x-content-type-options": "nosniff" };
const PAGE_HEADERS = {
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

/**
 * createMaster composes the master: services over one database, the API routes, and the background
 * jobs that mark silent agents offline, heal replicas and expire abandoned uploads. Tests use
 * `app.handle(new Request(...))` on it. Every body is read within its route's size limit
 * (body-limit.ts) before it is parsed.
 */
export async function createMaster({ db, config }: { db: Db; config: MasterConfig }) {
  const services = await createServices(db, config);
  // Deployments recorded before manifests were shared hold their JSON in their row: moved at start.
  services.deployments.manifests.convertLegacy();
  const metrics = new MasterMetrics(db);
  const alerts = new AlertService(db, { webhooks: config.alertWebhooks, diskLowBytes: config.alertDiskLowBytes, email: config.alertEmail });
  services.deployments.onFinished = (status, d) => {
    metrics.deploymentFinished(status, d.createdAt);
    if (status === "failed") alerts.deploymentFailed(db.select({ name: sitesTable.name }).from(sitesTable).where(eq(sitesTable.id, d.siteId)).get()?.name ?? "?", d.id, d.error ?? "unknown error");
  };
  // The OpenAPI route describes the app it belongs to, known once the app is built.
  let self: AnyElysia | null = null;
  const app = new Elysia()
    .onRequest(({ request, set }) => {
      Object.assign(set.headers, SECURITY_HEADERS, versionHeaders(), new URL(request.url).pathname.startsWith("/api/") ? {} : PAGE_HEADERS);
      checkVersion(request);
      checkContentLength(request);
    })
    .onParse(({ request, contentType }) => parseLimitedBody(request, contentType))
    .onError(({ code, error, path, request, body, server }) => {
      const res = errorResponse(code, error, path);
      // Failed logins are audited too: they are what an attack on accounts looks like.
      if (path === "/api/user/token" && res.status === 401)
        services.audit.record({ userId: null, action: "user.login", target: emailOf(body) ?? null, ip: clientOf(request, server?.requestIP(request)?.address, config.trustedProxies).ip, outcome: "failed" });
      return res;
    })
    // Every state-changing API request that succeeded: who (if known), what, on what, from where.
    .onAfterHandle(({ request, route, params, body, server }) => {
      const action = services.audit.actionOf(request.method, route);
      if (!action) return;
      const p = (params ?? {}) as Record<string, string | undefined>;
      const target = p.name ?? p.id ?? p.agent_id ?? siteOrNameOf(body) ?? emailOf(body);
      services.audit.record({ userId: callerOf(request) ?? null, action, target: target ?? null, ip: clientOf(request, server?.requestIP(request)?.address, config.trustedProxies).ip });
    })
    .get("/api/health", () => ({ ok: true as const }))
    // Alive: the process answers. Ready: it can write its database and its jobs are running.
    .get("/healthz", () => ({ ok: true as const }))
    .get("/readyz", ({ set }) => {
      const problems = readiness(db, lastJobRun);
      set.status = problems.length ? 503 : 200;
      return { ok: !problems.length, problems };
    })
    .get("/metrics", async ({ request, server, set }) => {
      assertMetricsAccess(request.headers.get("authorization"), clientOf(request, server?.requestIP(request)?.address, config.trustedProxies).ip, config.metricsToken);
      set.headers["content-type"] = metrics.registry.contentType;
      return metrics.text();
    })
    .get(OPENAPI_PATH, () => openApiDocument(self!))
    .use(userRoutes(services))
    .use(siteRoutes(services))
    .use(deploymentRoutes(services))
    .use(agentRoutes(services))
    .use(quotaRoutes(services))
    .use(installRoutes(services))
    .use(domainRoutes(services))
    .use(uiRoutes(services));
  self = app;
  let lastJobRun = Date.now();
  const health = setInterval(() => {
    services.agents.markStale();
    lastJobRun = Date.now();
  }, 2000);
  // Sites whose nodes stayed down get new replicas on the nodes that are up.
  const healing = setInterval(() => void services.deployments.heal(config.healAfter), 5000);
  const stopUploadExpiry = startUploadExpiry(services);
  const alerting = setInterval(() => {
    try {
      alerts.evaluate();
    } catch (e) {
      log.error("alert check failed", { error: (e as Error).message });
    }
  }, 5000);
  // Custom domains are re-checked: pending ones may have been set up, active ones may have moved away.
  const domainChecks = setInterval(() => void services.domains.checkAll(), config.domainCheckEvery * 1000);
  // Certificates: missing ones (after a failure's backoff) and those within 30 days of expiry.
  const renewals = services.acme ? setInterval(() => void services.acme!.renewDue(), 10_000) : null;
  if (services.acme) setTimeout(() => void services.acme?.renewDue(), 1000);
  return {
    app,
    services,
    stop() {
      clearInterval(health);
      clearInterval(healing);
      clearInterval(alerting);
      clearInterval(domainChecks);
      if (renewals) clearInterval(renewals);
      stopUploadExpiry();
    },
  };
}

const field = (body: unknown, k: string): string | undefined => {
  const v = body && typeof body === "object" ? (body as Record<string, unknown>)[k] : undefined;
  return typeof v === "string" ? v : undefined;
};
const emailOf = (body: unknown) => field(body, "email");
const siteOrNameOf = (body: unknown) => field(body, "site") ?? field(body, "name");

/**
 * checkVersion refuses a request from an agent or CLI whose protocol this master cannot work with
 * (they send their build in headers; browsers and scripts send none and are not checked), so that
 * neither side acts on a message it would misread.
 */
function checkVersion(request: Request) {
  const peer = peerOf(request.headers);
  if (!peer || compatible(SELF, peer)) return;
  const role = request.headers.get("user-agent")?.startsWith("sprout-agent/") ? "agent" : "CLI";
  throw versionMismatch(SELF, peer, role, new URL(request.url).origin);
}

/** readiness lists why the master is not ready: its database refuses writes, or its jobs stopped. */
function readiness(db: Db, lastJobRun: number): string[] {
  const problems: string[] = [];
  try {
    db.$client.exec("BEGIN IMMEDIATE; ROLLBACK");
  } catch (e) {
    problems.push(`database: ${(e as Error).message}`);
  }
  if (Date.now() - lastJobRun > 10_000) problems.push("scheduler: the node-health job has not run for 10 s");
  return problems;
}

export type { Services };

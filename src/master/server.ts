import { Elysia } from "elysia";
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
import { quotaRoutes } from "./routes/quotas";
import { domainRoutes } from "./routes/domains";
import { startUploadExpiry } from "./jobs/upload-expiry";

/**
 * SECURITY_HEADERS go on every answer; PAGE_HEADERS on the admin UI's (anything not under /api):
 * no framing (clickjacking a "Make production" button), no MIME sniffing, no full URLs to other sites.
 */
const SECURITY_HEADERS = { "x-content-type-options": "nosniff" };
const PAGE_HEADERS = {
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "referrer-policy": "same-origin",
};

/**
 * createMaster composes the master: services over one database, the API routes, and the background
 * jobs that mark silent agents offline, heal replicas and expire abandoned uploads. Tests use
 * `app.handle(new Request(...))` on it. Every body is read within its route's size limit
 * (body-limit.ts) before it is parsed.
 */
export async function createMaster({ db, config }: { db: Db; config: MasterConfig }) {
  const services = await createServices(db, config);
  const app = new Elysia()
    .onRequest(({ request, set }) => {
      Object.assign(set.headers, SECURITY_HEADERS, new URL(request.url).pathname.startsWith("/api/") ? {} : PAGE_HEADERS);
      checkContentLength(request);
    })
    .onParse(({ request, contentType }) => parseLimitedBody(request, contentType))
    .onError(({ code, error, path }) => errorResponse(code, error, path))
    .get("/api/health", () => ({ ok: true as const }))
    .use(userRoutes(services))
    .use(siteRoutes(services))
    .use(deploymentRoutes(services))
    .use(agentRoutes(services))
    .use(quotaRoutes(services))
    .use(domainRoutes(services))
    .use(uiRoutes(services));
  const health = setInterval(() => services.agents.markStale(), 2000);
  // Sites whose nodes stayed down get new replicas on the nodes that are up.
  const healing = setInterval(() => void services.deployments.heal(config.healAfter), 5000);
  const stopUploadExpiry = startUploadExpiry(services);
  // Custom domains are re-checked: pending ones may have been set up, active ones may have moved away.
  const domainChecks = setInterval(() => void services.domains.checkAll(), config.domainCheckEvery * 1000);
  // Certificates: missing ones (after a failure's backoff) and those within 30 days of expiry.
  const renewals = services.acme ? setInterval(() => void services.acme!.renewDue(), 30_000) : null;
  if (services.acme) setTimeout(() => void services.acme?.renewDue(), 1000);
  return {
    app,
    services,
    stop() {
      clearInterval(health);
      clearInterval(healing);
      clearInterval(domainChecks);
      if (renewals) clearInterval(renewals);
      stopUploadExpiry();
    },
  };
}

export type { Services };

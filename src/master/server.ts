import { Elysia } from "elysia";
import type { Db } from "../db";
import { errorResponse } from "../shared/http-errors";
import type { MasterConfig } from "./config";
import { createServices, type Services } from "./context";
import { agentRoutes } from "./routes/agents";
import { deploymentRoutes } from "./routes/deployments";
import { siteRoutes } from "./routes/sites";
import { userRoutes } from "./routes/users";
import { uiRoutes } from "./routes/ui";
import { quotaRoutes } from "./routes/quotas";
import { startUploadExpiry } from "./jobs/upload-expiry";

/**
 * createMaster composes the master: services over one database, the API routes, and the background
 * jobs that mark silent agents offline and expire abandoned uploads. Tests use `app.handle(new Request(...))` on it.
 */
export async function createMaster({ db, config }: { db: Db; config: MasterConfig }) {
  const services = await createServices(db, config);
  const app = new Elysia()
    .onError(({ code, error, path }) => errorResponse(code, error, path))
    .get("/api/health", () => ({ ok: true as const }))
    .use(userRoutes(services))
    .use(siteRoutes(services))
    .use(deploymentRoutes(services))
    .use(agentRoutes(services))
    .use(quotaRoutes(services))
    .use(uiRoutes(services));
  const health = setInterval(() => services.agents.markStale(), 2000);
  const stopUploadExpiry = startUploadExpiry(services);
  return {
    app,
    services,
    stop() {
      clearInterval(health);
      stopUploadExpiry();
    },
  };
}

export type { Services };

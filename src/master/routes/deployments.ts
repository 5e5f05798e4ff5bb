import { Elysia, t } from "elysia";
import { DeploymentCreate, StatusReport } from "../../protocol/deployment";
import type { Services } from "../context";
import { MAX_FOLLOW_WAIT_MS } from "../services/deployments";
import { apiCaller } from "../../ui/session";
import { clientOf } from "../client";

/** deploymentRoutes: create a deployment, read it with its log, and the agents' status reports. */
export const deploymentRoutes = (s: Services) =>
  new Elysia({ name: "routes/deployments" })
    .post("/api/deployment", async ({ body, request, server, set }) => {
      // A bearer token (CLI), or the admin UI's cookie session from its own origin (browser deploys).
      const secure = clientOf(request, server?.requestIP(request)?.address, s.config.trustedProxies).https;
      const u = await apiCaller(s, request, secure, body.site);
      set.status = 201;
      return s.deployments.create(u.userId, body);
    }, { body: DeploymentCreate })
    // `wait` (ms): answer at once if something happened after event `after`, else at the next event.
    .get("/api/deployment/:id", async ({ params, query, request }) =>
      s.deployments.follow((await s.user(request)).userId, params.id, query.after ?? 0, query.wait ?? 0, request.signal), { query: t.Object({ after: t.Optional(t.Numeric({ minimum: 0 })), wait: t.Optional(t.Numeric({ minimum: 0, maximum: MAX_FOLLOW_WAIT_MS })) }) })
    .post("/api/deployment/status", async ({ body, request }) => {
      await s.deployments.report((await s.agent(request)).agentId, body);
      return { ok: true as const };
    }, { body: StatusReport });

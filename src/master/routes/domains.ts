import { Elysia } from "elysia";
import { forbidden } from "../../shared/errors";
import type { Services } from "../context";

/** domainRoutes: the visitor path. Gateways' routes document (ETag: an unchanged one costs a 304). */
export const domainRoutes = (s: Services) =>
  new Elysia({ name: "routes/domains" })
    .get("/api/agent/routes", async ({ request, set }) => {
      const a = s.agents.get((await s.agent(request)).agentId);
      if (a.role !== "gateway") throw forbidden("Only gateways receive routes.", "Create a gateway with `sprout agents create NAME --role gateway`.");
      const routes = s.routes.build();
      set.headers.etag = `"${routes.version}"`;
      if (request.headers.get("if-none-match") === `"${routes.version}"`) {
        set.status = 304;
        return "";
      }
      return routes;
    });

import { Elysia } from "elysia";
import { DomainAdd } from "../../protocol/domain";
import { forbidden, notFound } from "../../shared/errors";
import type { Services } from "../context";

/**
 * domainRoutes: the visitor path. Users' custom domains; gateways' routes document (ETag: an
 * unchanged one costs a 304).
 */
export const domainRoutes = (s: Services) =>
  new Elysia({ name: "routes/domains" })
    .post("/api/domains", async ({ body, request, set }) => {
      const u = await s.user(request, body.site);
      set.status = 201;
      return s.domains.add(u.userId, body.name, body.site);
    }, { body: DomainAdd })
    .get("/api/domains", async ({ request }) => s.domains.list((await s.user(request)).userId))
    .get("/api/domains/:name", async ({ params, request }) => s.domains.info(s.domains.owned((await s.user(request)).userId, params.name)))
    .post("/api/domains/:name/check", async ({ params, request }) => s.domains.checkOnRequest(s.domains.owned((await s.user(request)).userId, params.name).id))
    .delete("/api/domains/:name", async ({ params, request }) => {
      s.domains.remove((await s.user(request)).userId, params.name);
      return { ok: true as const };
    })
    // HTTP-01 answers: gateways proxy /.well-known/acme-challenge/ here, so a challenge needs no reload.
    .get("/.well-known/acme-challenge/:token", ({ params, set }) => {
      const answer = s.acme?.challenge(params.token);
      if (!answer) throw notFound("Challenge");
      set.headers["content-type"] = "text/plain";
      return answer;
    })
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
    })
    // Nodes with --https-listen: the certificates of the domains of their own sites (ETag as above).
    .get("/api/agent/tls", async ({ request, set }) => {
      const a = s.agents.get((await s.agent(request)).agentId);
      if (a.role !== "node") throw forbidden("Only nodes receive certificates this way.", "Gateways read GET /api/agent/routes.");
      const tls = s.routes.forNode(a.id);
      set.headers.etag = `"${tls.version}"`;
      if (request.headers.get("if-none-match") === `"${tls.version}"`) {
        set.status = 304;
        return "";
      }
      return tls;
    });

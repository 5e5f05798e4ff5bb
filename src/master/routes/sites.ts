import { Elysia, t } from "elysia";
import { Cancel, Promote, Rollback } from "../../protocol/deployment";
import { SiteCreate, SiteRef, SitesPage, SiteUpdate } from "../../protocol/site";
import type { Services } from "../context";
import { badRequest } from "../../shared/errors";

/** siteRoutes: the caller's sites, their settings, deployments, promote and rollback. */
export const siteRoutes = (s: Services) =>
  new Elysia({ name: "routes/sites" })
    .post("/api/site", async ({ body, request, set }) => {
      const u = await s.user(request, body.name);
      set.status = 201;
      return s.sites.info(s.sites.create(u.userId, body.name, { spa: body.spa }, body.replicas));
    }, { body: SiteCreate })
    .delete("/api/site", async ({ body, request }) => {
      s.sites.remove((await s.user(request, body.name)).userId, body.name);
      return { ok: true as const };
    }, { body: SiteRef })
    .delete("/api/site/:name", async ({ params, request }) => {
      s.sites.remove((await s.user(request)).userId, params.name);
      return { ok: true as const };
    })
    .get("/api/sites", async ({ request, query, set }) => {
      const u = await s.user(request);
      const limit = query.limit ?? 100;
      // Checked here too: the compiled binary's validator lets a numeric query's bounds through.
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest("bad_limit", "limit must be a whole number from 1 to 1000.");
      const page = s.sites.page(u.userId, limit, query.cursor);
      if (page.next) {
        set.headers["x-next-cursor"] = page.next;
        set.headers.link = `</api/sites?limit=${limit}&cursor=${page.next}>; rel="next"`;
      }
      return s.sites.infos(page.rows);
    }, { query: SitesPage })
    .get("/api/site/:name", async ({ params, request }) => s.sites.info(s.sites.owned((await s.user(request)).userId, params.name)))
    .patch("/api/site/:name", async ({ params, body, request }) => s.sites.info(s.sites.update((await s.user(request)).userId, params.name, body)), { body: SiteUpdate })
    .get("/api/site/:name/traffic", async ({ params, query, request }) =>
      s.traffic.hours(s.sites.owned((await s.user(request)).userId, params.name).id, query.hours ?? 24), { query: t.Object({ hours: t.Optional(t.Numeric({ minimum: 1, maximum: 24 * 90 })) }) })
    .get("/api/site/:name/deployments", async ({ params, request }) => s.deployments.list((await s.user(request)).userId, params.name))
    .post("/api/site/:name/promote", async ({ params, body, request }) => s.deployments.promote((await s.user(request)).userId, params.name, body.deployment_id), { body: Promote })
    .post("/api/site/:name/cancel", async ({ params, body, request }) => {
      const u = await s.user(request);
      return s.deployments.cancel(u.userId, params.name, body.deployment_id, s.auth.user(u.userId).email);
    }, { body: Cancel })
    .post("/api/site/:name/rollback", async ({ params, body, request }) => s.deployments.rollback((await s.user(request)).userId, params.name, body?.deployment_id), { body: Rollback });

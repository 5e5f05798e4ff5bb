import { Elysia } from "elysia";
import { QuotaUpdate } from "../../protocol/quota";
import type { Services } from "../context";
import { requireAdmin } from "../services/auth";

/** quotaRoutes: an account's own quota and usage, and the admin's per-user overrides. */
export const quotaRoutes = (s: Services) =>
  new Elysia({ name: "routes/quotas" })
    .get("/api/user/quota", async ({ request }) => s.quotas.info((await s.user(request)).userId))
    .get("/api/users/:id/quota", async ({ params, request }) => {
      requireAdmin(await s.user(request));
      return s.quotas.info(params.id);
    })
    .patch("/api/users/:id/quota", async ({ params, body, request }) => {
      requireAdmin(await s.user(request));
      return s.quotas.set(params.id, body);
    }, { body: QuotaUpdate });

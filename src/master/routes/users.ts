import { Elysia } from "elysia";
import { AuditQuery } from "../../protocol/audit";
import { Ok } from "../../protocol/common";
import { ApiTokenCreate, Credentials, PasswordChange, RefreshRequest, UserCreate, UserDisable } from "../../protocol/user";
import { clientOf } from "../client";
import { forbidden } from "../../shared/errors";
import type { Services } from "../context";
import { requireAdmin, toUserInfo } from "../services/auth";

/** sessionOnly refuses API tokens on routes only a logged-in person may call (whatever the path's spelling). */
function sessionOnly<T extends { via: string }>(c: T): T {
  if (c.via === "api_token") throw forbidden("An API token cannot create tokens or change the password.", "Log in with `sprout login` to do this.");
  return c;
}

/** userRoutes: register (when open), log in, who am I, password, refresh, API tokens, and the admin's users (list, invite, disable). */
export const userRoutes = (s: Services) =>
  new Elysia({ name: "routes/users" })
    .post("/api/user", async ({ body, set }) => {
      set.status = 201;
      return s.auth.register(body.email, body.password);
    }, { body: Credentials })
    .post("/api/user/token", ({ body, request, server }) =>
      s.auth.login(body.email, body.password, clientOf(request, server?.requestIP(request)?.address, s.config.trustedProxies).ip), { body: Credentials })
    .get("/api/user/info", async ({ request }) => toUserInfo(s.auth.user((await s.user(request)).userId)))
    .post("/api/user/password", async ({ body, request }) => {
      const u = sessionOnly(await s.user(request));
      await s.auth.changePassword(u.userId, body.old_password, body.new_password);
      return { ok: true as const };
    }, { body: PasswordChange, response: { 200: Ok } })
    .post("/api/token/refresh", ({ body }) => s.auth.refresh(body.refresh_token), { body: RefreshRequest })
    .post("/api/token/revoke", ({ body }) => {
      s.auth.logout(body.refresh_token);
      return { ok: true as const };
    }, { body: RefreshRequest })
    .post("/api/tokens", async ({ body, request, set }) => {
      const u = sessionOnly(await s.user(request));
      set.status = 201;
      return s.apiTokens.create(u.userId, body);
    }, { body: ApiTokenCreate })
    .get("/api/tokens", async ({ request }) => s.apiTokens.list((await s.user(request)).userId))
    .delete("/api/tokens/:id", async ({ params, request }) => {
      s.apiTokens.revoke((await s.user(request)).userId, params.id);
      return { ok: true as const };
    })
    .post("/api/users", async ({ body, request, set }) => {
      requireAdmin(await s.user(request));
      const created = await s.auth.createUser(body.email, body.password);
      set.status = 201;
      return created;
    }, { body: UserCreate })
    .get("/api/users", async ({ request }) => {
      requireAdmin(await s.user(request));
      return s.auth.listUsers();
    })
    .post("/api/users/:id/disable", async ({ params, body, request }) => {
      requireAdmin(await s.user(request));
      return s.auth.setDisabled(params.id, body.disabled);
    }, { body: UserDisable })
    .get("/api/audit", async ({ request, query }) => {
      requireAdmin(await s.user(request));
      return s.audit.list(query);
    }, { query: AuditQuery });

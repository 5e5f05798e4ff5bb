import { Elysia } from "elysia";
import { SproutError } from "../../../shared/errors";
import { html, page } from "../../../ui/render";
import { checkSameOrigin, clearCookies, refreshToken, sessionCookies } from "../../../ui/session";
import type { Services } from "../../context";
import { redirect, uiKit, type Ctx } from "./common";

/** uiAuth: the login page, log out, and /ui/session (which refreshes the session's cookies). */
export const uiAuth = (s: Services) => {
  const { client, signedIn } = uiKit(s);
  const loginPage = (data: { error?: string | null; email?: string; info?: string | null }, status = 200) =>
    html(page("login", "Log in", null, { error: null, email: "", info: null, ...data }), status);
  return new Elysia({ name: "routes/ui/auth" })
    .get("/", ({ request }) => redirect(request, "/ui/sites"))
    .get("/ui", ({ request }) => redirect(request, "/ui/sites"))
    .get("/ui/login", ({ query }) => loginPage({ info: query.changed ? "Your password was changed. Log in with the new one." : null }))
    .post("/ui/login", async ({ request, body, server }: Ctx) => {
      checkSameOrigin(request);
      const form = (body ?? {}) as Record<string, string>;
      const who = client(request, server);
      const email = String(form.email ?? "").slice(0, 254);
      try {
        const pair = await s.auth.login(email, String(form.password ?? ""), who.ip);
        s.audit.record({ userId: null, action: "user.login", target: email, ip: who.ip });
        return redirect(request, "/ui/sites", sessionCookies(pair, who.https));
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        // A failed login through the page is audited as one through the API is: what an attack looks like.
        if (e.status === 401) s.audit.record({ userId: null, action: "user.login", target: email, ip: who.ip, outcome: "failed" });
        return loginPage({ error: e.message, email: String(form.email ?? "") }, e.status);
      }
    })
    .post("/ui/logout", ({ request, server }: Ctx) => {
      checkSameOrigin(request);
      const secure = client(request, server).https;
      const token = refreshToken(request, secure);
      if (token) s.auth.logout(token);
      return redirect(request, "/ui/login", clearCookies(secure));
    })
    // The deploy script calls this first: a session whose access token expired gets fresh cookies.
    .get("/ui/session", signedIn((_req, sess) => {
      const headers = new Headers({ "content-type": "application/json" });
      for (const c of sess.cookies) headers.append("set-cookie", c);
      return new Response(JSON.stringify({ email: sess.user.email }), { headers });
    }));
};

import { Elysia } from "elysia";
import htmxJs from "../../../node_modules/htmx.org/dist/htmx.min.js" with { type: "text" };
import appCss from "../../../public/app.css" with { type: "text" };
import { SproutError } from "../../shared/errors";
import { fragment, html, page, type TemplateName } from "../../ui/render";
import { checkSameOrigin, clearCookies, refreshToken, session, sessionCookies, type UiSession } from "../../ui/session";
import { clientOf } from "../client";
import type { Services } from "../context";

/** redirect answers htmx requests with HX-Redirect and plain ones with 303. */
function redirect(req: Request, to: string, cookies: string[] = []): Response {
  const headers = new Headers(req.headers.get("hx-request") ? { "hx-redirect": to } : { location: to });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: req.headers.get("hx-request") ? 200 : 303, headers });
}

/** view answers the fragment alone for htmx requests, else the whole page around it. */
function view(req: Request, sess: UiSession, name: TemplateName, title: string, data: Record<string, unknown>, pageName?: TemplateName): Response {
  let body: string;
  if (req.headers.get("hx-request")) body = fragment(name, data);
  else if (pageName) body = page(pageName, title, sess.user, { ...data, fragment: fragment(name, data) });
  else body = page(name, title, sess.user, data);
  const headers = new Headers({ "content-type": "text/html; charset=utf-8" });
  for (const c of sess.cookies) headers.append("set-cookie", c);
  return new Response(body, { headers });
}

/**
 * uiRoutes is the server-rendered admin UI (htmx): sites, deployments with their live log, promote
 * and rollback, and nodes. Pages call the same services as the API; nothing here holds logic.
 */
export const uiRoutes = (s: Services) => {
  type Server = { requestIP(r: Request): { address: string } | null } | null;
  const client = (req: Request, server: Server) => clientOf(req, server?.requestIP(req)?.address, s.config.trustedProxies);
  /** signedIn runs a page handler for a signed-in user; errors become an HTML page or fragment. */
  const signedIn =
    (f: (req: Request, sess: UiSession, params: Record<string, string>) => Promise<Response> | Response) =>
    async ({ request, params, server }: { request: Request; params: Record<string, string>; server: Server }) => {
      const sess = await session(s, request, client(request, server).https);
      if (!sess) return redirect(request, "/ui/login", clearCookies());
      try {
        if (request.method !== "GET") checkSameOrigin(request);
        return await f(request, sess, params ?? {});
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        // htmx gets the message as a fragment (200, so it is swapped in); a browser gets a page.
        if (request.headers.get("hx-request")) return html(`<p class="error" role="alert">${Bun.escapeHTML(e.message)}</p>`);
        return html(page("errorPage", "Error", sess.user, { heading: e.status === 404 ? "Not found" : "Error", message: e.message }), e.status);
      }
    };
  const deploymentsFragment = (userId: string, name: string, notice: { text: string; error?: boolean } | null) => {
    const site = s.sites.info(s.sites.owned(userId, name));
    return { site, deployments: s.deployments.list(userId, name), notice };
  };
  return new Elysia({ name: "routes/ui" })
    .get("/", ({ request }) => redirect(request, "/ui/sites"))
    .get("/ui/static/htmx.min.js", () => new Response(htmxJs, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=3600" } }))
    .get("/ui/static/app.css", () => new Response(appCss, { headers: { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" } }))
    .get("/ui/login", () => html(page("login", "Log in", null, { error: null, email: "" })))
    .post("/ui/login", async ({ request, body, server }) => {
      checkSameOrigin(request);
      const form = (body ?? {}) as Record<string, string>;
      try {
        const who = client(request, server);
        const pair = await s.auth.login(String(form.email ?? ""), String(form.password ?? ""), who.ip);
        return redirect(request, "/ui/sites", sessionCookies(pair, who.https));
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        return html(page("login", "Log in", null, { error: e.message, email: String(form.email ?? "") }), e.status);
      }
    })
    .post("/ui/logout", ({ request }) => {
      checkSameOrigin(request);
      const token = refreshToken(request);
      if (token) s.auth.logout(token);
      return redirect(request, "/ui/login", clearCookies());
    })
    .get("/ui/sites", signedIn((req, sess) => view(req, sess, "sitesIndex", "Sites", { sites: s.sites.list(sess.user.id).map((x) => s.sites.info(x)) })))
    .get("/ui/sites/:name", signedIn((req, sess, p) => view(req, sess, "deploymentsList", p.name!, deploymentsFragment(sess.user.id, p.name!, null), "sitesShow")))
    .post("/ui/sites/:name/promote/:id", signedIn(async (req, sess, p) => {
      s.deployments.promote(sess.user.id, p.name!, p.id!);
      // Activation is quick; wait a little so the list shows the outcome rather than a guess.
      let live = false;
      for (let i = 0; i < 50 && !live; i++) {
        await Bun.sleep(100);
        live = s.deployments.get(sess.user.id, p.id!).is_production;
      }
      const notice = live ? { text: `${p.id} is live on production.` } : { text: `${p.id} is not live yet; see its log.`, error: true };
      return view(req, sess, "deploymentsList", p.name!, deploymentsFragment(sess.user.id, p.name!, notice));
    }))
    .get("/ui/deployments/:id", signedIn((req, sess, p) => view(req, sess, "deploymentLog", `Deployment ${p.id}`, { d: s.deployments.get(sess.user.id, p.id!) }, "deploymentShow")))
    .get("/ui/deployments/:id/log", signedIn((req, sess, p) => view(req, sess, "deploymentLog", "", { d: s.deployments.get(sess.user.id, p.id!) }, "deploymentShow")))
    .get("/ui/nodes", signedIn((req, sess) => {
      if (!sess.user.is_admin) throw new SproutError(403, "forbidden", "Only the admin can see the nodes.");
      return view(req, sess, "nodesList", "Nodes", { agents: s.agents.list() }, "nodesIndex");
    }));
};

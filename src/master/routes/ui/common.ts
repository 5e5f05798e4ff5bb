import { SproutError, badRequest } from "../../../shared/errors";
import { page, html, fragment, type TemplateName, type Notice } from "../../../ui/render";
import { checkSameOrigin, clearCookies, session, type UiSession } from "../../../ui/session";
import { clientOf } from "../../client";
import type { Services } from "../../context";

/** Server is the part of Elysia's context that tells the client's address. */
export type Server = { requestIP(r: Request): { address: string } | null } | null;
/** Ctx is what a UI handler receives from Elysia. */
export type Ctx = { request: Request; params: Record<string, string>; body?: unknown; server: Server };
/** Audit records an action the signed-in user took through the UI in the audit log (as the API's are). */
export type Audit = (action: string, target: string | null) => void;
/** Handler runs a page or fragment for a signed-in user. */
export type Handler = (req: Request, sess: UiSession, params: Record<string, string>, form: Record<string, string>, audit: Audit) => Promise<Response> | Response;

/** redirect answers htmx requests with HX-Redirect and plain ones with 303. */
export function redirect(req: Request, to: string, cookies: string[] = []): Response {
  const hx = req.headers.get("hx-request");
  const headers = new Headers(hx ? { "hx-redirect": to } : { location: to });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: hx ? 200 : 303, headers });
}

/** respond answers HTML with the session's refreshed cookies, if any. */
export function respond(sess: UiSession, body: string, status = 200): Response {
  const headers = new Headers({ "content-type": "text/html; charset=utf-8" });
  for (const c of sess.cookies) headers.append("set-cookie", c);
  return new Response(body, { status, headers });
}

/** view answers `pageName` in the layout, or only the fragment `name` for htmx requests. */
export function view(req: Request, sess: UiSession, pageName: TemplateName, title: string, data: Record<string, unknown>, name?: TemplateName): Response {
  if (name && req.headers.get("hx-request")) return respond(sess, fragment(name, { user: sess.user, ...data }));
  return respond(sess, page(pageName, title, sess.user, data, new URL(req.url).pathname));
}

/** errorPage is the HTML page for an error (404 page included), never raw JSON. */
export function errorPage(user: UiSession["user"] | null, e: { status: number; message: string; hint?: string }): Response {
  const heading = e.status === 404 ? "Page not found" : e.status === 403 ? "Not allowed" : "Something went wrong";
  return html(page("errorPage", heading, user, { heading, message: e.message, hint: e.hint ?? null }), e.status);
}

/** attempt runs an action and answers its outcome as a notice: `ok` on success, the error's message (and hint) otherwise. */
export async function attempt(action: () => unknown, ok: string): Promise<Notice> {
  try {
    await action();
    return { text: ok };
  } catch (e) {
    if (!(e instanceof SproutError)) throw e;
    return { text: e.hint ? `${e.message} ${e.hint}` : e.message, error: true };
  }
}

/** field reads a trimmed form field. */
export const field = (form: Record<string, string>, name: string) => String(form[name] ?? "").trim();

/** wholeNumber reads an integer form field within bounds, or throws a 400 that names the field. */
export function wholeNumber(form: Record<string, string>, name: string, label: string, min: number, max: number): number {
  const n = Number(field(form, name));
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest("invalid_request", `${label} must be a whole number from ${min} to ${max}.`);
  return n;
}

/**
 * UiKit is what the UI's route files share: `signedIn` wraps a handler with the session check
 * (redirect to the login page when there is none), the same-origin check for anything but GET, and
 * HTML errors (a fragment for htmx, a page otherwise); `client` tells who is asking. A handler calls
 * its `audit` once its action succeeded: the UI's changes land in the same audit log as the API's.
 */
export function uiKit(s: Services) {
  const client = (req: Request, server: Server) => clientOf(req, server?.requestIP(req)?.address, s.config.trustedProxies);
  const signedIn =
    (f: Handler, opts: { admin?: boolean } = {}) =>
    async ({ request, params, body, server }: Ctx) => {
      const sess = await session(s, request, client(request, server).https);
      if (!sess) return redirect(request, "/ui/login", clearCookies(client(request, server).https));
      try {
        if (request.method !== "GET") checkSameOrigin(request);
        if (opts.admin && !sess.user.is_admin) throw new SproutError(403, "forbidden", "Only the admin can see this page.");
        const form = body && typeof body === "object" ? (body as Record<string, string>) : {};
        const audit: Audit = (action, target) =>
          s.audit.record({ userId: sess.user.id, action, target, ip: client(request, server).ip });
        return await f(request, sess, params ?? {}, form, audit);
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        if (request.headers.get("hx-request"))
          return respond(sess, `<p class="error" role="alert">${Bun.escapeHTML(e.message)}${e.hint ? ` ${Bun.escapeHTML(e.hint)}` : ""}</p>`, e.status);
        return errorPage(sess.user, e);
      }
    };
  return { client, signedIn };
}

import { Elysia } from "elysia";
import { SiteName } from "../../../protocol/common";
import type { ApiTokenScope } from "../../../protocol/user";
import { badRequest } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import { clearCookies, refreshToken, type UiSession } from "../../../ui/session";
import type { Services } from "../../context";
import { attempt, field, redirect, respond, uiKit, view } from "./common";

const SCOPES: ApiTokenScope[] = ["read", "deploy", "admin"];
const SITE_NAME = new RegExp(SiteName.pattern!);

/** uiAccount: change the password; where you are signed in (end a session, or all others); API tokens (create with scope, sites and expiry, shown once; revoke). */
export const uiAccount = (s: Services) => {
  const { signedIn } = uiKit(s);
  const tokensData = (userId: string, created: unknown = null, notice: Notice = null) => ({
    tokens: s.apiTokens.list(userId),
    sites: s.sites.list(userId).map((x) => x.name),
    created,
    notice,
  });
  /** sessionsData: the person's logins, and which one is this browser's (by its refresh cookie). */
  const sessionsData = (req: Request, sess: UiSession) => {
    const userId = sess.user.id;
    const token = refreshToken(req, sess.secure);
    return { sessions: s.auth.sessions(userId), current: token ? s.auth.sessionOf(token) : null };
  };
  return new Elysia({ name: "routes/ui/account" })
    .get("/ui/account", signedIn((req, sess) => view(req, sess, "accountIndex", "Account", sessionsData(req, sess))))
    .post("/ui/account/sessions/end-others", signedIn((req, sess, _p, _f, audit) => {
      const { sessions, current } = sessionsData(req, sess);
      const others = sessions.filter((x) => x.id !== current);
      for (const x of others) s.auth.endSession(sess.user.id, x.id);
      audit("user.sessions_end", sess.user.email);
      return respond(sess, fragment("accountSessions", { ...sessionsData(req, sess), notice: { text: `${others.length} other session(s) ended.` } }));
    }))
    .post("/ui/account/sessions/:id/end", signedIn(async (req, sess, p, _f, audit) => {
      const notice = await attempt(() => {
        if (p.id === sessionsData(req, sess).current) throw badRequest("invalid_request", "This is the session you are using: log out instead.");
        s.auth.endSession(sess.user.id, p.id!);
        audit("user.session_end", sess.user.email);
      }, "Session ended: it is signed out.");
      return respond(sess, fragment("accountSessions", { ...sessionsData(req, sess), notice }));
    }))
    .post("/ui/account/password", signedIn(async (req, sess, _p, form, audit) => {
      const notice = await attempt(async () => {
        if (field(form, "new_password").length < 8) throw badRequest("invalid_request", "The new password needs at least 8 characters.");
        await s.auth.changePassword(sess.user.id, String(form.old_password ?? ""), String(form.new_password ?? ""));
        audit("user.password", sess.user.email);
      }, "");
      if (notice?.error) return respond(sess, fragment("accountPassword", { notice }));
      // Every session ended with the change, this one too: log in again with the new password.
      return redirect(req, "/ui/login?changed=1", clearCookies(sess.secure));
    }))
    .get("/ui/tokens", signedIn((req, sess) => view(req, sess, "tokensIndex", "API tokens", tokensData(sess.user.id), "tokensPanel")))
    .post("/ui/tokens", signedIn((_req, sess, _p, form, audit) => {
      let created = null;
      let notice: Notice = null;
      try {
        const scope = (field(form, "scope") || "deploy") as ApiTokenScope;
        if (!SCOPES.includes(scope)) throw badRequest("invalid_request", "Scope must be read, deploy or admin.");
        const name = field(form, "name");
        if (!name || name.length > 100) throw badRequest("invalid_request", "Give the token a name (up to 100 characters).");
        const sites = field(form, "sites").split(/[\s,]+/).filter(Boolean);
        const bad = sites.find((x) => !SITE_NAME.test(x));
        if (bad) throw badRequest("invalid_request", `"${bad}" is not a site name.`);
        const days = field(form, "expires");
        if (days && !/^\d{1,4}$/.test(days)) throw badRequest("invalid_request", "Expires must be a number of days.");
        created = s.apiTokens.create(sess.user.id, { name, scope, ...(sites.length ? { sites } : {}), ...(days ? { expires_in: Number(days) * 86400 } : {}) });
        audit("token.create", name);
      } catch (e) {
        if (!(e instanceof Error) || !("status" in e)) throw e;
        notice = { text: e.message, error: true };
      }
      return respond(sess, fragment("tokensPanel", { user: sess.user, ...tokensData(sess.user.id, created, notice) }));
    }))
    .post("/ui/tokens/:id/revoke", signedIn(async (_req, sess, p, _f, audit) => {
      const notice = await attempt(() => {
        s.apiTokens.revoke(sess.user.id, p.id!);
        audit("token.revoke", p.id!);
      }, "Token revoked.");
      return respond(sess, fragment("tokensPanel", { user: sess.user, ...tokensData(sess.user.id, null, notice) }));
    }));
};

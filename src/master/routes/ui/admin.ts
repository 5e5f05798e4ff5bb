import { Elysia } from "elysia";
import type { AgentCreated } from "../../../protocol/agent";
import type { UserCreated } from "../../../protocol/user";
import { SproutError, badRequest } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import { liveFragment } from "../../../ui/live";
import type { Services } from "../../context";
import { field, respond, uiKit, view, type Server } from "./common";

/** uiAdmin: the admin's pages: users (list, invite), nodes (health, live; add one: shows the command to run) and the audit log. */
export const uiAdmin = (s: Services) => {
  const { signedIn, client } = uiKit(s);
  const admin = { admin: true };
  /** masterUrl is the master's address as this browser reaches it, for the node's start command. */
  const masterUrl = (req: Request, server: Server) => `${client(req, server).https ? "https" : "http"}://${req.headers.get("host") ?? new URL(req.url).host}`;
  const failed = (e: unknown): Notice => {
    if (!(e instanceof SproutError)) throw e;
    return { text: e.hint ? `${e.message} ${e.hint}` : e.message, error: true };
  };
  return new Elysia({ name: "routes/ui/admin" })
    .get("/ui/users", signedIn((req, sess) => view(req, sess, "usersIndex", "Users", { users: s.auth.listUsers() }, "usersPanel"), admin))
    .post("/ui/users", signedIn(async (_req, sess, _p, form) => {
      let created: UserCreated | null = null;
      let notice: Notice = null;
      try {
        const email = field(form, "email");
        if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw badRequest("invalid_request", "Enter the person's email address.");
        const password = String(form.password ?? "");
        if (password && password.length < 8) throw badRequest("invalid_request", "A first password needs at least 8 characters (or leave it empty).");
        created = await s.auth.createUser(email, password || undefined);
      } catch (e) {
        notice = failed(e);
      }
      return respond(sess, fragment("usersPanel", { users: s.auth.listUsers(), created, notice }));
    }, admin))
    // The audit log, newest first, filtered like `sprout audit --user --action`.
    .get("/ui/audit", signedIn((req, sess) => {
      const u = new URL(req.url).searchParams;
      const q = { user: u.get("user")?.trim().slice(0, 254) || undefined, action: u.get("action")?.trim().slice(0, 100) || undefined };
      return view(req, sess, "auditIndex", "Audit log", { q, entries: s.audit.list({ ...q, limit: 200 }) }, "auditList");
    }, admin))
    .get("/ui/nodes", signedIn((req, sess) => view(req, sess, "nodesIndex", "Nodes", { agents: s.agents.list(), masterUrl: "" }, "nodesList"), admin))
    .get("/ui/events/nodes", signedIn((req) => liveFragment(req.signal, () => fragment("nodesList", { agents: s.agents.list() }), { everyMs: 3000 }), admin))
    .post("/ui/nodes", signedIn((req, sess, _p, form) => {
      let created: AgentCreated | null = null;
      let notice: Notice = null;
      const name = field(form, "name");
      const url = field(form, "url");
      try {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) throw badRequest("invalid_request", "A node name is up to 63 letters, digits, dots, dashes or underscores.");
        if (url && !/^https?:\/\/[^\s/]+/.test(url)) throw badRequest("invalid_request", "The agent URL must start with http:// or https://.");
        created = s.agents.create(name, url || undefined);
      } catch (e) {
        notice = failed(e);
      }
      return respond(sess, fragment("nodesAdd", { created, notice, form: created ? { name: "", url: "" } : { name, url }, masterUrl: masterUrl(req, null) }));
    }, admin));
};

import { Elysia } from "elysia";
import type { AgentCreated } from "../../../protocol/agent";
import type { QuotaUpdate } from "../../../protocol/quota";
import type { UserCreated } from "../../../protocol/user";
import { parseSize } from "../../command";
import { SproutError, badRequest, notFound } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import { liveFragment } from "../../../ui/live";
import { sparkline } from "../../../ui/chart";
import type { Services } from "../../context";
import { attempt, field, respond, uiKit, view, type Server } from "./common";

/**
 * quotaChange reads the quota form: an empty field returns that limit to the master's default (null),
 * storage is a size such as 500M or 10G; every bad field is named at once.
 */
function quotaChange(form: Record<string, string>): QuotaUpdate {
  const problems: string[] = [];
  const count = (name: string, label: string) => {
    const v = field(form, name);
    if (!v) return null;
    const n = Number(v);
    if (Number.isInteger(n) && n >= 1 && n <= 1_000_000_000) return n;
    problems.push(`${label} must be a whole number from 1 to 1000000000, or empty for the default.`);
    return undefined;
  };
  const size = (name: string, label: string) => {
    const v = field(form, name);
    if (!v) return null;
    try {
      return parseSize(v, label);
    } catch {
      problems.push(`${label} must be a size such as 500M or 10G, or empty for the default.`);
      return undefined;
    }
  };
  const change = {
    sites: count("sites", "Sites"),
    deploys_per_hour: count("deploys_per_hour", "Deploys per hour"),
    bytes: size("bytes", "Storage"),
    files_per_deployment: count("files_per_deployment", "Files per deployment"),
  };
  if (problems.length) throw badRequest("invalid_request", problems.join(" "));
  return change as QuotaUpdate;
}

/**
 * uiAdmin: the admin's pages: users (list, invite, quotas) and nodes (health, live; add one: shows the
 * command to run; drain, put back, remove, rotate a node's token).
 */
export const uiAdmin = (s: Services) => {
  const { signedIn, client } = uiKit(s);
  const admin = { admin: true };
  /** masterUrl is the master's address as this browser reaches it, for the node's start command. */
  const masterUrl = (req: Request, server: Server) => `${client(req, server).https ? "https" : "http"}://${req.headers.get("host") ?? new URL(req.url).host}`;
  const failed = (e: unknown): Notice => {
    if (!(e instanceof SproutError)) throw e;
    return { text: e.hint ? `${e.message} ${e.hint}` : e.message, error: true };
  };
  /** nodes: every node with sparklines of its CPU and memory use over the last minutes. */
  const nodes = () =>
    s.agents.list().map((a) => {
      const h = s.nodeHistory.of(a.id);
      return { ...a, cpuSpark: sparkline(h.map((x) => x.cpu), "CPU"), memSpark: sparkline(h.map((x) => x.mem), "Memory in use") };
    });
  /** personOf finds an account by id (a 404 page when there is none). */
  const personOf = (id: string) => {
    const u = s.auth.listUsers().find((x) => x.id === id);
    if (!u) throw notFound("User", "Pick one from the Users page.");
    return u;
  };
  /** nodeNotice is a node action's outcome; a refused removal offers to remove anyway (dropping the only copies). */
  const nodeNotice = (n: Notice, name: string, offerForce = false) =>
    fragment("nodesNotice", { notice: n, name, offerForce });
  return new Elysia({ name: "routes/ui/admin" })
    .get("/ui/users", signedIn((req, sess) => view(req, sess, "usersIndex", "Users", { users: s.auth.listUsers() }, "usersPanel"), admin))
    .post("/ui/users", signedIn(async (_req, sess, _p, form, audit) => {
      let created: UserCreated | null = null;
      let notice: Notice = null;
      try {
        const email = field(form, "email");
        if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw badRequest("invalid_request", "Enter the person's email address.");
        const password = String(form.password ?? "");
        if (password && password.length < 8) throw badRequest("invalid_request", "A first password needs at least 8 characters (or leave it empty).");
        created = await s.auth.createUser(email, password || undefined);
        audit("user.invite", email);
      } catch (e) {
        notice = failed(e);
      }
      return respond(sess, fragment("usersPanel", { users: s.auth.listUsers(), created, notice }));
    }, admin))
    .get("/ui/users/:id", signedIn((req, sess, p) => {
      const person = personOf(p.id!);
      return view(req, sess, "userShow", person.email, { person, quota: s.quotas.info(person.id), defaults: s.config.quotas });
    }, admin))
    .post("/ui/users/:id/quota", signedIn(async (_req, sess, p, form, audit) => {
      const person = personOf(p.id!);
      const notice = await attempt(() => {
        s.quotas.set(person.id, quotaChange(form));
        audit("quota.update", person.email);
      }, `${person.email}'s quota is saved; it applies to their next site or deploy.`);
      return respond(sess, fragment("userQuota", { person, quota: s.quotas.info(person.id), defaults: s.config.quotas, notice, form: notice?.error ? form : null }));
    }, admin))
    .post("/ui/users/:id/disable", signedIn(async (_req, sess, p, form, audit) => {
      const disable = form.disabled === "true";
      let person = personOf(p.id!);
      const notice = await attempt(() => {
        person = s.auth.setDisabled(person.id, disable);
        audit(disable ? "user.disable" : "user.enable", person.email);
      }, disable ? `${person.email} is disabled: signed out everywhere, and their tokens fail until you enable the account. Their sites stay online.` : `${person.email} is enabled again: they can log in, and their API tokens work again.`);
      return respond(sess, fragment("userAccess", { person, notice }));
    }, admin))
    .get("/ui/nodes", signedIn((req, sess) => view(req, sess, "nodesIndex", "Nodes", { agents: nodes(), masterUrl: "" }, "nodesList"), admin))
    // Node lifecycle, as `sprout agents drain|undrain|remove|rotate-token`: the outcome goes to the
    // page's notice area; the list (live) shows the node's new state by itself.
    .post("/ui/nodes/:name/drain", signedIn(async (_req, sess, p, form, audit) => {
      const undo = form.undo === "true";
      const notice = await attempt(() => {
        const a = s.agents.drain(s.agents.byName(p.name!).id, undo);
        audit(undo ? "agent.undrain" : "agent.drain", a.name);
      }, undo ? `${p.name} is back in service: it takes new sites again.` : `${p.name} is draining: its sites get their copies elsewhere, then it shows as drained and can be removed.`);
      return respond(sess, nodeNotice(notice, p.name!));
    }, admin))
    .post("/ui/nodes/:name/remove", signedIn(async (_req, sess, p, form, audit) => {
      const force = form.force === "true";
      let onlyCopy = false;
      const notice = await attempt(() => {
        const id = s.agents.byName(p.name!).id;
        try {
          s.agents.remove(id, force);
        } catch (e) {
          onlyCopy = e instanceof SproutError && e.code === "only_copy";
          throw e;
        }
        s.nodeHistory.forget(id);
        audit("agent.remove", p.name!);
      }, `${p.name} is removed; its token no longer works.`);
      return respond(sess, nodeNotice(notice, p.name!, onlyCopy));
    }, admin))
    .post("/ui/nodes/:name/token", signedIn((req, sess, p, _f, audit) => {
      const created = s.agents.rotateToken(s.agents.byName(p.name!).id);
      audit("agent.rotate_token", created.name);
      return respond(sess, fragment("nodesToken", { created, masterUrl: masterUrl(req, null) }));
    }, admin))
    .get("/ui/events/nodes", signedIn((req, sess) => liveFragment(req.signal, () => fragment("nodesList", { agents: nodes() }), { everyMs: 3000, alive: sess.alive }), admin))
    .post("/ui/nodes", signedIn((req, sess, _p, form, audit) => {
      let created: AgentCreated | null = null;
      let notice: Notice = null;
      const name = field(form, "name");
      const url = field(form, "url").replace(/\/+$/, "");
      const role = form.role === "gateway" ? "gateway" : "node";
      try {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) throw badRequest("invalid_request", "A node name is up to 63 letters, digits, dots, dashes or underscores.");
        if (url && !/^https?:\/\/[^\s/]+/.test(url)) throw badRequest("invalid_request", "The agent URL must start with http:// or https://.");
        created = s.agents.create(name, url || undefined, role);
        audit("agent.create", name);
      } catch (e) {
        notice = failed(e);
      }
      return respond(sess, fragment("nodesAdd", { created: created && { ...created, role }, notice, form: created ? { name: "", url: "", role: "node", createdUrl: url } : { name, url, role }, masterUrl: masterUrl(req, null) }));
    }, admin));
};

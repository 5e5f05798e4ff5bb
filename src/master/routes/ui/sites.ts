import { Elysia } from "elysia";
import { SiteName } from "../../../protocol/common";
import { badRequest, SproutError } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import { deploymentWake, liveFragment } from "../../../ui/live";
import type { Services } from "../../context";
import { DEFAULT_REPLICAS } from "../../services/sites";
import { summarizeTraffic, TRAFFIC_HOURS, type TrafficRange } from "../../../ui/chart";
import { attempt, field, redirect, respond, uiKit, view, wholeNumber } from "./common";

/** noticeHtml is a one-line outcome for the page's notice area (the lists update by themselves). */
const noticeHtml = (n: Notice) => (n ? `<p class="${n.error ? "error" : "notice"}">${Bun.escapeHTML(n.text)}</p>` : "");

const SITE_NAME = new RegExp(SiteName.pattern!);

/**
 * uiSites: the sites list (live), creating a site, a site's page (production, nodes, deployments,
 * all live), its settings, promote and rollback, and deleting it with its name typed as confirmation.
 */
export const uiSites = (s: Services) => {
  const { signedIn } = uiKit(s);
  const owns = (userId: string, deploymentId: string) => {
    try {
      s.deployments.get(userId, deploymentId, Number.MAX_SAFE_INTEGER);
      return true;
    } catch {
      return false;
    }
  };
  const sitesData = (userId: string) => ({
    sites: s.sites.list(userId).map((row) => ({ ...s.sites.info(row), latest: s.deployments.list(userId, row.name)[0] ?? null })),
  });
  const siteData = (userId: string, name: string) => ({ site: s.sites.info(s.sites.owned(userId, name)), deployments: s.deployments.list(userId, name) });
  /** traffic is the site's traffic card's data for the range asked (24 h unless 7d). */
  const traffic = (userId: string, name: string, range: string | null) => {
    const r: TrafficRange = range === "7d" ? "7d" : "24h";
    return summarizeTraffic(s.traffic.hours(s.sites.owned(userId, name).id, TRAFFIC_HOURS[r]), r);
  };
  /** pageData is the site page's: the live part, traffic, and its custom domains. */
  const pageData = (userId: string, name: string) => ({
    ...siteData(userId, name),
    traffic: traffic(userId, name, null),
    domains: s.domains.list(userId).filter((d) => d.site === name),
    https: !!s.acme,
  });
  /** waitLive gives the nodes a moment to activate, so the answer shows the outcome rather than a guess. */
  const waitLive = async (userId: string, id: string) => {
    for (let i = 0; i < 50; i++) {
      if (s.deployments.get(userId, id, Number.MAX_SAFE_INTEGER).is_production) return true;
      await Bun.sleep(100);
    }
    return false;
  };
  const moved = async (userId: string, id: string): Promise<Notice> =>
    (await waitLive(userId, id)) ? { text: `${id} is live on production.` } : { text: `${id} is not live yet; see its log.`, error: true };

  return new Elysia({ name: "routes/ui/sites" })
    .get("/ui/sites", signedIn((req, sess) => view(req, sess, "sitesIndex", "Sites", sitesData(sess.user.id), "sitesList")))
    .get("/ui/events/sites", signedIn((req, sess) =>
      liveFragment(req.signal, () => fragment("sitesList", sitesData(sess.user.id)), { wake: deploymentWake(s, (id) => owns(sess.user.id, id)), alive: sess.alive })))
    .post("/ui/sites", signedIn(async (req, sess, _p, form, audit) => {
      const name = field(form, "name");
      const spa = form.spa === "true";
      let replicas = DEFAULT_REPLICAS;
      try {
        if (!SITE_NAME.test(name)) throw badRequest("invalid_request", "A site name is 1-63 lower-case letters, digits or single dashes, not starting or ending with a dash.");
        replicas = wholeNumber(form, "replicas", "Replicas", 1, 16);
        s.sites.create(sess.user.id, name, { spa }, replicas);
        audit("site.create", name);
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        return respond(sess, fragment("siteCreate", { form: { name, spa, replicas: form.replicas ?? replicas }, notice: { text: e.message, error: true } }));
      }
      return redirect(req, `/ui/sites/${name}`);
    }))
    .get("/ui/sites/:name", signedIn((req, sess, p) => view(req, sess, "sitesShow", p.name!, pageData(sess.user.id, p.name!), "siteLive")))
    .get("/ui/sites/:name/traffic", signedIn((req, sess, p) =>
      view(req, sess, "sitesShow", p.name!, { ...pageData(sess.user.id, p.name!), traffic: traffic(sess.user.id, p.name!, new URL(req.url).searchParams.get("range")) }, "siteTraffic")))
    .get("/ui/events/sites/:name", signedIn((req, sess, p) => {
      const site = s.sites.owned(sess.user.id, p.name!);
      const mine = (id: string) => {
        try {
          return s.deployments.get(sess.user.id, id, Number.MAX_SAFE_INTEGER).site === site.name;
        } catch {
          return false;
        }
      };
      // Node health changes without a deployment event: look again every few seconds as well.
      return liveFragment(req.signal, () => fragment("siteLive", siteData(sess.user.id, site.name)), { wake: deploymentWake(s, mine), everyMs: 5000, alive: sess.alive });
    }))
    .post("/ui/sites/:name/settings", signedIn(async (_req, sess, p, form, audit) => {
      const notice = await attempt(() => {
        s.sites.update(sess.user.id, p.name!, { spa: form.spa === "true", keep_http: form.keep_http === "true", hsts: form.hsts === "true", replicas: wholeNumber(form, "replicas", "Replicas", 1, 16) });
        audit("site.update", p.name!);
      }, "Settings saved; the nodes apply them within seconds.");
      return respond(sess, fragment("siteSettings", { site: s.sites.info(s.sites.owned(sess.user.id, p.name!)), notice }));
    }))
    .post("/ui/sites/:name/delete", signedIn((req, sess, p, form, audit) => {
      const site = s.sites.info(s.sites.owned(sess.user.id, p.name!));
      if (field(form, "confirm") !== site.name)
        return respond(sess, fragment("siteDelete", { site, notice: { text: `Type the site's name, ${site.name}, to delete it.`, error: true } }));
      s.sites.remove(sess.user.id, site.name);
      audit("site.delete", site.name);
      return redirect(req, "/ui/sites");
    }))
    .post("/ui/sites/:name/promote/:id", signedIn(async (_req, sess, p, _f, audit) => {
      let notice = await attempt(() => {
        s.deployments.promote(sess.user.id, p.name!, p.id!);
        audit("site.promote", p.name!);
      }, "");
      if (!notice?.error) notice = await moved(sess.user.id, p.id!);
      return respond(sess, noticeHtml(notice));
    }))
    .post("/ui/sites/:name/cancel/:id", signedIn(async (_req, sess, p, form, audit) => {
      const notice = await attempt(() => {
        s.deployments.cancel(sess.user.id, p.name!, p.id!, sess.user.email);
        audit("deployment.cancel", p.name!);
      }, `${p.id} is cancelled; nothing of it goes live.`);
      // The live view shows the change by its stream too; the answer carries it as well (out of band),
      // so the page is right at once even if a stream message crossed this answer.
      const fresh = form.from === "deployment"
        ? fragment("deploymentLog", { d: s.deployments.get(sess.user.id, p.id!), oob: true })
        : fragment("siteLive", { ...siteData(sess.user.id, p.name!), oob: true });
      return respond(sess, noticeHtml(notice) + fresh);
    }))
    .post("/ui/sites/:name/rollback", signedIn(async (_req, sess, p, _f, audit) => {
      let id = "";
      let notice = await attempt(() => {
        id = s.deployments.rollback(sess.user.id, p.name!).id;
        audit("site.rollback", p.name!);
      }, "");
      if (!notice?.error) notice = await moved(sess.user.id, id);
      return respond(sess, noticeHtml(notice));
    }));
};

import { Elysia } from "elysia";
import { SiteName } from "../../../protocol/common";
import { DomainName } from "../../../protocol/domain";
import { badRequest, notFound, SproutError } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import { deploymentWake, liveFragment } from "../../../ui/live";
import type { Services } from "../../context";
import { DEFAULT_REPLICAS } from "../../services/sites";
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
  const siteData = (userId: string, name: string) => ({ site: s.sites.info(s.sites.owned(userId, name)), deployments: s.deployments.list(userId, name), domains: domainsOf(userId, name) });
  const domainsOf = (userId: string, name: string) => s.domains.list(userId).filter((d) => d.site === name);
  const domainsCard = (userId: string, name: string, notice: Notice) => fragment("siteDomains", { site: s.sites.info(s.sites.owned(userId, name)), domains: domainsOf(userId, name), notice });
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
      liveFragment(req.signal, () => fragment("sitesList", sitesData(sess.user.id)), { wake: deploymentWake(s, (id) => owns(sess.user.id, id)) })))
    .post("/ui/sites", signedIn(async (req, sess, _p, form) => {
      const name = field(form, "name");
      const spa = form.spa === "true";
      let replicas = DEFAULT_REPLICAS;
      try {
        if (!SITE_NAME.test(name)) throw badRequest("invalid_request", "A site name is 1-63 lower-case letters, digits or single dashes, not starting or ending with a dash.");
        replicas = wholeNumber(form, "replicas", "Replicas", 1, 16);
        s.sites.create(sess.user.id, name, { spa }, replicas);
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
        return respond(sess, fragment("siteCreate", { form: { name, spa, replicas: form.replicas ?? replicas }, notice: { text: e.message, error: true } }));
      }
      return redirect(req, `/ui/sites/${name}`);
    }))
    .get("/ui/sites/:name", signedIn((req, sess, p) => view(req, sess, "sitesShow", p.name!, { ...siteData(sess.user.id, p.name!), traffic: s.traffic.hours(s.sites.owned(sess.user.id, p.name!).id, 24) }, "siteLive")))
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
      return liveFragment(req.signal, () => fragment("siteLive", siteData(sess.user.id, site.name)), { wake: deploymentWake(s, mine), everyMs: 5000 });
    }))
    .post("/ui/sites/:name/settings", signedIn(async (_req, sess, p, form) => {
      const notice = await attempt(() => s.sites.update(sess.user.id, p.name!, { spa: form.spa === "true", keep_http: form.keep_http === "true", hsts: form.hsts === "true", replicas: wholeNumber(form, "replicas", "Replicas", 1, 16) }), "Settings saved; the nodes apply them within seconds.");
      return respond(sess, fragment("siteSettings", { site: s.sites.info(s.sites.owned(sess.user.id, p.name!)), notice }));
    }))
    // Custom domains: the same service as `sprout domains` and /api/domains.
    .post("/ui/sites/:name/domains", signedIn(async (_req, sess, p, form) => {
      s.sites.owned(sess.user.id, p.name!);
      const name = field(form, "name").trim().toLowerCase();
      const notice = await attempt(async () => {
        if (!new RegExp(DomainName.pattern!).test(name)) throw badRequest("invalid_request", "A domain is a host name such as www.example.com.");
        const d = await s.domains.add(sess.user.id, name, p.name!);
        return d;
      }, `${name} added: create the DNS records shown; it is served once Sprout sees them.`);
      return respond(sess, domainsCard(sess.user.id, p.name!, notice));
    }))
    .post("/ui/sites/:name/domains/:domain/remove", signedIn(async (_req, sess, p) => {
      s.sites.owned(sess.user.id, p.name!);
      const notice = await attempt(() => {
        // Only a domain of this very site: the card must not remove another site's.
        if (!domainsOf(sess.user.id, p.name!).some((d) => d.name === p.domain)) throw notFound(`Domain ${p.domain} of ${p.name}`);
        s.domains.remove(sess.user.id, p.domain!);
      }, `${p.domain} removed.`);
      return respond(sess, domainsCard(sess.user.id, p.name!, notice));
    }))
    .post("/ui/sites/:name/delete", signedIn((req, sess, p, form) => {
      const site = s.sites.info(s.sites.owned(sess.user.id, p.name!));
      if (field(form, "confirm") !== site.name)
        return respond(sess, fragment("siteDelete", { site, notice: { text: `Type the site's name, ${site.name}, to delete it.`, error: true } }));
      s.sites.remove(sess.user.id, site.name);
      return redirect(req, "/ui/sites");
    }))
    .post("/ui/sites/:name/promote/:id", signedIn(async (_req, sess, p) => {
      let notice = await attempt(() => s.deployments.promote(sess.user.id, p.name!, p.id!), "");
      if (!notice?.error) notice = await moved(sess.user.id, p.id!);
      return respond(sess, noticeHtml(notice));
    }))
    .post("/ui/sites/:name/rollback", signedIn(async (_req, sess, p) => {
      let id = "";
      let notice = await attempt(() => (id = s.deployments.rollback(sess.user.id, p.name!).id), "");
      if (!notice?.error) notice = await moved(sess.user.id, id);
      return respond(sess, noticeHtml(notice));
    }));
};

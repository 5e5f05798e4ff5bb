import { Elysia } from "elysia";
import { DomainName } from "../../../protocol/domain";
import { badRequest, notFound } from "../../../shared/errors";
import { fragment, type Notice } from "../../../ui/render";
import type { Services } from "../../context";
import { attempt, field, respond, uiKit } from "./common";

const DOMAIN = new RegExp(DomainName.pattern!);

/**
 * uiDomains: a site's custom domains on its page: add one (answers the DNS records to create), see
 * each one's verification and certificate state, check its DNS now, remove it. The same service
 * calls as `sprout domains`; only the caller's own claims are listed or touched.
 */
export const uiDomains = (s: Services) => {
  const { signedIn } = uiKit(s);
  /** panel renders the card; the site is looked up as the caller's first, so another's is a 404. */
  const panel = (userId: string, siteName: string, notice: Notice = null, typed = "") => {
    const site = s.sites.owned(userId, siteName);
    const domains = s.domains.list(userId).filter((d) => d.site === site.name);
    return fragment("siteDomains", { site: { name: site.name }, domains, notice, typed, https: !!s.acme });
  };
  /** mine finds one of the site's domains by name, or throws the domains service's 404. */
  const mine = (userId: string, siteName: string, name: string) => {
    const row = s.domains.owned(userId, name);
    if (row.siteId !== s.sites.owned(userId, siteName).id) throw notFound(`Domain ${name} of site "${siteName}"`);
    return row;
  };
  return new Elysia({ name: "routes/ui/domains" })
    .post("/ui/sites/:name/domains", signedIn(async (_req, sess, p, form, audit) => {
      const name = field(form, "domain").toLowerCase().replace(/\.$/, "");
      const notice = await attempt(async () => {
        if (!DOMAIN.test(name)) throw badRequest("invalid_request", `"${name}" is not a host name: use one such as www.example.com.`);
        const d = await s.domains.add(sess.user.id, name, p.name!);
        audit("domain.add", name);
        return d;
      }, `${name} is added: create the DNS records below; Sprout checks them every few minutes.`);
      return respond(sess, panel(sess.user.id, p.name!, notice, notice?.error ? name : ""));
    }))
    .post("/ui/sites/:name/domains/:domain/check", signedIn(async (_req, sess, p) => {
      const notice = await attempt(async () => {
        const d = await s.domains.checkOnRequest(mine(sess.user.id, p.name!, p.domain!).id);
        if (d.status !== "active") throw badRequest("not_verified", `${d.name} is ${d.status}: ${d.last_error ?? "its DNS records are not there yet."}`);
      }, `${p.domain} is verified.`);
      return respond(sess, panel(sess.user.id, p.name!, notice));
    }))
    .post("/ui/sites/:name/domains/:domain/remove", signedIn(async (_req, sess, p, _f, audit) => {
      const notice = await attempt(() => {
        mine(sess.user.id, p.name!, p.domain!);
        s.domains.remove(sess.user.id, p.domain!);
        audit("domain.remove", p.domain!);
      }, `${p.domain} is removed; it is no longer served.`);
      return respond(sess, panel(sess.user.id, p.name!, notice));
    }));
};

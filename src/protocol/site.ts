import { t } from "elysia";
import { Id, SiteName } from "./common";

/** SiteSettings are a site's serving options, stored on the master and synchronised to its nodes. */
export const SiteSettings = t.Object({
  /** spa serves index.html for unknown paths that do not name an asset. */
  spa: t.Boolean(),
  /** keep_http: gateways keep serving the site's custom domains over plain HTTP once they have a certificate (default: redirect to HTTPS). */
  keep_http: t.Optional(t.Boolean()),
  /** hsts: gateways send Strict-Transport-Security (one year) with the site's HTTPS answers (opt-in: browsers then refuse HTTP for a year). */
  hsts: t.Optional(t.Boolean()),
});
export type SiteSettings = typeof SiteSettings.static;

/** Replicas is how many nodes serve a site (fewer while fewer nodes are up). */
export const Replicas = t.Integer({ minimum: 1, maximum: 16, error: "replicas must be a whole number from 1 to 16" });

/** SiteCreate is POST /api/site. */
export const SiteCreate = t.Object({ name: SiteName, spa: t.Optional(t.Boolean()), replicas: t.Optional(Replicas) });
export type SiteCreate = typeof SiteCreate.static;

/** SiteRef names a site in DELETE /api/site. */
export const SiteRef = t.Object({ name: SiteName });
export type SiteRef = typeof SiteRef.static;

/** SiteUpdate is PATCH /api/site/:name: only the given settings change. */
export const SiteUpdate = t.Object({ spa: t.Optional(t.Boolean()), replicas: t.Optional(Replicas), keep_http: t.Optional(t.Boolean()), hsts: t.Optional(t.Boolean()) });
export type SiteUpdate = typeof SiteUpdate.static;

/**
 * SitesPage is the query of GET /api/sites: up to `limit` sites (default 100), newest first, from
 * `cursor` on. The answer is the array of SiteInfo; when more follow, its `X-Next-Cursor` header
 * (and a `Link: <...>; rel="next"`) give the next page's cursor.
 */
export const SitesPage = t.Object({
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000 })),
  cursor: t.Optional(t.String({ maxLength: 200 })),
});
export type SitesPage = typeof SitesPage.static;

/** SiteInfo is a site as the API shows it. */
export const SiteInfo = t.Object({
  id: Id,
  name: SiteName,
  url: t.String(),
  settings: SiteSettings,
  production_deployment_id: t.Union([Id, t.Null()]),
  /** replicas: how many nodes should serve the site; nodes: the ones that hold it now. */
  replicas: t.Integer(),
  nodes: t.Array(t.Object({ name: t.String(), status: t.String(), up_to_date: t.Boolean() })),
  created_at: t.String(),
});
export type SiteInfo = typeof SiteInfo.static;

/** SiteTrafficHour is one hour of GET /api/site/:name/traffic: what every node served for the site. */
export const SiteTrafficHour = t.Object({
  hour: t.String(),
  requests: t.Integer(),
  bytes: t.Number(),
  s2xx: t.Integer(),
  s3xx: t.Integer(),
  s4xx: t.Integer(),
  s5xx: t.Integer(),
});
export type SiteTrafficHour = typeof SiteTrafficHour.static;

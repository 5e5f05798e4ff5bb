import { t } from "elysia";
import { Id, SiteName } from "./common";

/** SiteSettings are a site's serving options, stored on the master and synchronised to its nodes. */
export const SiteSettings = t.Object({
  /** spa serves index.html for unknown paths that do not name an asset. */
  spa: t.Boolean(),
});
export type SiteSettings = typeof SiteSettings.static;

/** SiteCreate is POST /api/site. */
export const SiteCreate = t.Object({ name: SiteName, spa: t.Optional(t.Boolean()) });
export type SiteCreate = typeof SiteCreate.static;

/** SiteRef names a site in DELETE /api/site. */
export const SiteRef = t.Object({ name: SiteName });
export type SiteRef = typeof SiteRef.static;

/** SiteUpdate is PATCH /api/site/:name: only the given settings change. */
export const SiteUpdate = t.Object({ spa: t.Optional(t.Boolean()) });
export type SiteUpdate = typeof SiteUpdate.static;

/** SiteInfo is a site as the API shows it. */
export const SiteInfo = t.Object({
  id: Id,
  name: SiteName,
  url: t.String(),
  settings: SiteSettings,
  production_deployment_id: t.Union([Id, t.Null()]),
  created_at: t.String(),
});
export type SiteInfo = typeof SiteInfo.static;
